/**
 * Weight averaging (EMA) in the trainer: the average follows the recurrence over every optimizer
 * step (parameters and batch-norm statistics), validation and the returned model use it, and a run
 * interrupted mid-epoch resumes to the same bytes as an uninterrupted one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalize } from '@dlf/data';
import type { Sequential } from '@dlf/nn';
import { loadSafetensors } from '@dlf/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeCheckpoint, loadCheckpoint } from '../src/checkpoint.js';
import { resolveConfig, type TrainConfig } from '../src/config.js';
import { AbortError, UsageError } from '../src/errors.js';
import { evaluate } from '../src/evaluate.js';
import { fit } from '../src/fit.js';
import { train } from '../src/train.js';
import {
  abortAt,
  bnNet,
  cleanup,
  isolateCache,
  makeShapes,
  TOY_TRAINING,
  tempDir,
  toyData,
  writeTinyBnModel,
} from './helpers.js';

const snapshot = (m: Sequential): Map<string, Float64Array> =>
  new Map([...m.stateDict()].map(([k, t]) => [k, Float64Array.from(t.toTypedArray() as Float32Array)]));

describe('fit with ema', () => {
  it('keeps decay · average + (1 − decay) · weights over every step, of parameters and BN statistics', async () => {
    const model = bnNet();
    const decay = 0.6;
    const average = snapshot(model);
    const raw: Map<string, Float64Array>[] = [];
    let step = 0;
    const r = await fit({
      model,
      train: toyData(48),
      val: toyData(16, 2),
      epochs: 2,
      batchSize: 8,
      ...TOY_TRAINING,
      ema: { decay },
      onEvent: (e) => {
        if (e.type !== 'batch') return;
        const weights = snapshot(model);
        raw.push(weights);
        const d = Math.min(decay, (1 + step) / (10 + step));
        for (const [k, a] of average) {
          const w = weights.get(k)!;
          for (let i = 0; i < a.length; i++) a[i] = d * a[i]! + (1 - d) * w[i]!;
        }
        step++;
      },
    });
    expect(r.steps).toBe(12);
    const final = snapshot(model);
    expect([...final.keys()]).toContain('1.runningMean');
    for (const [k, a] of average) {
      const got = final.get(k)!;
      for (let i = 0; i < a.length; i++) expect(Math.abs(got[i]! - a[i]!)).toBeLessThan(1e-5);
    }
    // The model now holds the average, not the last weights.
    const last = raw.at(-1)!.get('0.weight')!;
    expect(final.get('0.weight')!.some((v, i) => Math.abs(v - last[i]!) > 1e-4)).toBe(true);
    // The last epoch's validation measured the average, which the model now holds.
    const v = await evaluate(model, toyData(16, 2), { transforms: [normalize(0.3, 0.3)] });
    expect(r.history[1]!.valAccuracy).toBe(v.accuracy);
    expect(r.history[1]!.valLoss).toBe(v.loss);
    model.dispose();
  });

  it('rejects a decay outside (0, 1) before training, and a checkpoint without an average', async () => {
    const model = bnNet();
    const base = {
      model,
      train: toyData(8),
      epochs: 1,
      optimizer: { name: 'sgd' as const, lr: 0.05, momentum: 0.9, weightDecay: 0 },
    };
    for (const decay of [0, 1, -0.5, Number.NaN]) {
      await expect(fit({ ...base, ema: { decay } })).rejects.toThrow(/ema\.decay/);
    }
    expect(() => resolveConfig({ ema: 1 })).toThrow(UsageError);
    expect(() => resolveConfig({ ema: -0.1 })).toThrow(/--ema/);
    expect(resolveConfig({ ema: 0 }).ema).toBe(0);
    const dir = tempDir('dlf-ema-fit-');
    try {
      await fit({ ...base, checkpoints: { dir } });
      const plain = await loadCheckpoint(join(dir, 'ckpt-e0001'));
      expect(plain.ema).toBeUndefined();
      await expect(fit({ ...base, epochs: 2, resume: plain, ema: { decay: 0.9 } })).rejects.toThrow(
        /has no weight average/,
      );
      disposeCheckpoint(plain);
    } finally {
      cleanup(dir);
      model.dispose();
    }
  });
});

describe('train with ema', () => {
  let dir: string;
  let data: string;
  let reference: string;
  const config = (model: string): Partial<TrainConfig> => ({
    data,
    model,
    size: 16,
    batchSize: 8,
    epochs: 3,
    seed: 7,
    lr: 0.05,
    schedule: 'onecycle',
    augment: ['crop', 'flip'],
    ema: 0.8,
  });
  const bytes = (file: string): Buffer => readFileSync(file);
  let modelJson: string;

  beforeAll(async () => {
    dir = tempDir('dlf-ema-train-');
    isolateCache(dir);
    data = await makeShapes(join(dir, 'shapes'), { train: 24, test: 6 });
    // The tiny model with a batch norm after its convolution, so running statistics are averaged.
    modelJson = writeTinyBnModel(dir);
    reference = join(dir, 'reference');
    await train(config(modelJson), { out: reference, threads: 1 });
  });
  afterAll(() => cleanup(dir));

  it('saves the average as the model and stores it in every checkpoint', async () => {
    const last = await loadCheckpoint(join(reference, 'ckpt-e0003'));
    try {
      expect(last.ema?.meta).toMatchObject({ type: 'EMA', decay: 0.8, updates: 27 });
      const saved = await loadSafetensors(join(reference, 'model.safetensors'));
      for (const [k, t] of last.ema!.tensors) {
        expect([...(saved.tensors.get(k)!.toTypedArray() as Float32Array)]).toEqual([
          ...(t.toTypedArray() as Float32Array),
        ]);
      }
      const raw = last.model.get('0.weight')!.toTypedArray() as Float32Array;
      const avg = last.ema!.tensors.get('0.weight')!.toTypedArray() as Float32Array;
      expect(raw.some((v, i) => v !== avg[i])).toBe(true);
      for (const t of saved.tensors.values()) t.dispose();
    } finally {
      disposeCheckpoint(last);
    }
  });

  it('interrupted mid-epoch and resumed, ends with the same bytes as an uninterrupted run', async () => {
    const run = join(dir, 'interrupted');
    const err = await train(config(modelJson), { out: run, threads: 1, ...abortAt(2, 4) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AbortError);
    await expect(train({ ema: 0.9 }, { resume: run, threads: 1 })).rejects.toThrow(
      /--ema \(0.9\) differs from the run being resumed \(0.8\)/,
    );
    await train({}, { resume: run, threads: 1 });
    expect(bytes(join(run, 'model.safetensors')).equals(bytes(join(reference, 'model.safetensors')))).toBe(
      true,
    );
    for (const file of ['model.safetensors', 'ema.safetensors', 'optimizer.safetensors']) {
      expect(bytes(join(run, 'ckpt-e0003', file)).equals(bytes(join(reference, 'ckpt-e0003', file)))).toBe(
        true,
      );
    }
  });
});
