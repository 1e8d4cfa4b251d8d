/**
 * Lookahead weight averaging in the trainer: the plan (start at 30 % of the run in whole epochs,
 * every 5 steps, rho growing as the cube of the progress), the recurrence over parameters and
 * batch-norm statistics against a run without it, the end-of-epoch copy, no allocation per update,
 * checkpoints, the errors of mismatched resumes, and resumes (interrupted, or killed and restarted
 * from the last epoch's checkpoint) that end with the bytes of an uninterrupted run.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sequential } from '@dlf/nn';
import { memory } from '@dlf/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointName, disposeCheckpoint, loadCheckpoint } from '../src/checkpoint.js';
import { resolveConfig, type TrainConfig } from '../src/config.js';
import { AbortError, UsageError } from '../src/errors.js';
import { fit } from '../src/fit.js';
import { Lookahead, lookaheadPlan, lookaheadRho } from '../src/lookahead.js';
import { RECIPES, type Recipe } from '../src/recipes.js';
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

type Snapshot = Map<string, Float32Array>;
const snapshot = (m: Sequential): Snapshot =>
  new Map([...m.stateDict()].map(([k, t]) => [k, Float32Array.from(t.toTypedArray() as Float32Array)]));

/** Every value equal (a NaN never is). */
const same = (a: Snapshot, b: Snapshot): boolean =>
  [...a].every(([k, v]) => v.every((x, i) => x === b.get(k)![i]));

describe('lookahead plan', () => {
  it("starts with the first epoch at or after 30 % of the run, on a multiple of 5 steps (airbench's 3 of 10 epochs)", () => {
    expect(lookaheadPlan(10, 48)).toEqual({ startEpoch: 3, totalSteps: 480, firstStep: 145 });
    expect(lookaheadPlan(4, 12)).toEqual({ startEpoch: 2, totalSteps: 48, firstStep: 25 });
    expect(lookaheadPlan(3, 7)).toEqual({ startEpoch: 1, totalSteps: 21, firstStep: 10 });
    // One epoch: 30 % rounds up to its end, so a one-epoch run never averages.
    expect(lookaheadPlan(1, 10).firstStep).toBeGreaterThan(10);
    expect(lookaheadRho(480, 480)).toBeCloseTo(0.95 ** 5, 15);
    expect(lookaheadRho(240, 480)).toBeCloseTo(0.95 ** 5 / 8, 15);
  });
});

