import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphModule, readModelFile } from '@dlf/nn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig, type TrainConfig } from '../src/config.js';
import { AbortError } from '../src/errors.js';
import { train } from '../src/train.js';
import { abortAt, cleanup, graphFixture } from './helpers.js';

let dir: string;
let data: string;
let model: string;

/** A small residual graph: conv-BN-ReLU stem, a residual block with dropout, pooling, a classifier. */
const RESIDUAL = {
  format: 'dlf.graph',
  version: 1,
  nodes: [
    {
      name: 'stem',
      op: 'Conv2d',
      inputs: ['input'],
      attrs: { inChannels: 3, outChannels: 6, kernelSize: 3, padding: 1, bias: false },
    },
    { name: 'stem_bn', op: 'BatchNorm2d', inputs: ['stem'], attrs: { numFeatures: 6 } },
    { name: 'stem_act', op: 'ReLU', inputs: ['stem_bn'] },
    { name: 'pool', op: 'MaxPool2d', inputs: ['stem_act'], attrs: { kernelSize: 2 } },
    {
      name: 'res1',
      op: 'Conv2d',
      inputs: ['pool'],
      attrs: { inChannels: 6, outChannels: 6, kernelSize: 3, padding: 1 },
    },
    { name: 'res1_act', op: 'ReLU', inputs: ['res1'] },
    { name: 'drop', op: 'Dropout', inputs: ['res1_act'], attrs: { p: 0.2 } },
    {
      name: 'res2',
      op: 'Conv2d',
      inputs: ['drop'],
      attrs: { inChannels: 6, outChannels: 6, kernelSize: 3, padding: 1 },
    },
    { name: 'sum', op: 'Add', inputs: ['pool', 'res2'] },
    { name: 'gap', op: 'GlobalAvgPool2d', inputs: ['sum'] },
    { name: 'fc', op: 'Linear', inputs: ['gap'], attrs: { inFeatures: 6, outFeatures: 3 } },
  ],
  output: 'fc',
};

beforeAll(async () => {
  ({ dir, data, model } = await graphFixture('dlf-graph-train-', RESIDUAL));
});
afterAll(() => cleanup(dir));

const config = (): Partial<TrainConfig> => ({
  data,
  model,
  size: 16,
  batchSize: 8,
  epochs: 3,
  seed: 5,
  lr: 0.05,
  nesterov: true,
  labelSmoothing: 0.1,
  schedule: 'onecycle',
  augment: ['crop', 'flip'],
  tta: true,
});
const bytes = (run: string): Buffer => readFileSync(join(run, 'model.safetensors'));

describe('a residual graph model in the trainer', () => {
  let reference: string;
  beforeAll(async () => {
    reference = join(dir, 'reference');
    await train(config(), { out: reference, threads: 1 });
  });

  it('trains from a dlf.graph description and saves a graph model file', async () => {
    const { model: loaded, info } = await readModelFile(join(reference, 'model.safetensors'));
    expect(loaded).toBeInstanceOf(GraphModule);
    expect(info.classes).toEqual(['circle', 'cross', 'square']);
    expect((loaded as GraphModule).toJSON().nodes.map((n) => n.name)).toContain('sum');
    loaded.dispose();
  });

  it('checkpoints and resumes exactly (interrupted mid-epoch, with Nesterov, smoothing, one-cycle)', async () => {
    const run = join(dir, 'interrupted');
    const err = await train(config(), { out: run, threads: 1, ...abortAt(2, 4) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    await train({}, { resume: run, threads: 1 });
    expect(bytes(run).equals(bytes(reference))).toBe(true);
  });
});

describe('recipes', () => {
  it('fill in the settings not given; explicit settings win', () => {
    const c = resolveConfig({ data, recipe: 'cifar10-fast', epochs: 2, tta: false });
    expect(c).toMatchObject({
      model: 'fast-cifar',
      epochs: 2,
      batchSize: 1024,
      optimizer: 'sgd',
      nesterov: true,
      bnLrScale: 64,
      labelSmoothing: 0.2,
      schedule: 'onecycle',
      augment: ['alternating-flip', 'crop'],
      cropPadding: 2,
      valSplit: 0,
      lookahead: true,
      tta: false,
    });
    expect(resolveConfig({ data, recipe: 'cifar10-fast' }).tta).toBe('flip-translate');
    expect(() => resolveConfig({ data, recipe: 'imagenet-in-a-minute' })).toThrow(/--recipe/);
    expect(() => resolveConfig({ data, augment: ['flip', 'alternating-flip'] })).toThrow(
      /flip or alternating-flip, not both/,
    );
  });
});

describe('flip test-time augmentation', () => {
  it('mirrors each row of a batch', async () => {
    const { mirrored } = await import('../src/evaluate.js');
    const { tensor } = await import('@dlf/tensor-core');
    const x = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [1, 1, 2, 3] });
    expect([...(mirrored(x).toTypedArray() as Float32Array)]).toEqual([3, 2, 1, 6, 5, 4]);
  });
});
