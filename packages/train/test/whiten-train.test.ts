/**
 * The trainer with a whitening stem and batch-norm learning-rate scaling: a fresh model's stem is
 * fitted to the training data before the first step and stays frozen; a resumed run does not refit
 * (it continues bit for bit); a model file being fine-tuned keeps its fitted stem; lookahead leaves
 * frozen parameters bit for bit as they were; `bnLrScale` splits the optimizer into two groups.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchNorm2d, buildPreset, readModelFile, Whiten2d } from '@dlf/nn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainConfig } from '../src/config.js';
import { AbortError } from '../src/errors.js';
import { paramGroups } from '../src/optim-adapter.js';
import { train } from '../src/train.js';
import { abortAt, cleanup, graphFixture, makeShapes } from './helpers.js';

let dir: string;
let data: string;
let model: string;

/** A whitening stem, a conv with a shift-only BN, pooling and a classifier. */
const WHITENED = {
  format: 'dlf.graph',
  version: 1,
  nodes: [
    { name: 'whiten', op: 'Whiten2d', inputs: ['input'], attrs: { inChannels: 3, kernelSize: 2 } },
    { name: 'whiten_act', op: 'ReLU', inputs: ['whiten'] },
    {
      name: 'conv',
      op: 'Conv2d',
      inputs: ['whiten_act'],
      attrs: { inChannels: 24, outChannels: 8, kernelSize: 3, padding: 1, bias: false },
    },
    { name: 'bn', op: 'BatchNorm2d', inputs: ['conv'], attrs: { numFeatures: 8, scale: false } },
    { name: 'act', op: 'ReLU', inputs: ['bn'] },
    { name: 'gap', op: 'GlobalAvgPool2d', inputs: ['act'] },
    { name: 'fc', op: 'Linear', inputs: ['gap'], attrs: { inFeatures: 8, outFeatures: 3 } },
  ],
  output: 'fc',
};

beforeAll(async () => {
  ({ dir, data, model } = await graphFixture('dlf-whiten-train-', WHITENED));
});
afterAll(() => cleanup(dir));

const config = (): Partial<TrainConfig> => ({
  data,
  model,
  size: 16,
  batchSize: 8,
  epochs: 2,
  seed: 3,
  lr: 0.05,
  bnLrScale: 16,
  schedule: 'onecycle',
  augment: ['flip'],
  lookahead: true,
});

async function stem(file: string): Promise<{ weight: number[]; bnScale: number[] }> {
  const { model: m } = await readModelFile(file);
  const w = m.modules().find((l) => l instanceof Whiten2d) as Whiten2d;
  const bn = m.modules().find((l) => l instanceof BatchNorm2d) as BatchNorm2d;
  const out = {
    weight: [...(w.weight.toTypedArray() as Float32Array)],
    bnScale: [...(bn.weight!.toTypedArray() as Float32Array)],
  };
  m.dispose();
  return out;
}

describe('training a model with a whitening stem', () => {
  let reference: string;
  beforeAll(async () => {
    reference = join(dir, 'reference');
    await train(config(), { out: reference, threads: 1 });
  });

  it('fits the stem to the data (not the random kernels it was built with) and keeps it frozen', async () => {
    const fitted = await stem(join(reference, 'model.safetensors'));
    const fresh = new Whiten2d(3, 2);
    expect(fitted.weight).not.toEqual([...(fresh.weight.toTypedArray() as Float32Array)]);
    // Fitted kernels come in ± pairs; training would have broken the pairing.
    const half = fitted.weight.length / 2;
    fitted.weight.slice(0, half).forEach((v, i) => expect(fitted.weight[half + i]).toBe(-v));
    expect(fitted.bnScale).toEqual(new Array(8).fill(1));
  });

  it('resumes exactly without refitting the stem', async () => {
    const run = join(dir, 'interrupted');
    const err = await train(config(), { out: run, threads: 1, ...abortAt(1, 2) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    await train({}, { resume: run, threads: 1 });
    const bytes = (r: string): Buffer => readFileSync(join(r, 'model.safetensors'));
    expect(bytes(run).equals(bytes(reference))).toBe(true);
  });

  it('keeps the fitted stem of a model file it fine-tunes on other data', async () => {
    const run = join(dir, 'finetuned');
    const other = await makeShapes(join(dir, 'other'), { train: 5, test: 2 });
    await train(
      { ...config(), data: other, model: join(reference, 'model.safetensors'), epochs: 1 },
      { out: run, threads: 1 },
    );
    expect((await stem(join(run, 'model.safetensors'))).weight).toEqual(
      (await stem(join(reference, 'model.safetensors'))).weight,
    );
  });
});

describe('paramGroups', () => {
  it('puts every batch-norm parameter in a group at bnLrScale times the rate, decay divided', () => {
    const net = buildPreset('fast-cifar', { classes: 10 });
    const groups = paramGroups(net, 64, 1e-3) as {
      params: unknown[];
      lrScale?: number;
      weightDecay?: number;
    }[];
    const bn = net.modules().filter((m) => m instanceof BatchNorm2d);
    expect(groups).toHaveLength(2);
    expect(groups[1]!.params).toHaveLength(bn.length * 2);
    expect(groups[1]).toMatchObject({ lrScale: 64, weightDecay: 1e-3 / 64 });
    expect(groups[0]!.params.length + groups[1]!.params.length).toBe(net.parameters().length);
    expect(paramGroups(net, 1, 1e-3)).toEqual(net.parameters());
    net.dispose();
  });
});