describe('fit with lookahead', () => {
  // 96 examples in batches of 8: 12 steps per epoch, 48 in all; the slow copy is taken at step 25
  // (the first of epoch 3), averaged into at 30, 35, 40, 45.
  const options = {
    train: toyData(96),
    val: toyData(16, 2),
    epochs: 4,
    batchSize: 8,
    ...TOY_TRAINING,
  };
  const record = async (lookahead: boolean) => {
    const model = bnNet();
    const steps: Snapshot[] = [];
    const epochEnds: Snapshot[] = [];
    const r = await fit({
      ...options,
      model,
      lookahead,
      onEvent: (e) => {
        if (e.type === 'batch') steps.push(snapshot(model));
        if (e.type === 'epoch') epochEnds.push(snapshot(model));
      },
    });
    return { model, steps, epochEnds, r };
  };

  it('averages every 5 steps from 30 % of the run and continues from the average, BN statistics included', async () => {
    const plain = await record(false);
    const la = await record(true);
    const A = (s: number) => plain.steps[s - 1]!;
    const B = (s: number) => la.steps[s - 1]!;
    expect(la.r.steps).toBe(48);
    expect([...B(1).keys()]).toContain('1.runningMean');
    // Up to step 29 nothing changes the weights: the slow copy taken at step 25 is only a copy.
    for (let s = 1; s < 30; s++) expect(same(B(s), A(s))).toBe(true);
    // Step 30: slow = rho · slow(25) + (1 − rho) · fast(30), and the model continues from it.
    const rho = 0.95 ** 5 * (30 / 48) ** 3;
    for (const [k, got] of B(30)) {
      const slow = A(25).get(k)!;
      const fast = A(30).get(k)!;
      got.forEach((v, i) => expect(Math.abs(v - (rho * slow[i]! + (1 - rho) * fast[i]!))).toBeLessThan(1e-6));
    }
    expect(same(B(30), A(30))).toBe(false);
    // Epoch 3 ends on the slow weights of its last averaging (step 35): step 36 is dropped.
    expect(same(la.epochEnds[2]!, B(35))).toBe(true);
    expect(same(la.epochEnds[2]!, B(36))).toBe(false);
    // The run ends on the slow weights of step 45, which the last validation measured.
    expect(same(snapshot(la.model), B(45))).toBe(true);
    expect(la.r.history[3]!.valAccuracy).toBeGreaterThan(0.5);
    plain.model.dispose();
    la.model.dispose();
  });

  it('allocates no tensor per averaging step once the slow copy exists', () => {
    const model = bnNet();
    const lookahead = new Lookahead(model, 4, 12);
    lookahead.afterStep(2, 25);
    expect(lookahead.started).toBe(true);
    const before = memory();
    for (let s = 26; s <= 48; s++) lookahead.afterStep(s <= 36 ? 2 : 3, s);
    lookahead.endEpoch();
    const after = memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    lookahead.dispose();
    model.dispose();
  });

  it('stores the slow weights from its first averaging on, and refuses mismatched resumes', async () => {
    const dir = tempDir('dlf-lookahead-fit-');
    const model = bnNet();
    try {
      await fit({ ...options, model, lookahead: true, checkpoints: { dir } });
      const before = await loadCheckpoint(join(dir, 'ckpt-e0002'));
      const after = await loadCheckpoint(join(dir, 'ckpt-e0003'));
      try {
        expect(before.ema).toBeUndefined();
        expect(after.ema?.meta).toMatchObject({ type: 'lookahead', every: 5, startEpoch: 2, firstStep: 25 });
        // At an epoch's end the model is the slow weights.
        for (const [k, t] of after.ema!.tensors) {
          expect([...(t.toTypedArray() as Float32Array)]).toEqual([
            ...(after.model.get(k)!.toTypedArray() as Float32Array),
          ]);
        }
        // Before the slow copy a checkpoint needs none; after it, the average must be a lookahead one.
        await fit({ ...options, model: bnNet(), lookahead: true, resume: before });
        await expect(fit({ ...options, model, ema: { decay: 0.9 }, resume: after })).rejects.toThrow(
          /is a lookahead average, not an exponential moving average/,
        );
        const plainDir = tempDir('dlf-lookahead-plain-');
        await fit({ ...options, model: bnNet(), epochs: 3, checkpoints: { dir: plainDir } });
        const plain = await loadCheckpoint(join(plainDir, 'ckpt-e0003'));
        await expect(fit({ ...options, model, lookahead: true, resume: plain })).rejects.toThrow(
          /has no lookahead average \(ema\.safetensors\) though this run's lookahead starts at step 25/,
        );
        disposeCheckpoint(plain);
        const emaDir = tempDir('dlf-lookahead-ema-');
        await fit({
          ...options,
          model: bnNet(),
          epochs: 1,
          ema: { decay: 0.9 },
          checkpoints: { dir: emaDir },
        });
        const ema = await loadCheckpoint(join(emaDir, 'ckpt-e0001'));
        await expect(fit({ ...options, model, lookahead: true, resume: ema })).rejects.toThrow(
          /keeps an exponential moving average of the weights, not a lookahead average/,
        );
        disposeCheckpoint(ema);
        cleanup(plainDir);
        cleanup(emaDir);
      } finally {
        disposeCheckpoint(before);
        disposeCheckpoint(after);
      }
      await expect(fit({ ...options, model, lookahead: true, ema: { decay: 0.9 } })).rejects.toThrow(
        /ema and lookahead both average the weights/,
      );
      await expect(fit({ ...options, model, lookahead: 'yes' as never })).rejects.toThrow(/lookahead/);
      expect(() => resolveConfig({ lookahead: true, ema: 0.99 })).toThrow(UsageError);
      expect(resolveConfig({ lookahead: true, ema: 0 }).lookahead).toBe(true);
      // A recipe's weight averaging yields to the other kind given explicitly.
      const recipes = RECIPES as Map<string, Recipe>;
      recipes.set('test-lookahead', {
        name: 'test-lookahead',
        description: '',
        settings: { lookahead: true },
      });
      recipes.set('test-ema', { name: 'test-ema', description: '', settings: { ema: 0.99 } });
      try {
        const withEma = resolveConfig({ recipe: 'test-lookahead', ema: 0.9 });
        expect([withEma.ema, withEma.lookahead]).toEqual([0.9, undefined]);
        expect(resolveConfig({ recipe: 'test-lookahead' }).lookahead).toBe(true);
        const withLookahead = resolveConfig({ recipe: 'test-ema', lookahead: true });
        expect([withLookahead.ema, withLookahead.lookahead]).toEqual([undefined, true]);
      } finally {
        recipes.delete('test-lookahead');
        recipes.delete('test-ema');
      }
    } finally {
      cleanup(dir);
      model.dispose();
    }
  });
});

describe('train with lookahead', () => {
  let dir: string;
  let data: string;
  let reference: string;
  let modelJson: string;
  // 72 images in batches of 8: 9 steps per epoch, 36 in all; the slow copy is taken at step 20
  // (epoch 3, batch 2), averaged into at 25, 30 and 35.
  const config = (): Partial<TrainConfig> => ({
    data,
    model: modelJson,
    size: 16,
    batchSize: 8,
    epochs: 4,
    seed: 7,
    lr: 0.05,
    schedule: 'onecycle',
    augment: ['crop', 'flip'],
    lookahead: true,
  });
  const bytes = (file: string): Buffer => readFileSync(file);
  const sameAsReference = (run: string): void => {
    expect(bytes(join(run, 'model.safetensors')).equals(bytes(join(reference, 'model.safetensors')))).toBe(
      true,
    );
    for (const file of ['model.safetensors', 'ema.safetensors', 'optimizer.safetensors']) {
      expect(bytes(join(run, 'ckpt-e0004', file)).equals(bytes(join(reference, 'ckpt-e0004', file)))).toBe(
        true,
      );
    }
  };

  beforeAll(async () => {
    dir = tempDir('dlf-lookahead-train-');
    isolateCache(dir);
    data = await makeShapes(join(dir, 'shapes'), { train: 24, test: 6 });
    // The tiny model (dropout included) with a batch norm after its convolution.
    modelJson = writeTinyBnModel(dir);
    reference = join(dir, 'reference');
    await train(config(), { out: reference, threads: 1 });
  });
  afterAll(() => cleanup(dir));

  it('interrupted mid-epoch, before and after the slow copy, resumes to the bytes of an uninterrupted run', async () => {
    for (const [epoch, batch] of [
      [2, 3],
      [3, 4],
    ] as const) {
      const run = join(dir, `interrupted-${epoch}-${batch}`);
      const err = await train(config(), { out: run, threads: 1, ...abortAt(epoch, batch) }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AbortError);
      expect(existsSync(join(run, checkpointName(epoch - 1, batch), 'ema.safetensors'))).toBe(epoch === 3);
      await train({}, { resume: run, threads: 1 });
      sameAsReference(run);
    }
  });

  it('killed mid-epoch and restarted from the last epoch checkpoint, ends with the same bytes', async () => {
    const run = join(dir, 'killed');
    await train(config(), { out: run, threads: 1, ...abortAt(4, 5) }).catch((e: unknown) => e);
    // What a SIGKILL at that batch leaves: no checkpoint of the partial epoch, `last` at epoch 3.
    rmSync(join(run, checkpointName(3, 5)), { recursive: true });
    writeFileSync(join(run, 'last'), 'ckpt-e0003\n');
    await expect(train({ lookahead: false }, { resume: run, threads: 1 })).rejects.toThrow(
      /--lookahead \(false\) differs from the run being resumed \(true\)/,
    );
    await train({}, { resume: run, threads: 1 });
    sameAsReference(run);
  });
});
