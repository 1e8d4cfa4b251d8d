import { crossEntropy } from '@dlf/loss';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, seedCnn } from '@dlf/nn';
import { Generator, randint, randn, tidy } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { AbortError } from '../src/errors.js';
import { classMetrics, evaluate } from '../src/evaluate.js';
import { fit } from '../src/fit.js';
import { createTraining, type Training } from '../src/optim-adapter.js';
import { softmax } from '../src/predict.js';
import { TOY_TRAINING, toyData } from './helpers.js';

const mlp = () => {
  const g = new Generator(4);
  return new Sequential(
    new Flatten(),
    new Linear(64, 16, { generator: g }),
    new ReLU(),
    new Linear(16, 2, { generator: g }),
  );
};

describe('fit', () => {
  it('learns a toy problem and reports epochs', async () => {
    const model = mlp();
    const events: string[] = [];
    const r = await fit({
      model,
      train: toyData(128),
      val: toyData(32, 2),
      epochs: 3,
      batchSize: 16,
      ...TOY_TRAINING,
      onEvent: (e) => events.push(e.type),
    });
    expect(r.history).toHaveLength(3);
    expect(r.steps).toBe(24);
    expect(r.history[2]!.valAccuracy).toBeGreaterThan(0.9);
    expect(events.filter((e) => e === 'epoch')).toHaveLength(3);
    model.dispose();
  });

  it('does not block the event loop and stops on an AbortSignal', async () => {
    const model = seedCnn({ classes: 2, inChannels: 1, inputSize: 8 });
    const ac = new AbortController();
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
      if (ticks === 3) ac.abort();
    }, 1);
    const err = await fit({
      model,
      train: toyData(4096),
      epochs: 50,
      batchSize: 8,
      optimizer: { name: 'sgd', lr: 0.01, momentum: 0, weightDecay: 0 },
      signal: ac.signal,
    }).catch((e: unknown) => e);
    clearInterval(timer);
    expect(err).toBeInstanceOf(AbortError);
    expect(ticks).toBeGreaterThanOrEqual(3); // timers ran while training
    model.dispose();
  });

  it('stops early after `earlyStop` epochs without a better validation result', async () => {
    const model = mlp();
    // With a zero learning rate nothing improves after the first epoch.
    const r = await fit({
      model,
      train: toyData(64),
      val: toyData(16, 2),
      epochs: 30,
      batchSize: 16,
      optimizer: { name: 'sgd', lr: 0, momentum: 0, weightDecay: 0 },
      earlyStop: 2,
    });
    expect(r.stoppedEarly).toBe(true);
    expect(r.history).toHaveLength(3);
    expect(r.bestEpoch).toBe(1);
    model.dispose();
  });

  it('names a diverging run', async () => {
    const model = mlp();
    await expect(
      fit({
        model,
        train: toyData(64),
        epochs: 5,
        batchSize: 16,
        optimizer: { name: 'sgd', lr: 1e30, momentum: 0.9, weightDecay: 0 },
      }),
    ).rejects.toThrow(/training diverged, so lower the learning rate/);
    model.dispose();
  });

  it('stops at the first step when a weight behind a ReLU is NaN', async () => {
    // Conv2d + ReLU + MaxPool2d run as one fused op: a ReLU that turned NaN into 0 would hide the
    // broken channel and let the run train on (and save) a model with a NaN weight.
    const g = new Generator(5);
    const model = new Sequential(
      new Conv2d(1, 4, 3, { padding: 1, generator: g }),
      new ReLU(),
      new MaxPool2d(2),
      new Flatten(),
      new Linear(64, 2, { generator: g }),
    );
    const weight = (model.layers[0] as Conv2d).weight;
    const w = weight.toTypedArray() as Float32Array;
    w[4] = Number.NaN;
    weight.write(w);
    await expect(
      fit({ model, train: toyData(32), epochs: 1, batchSize: 16, ...TOY_TRAINING }),
    ).rejects.toThrow(/The training loss became NaN at epoch 1, step 1/);
    model.dispose();
  });
});

describe('optimizer adapter', () => {
  function run(t: Training, model: Sequential, g: Generator, steps: number): number[] {
    const lrs: number[] = [];
    for (let s = 0; s < steps; s++) {
      const x = randn([4, 1, 8, 8], 0, 1, { generator: g });
      const y = randint([4], 0, 3, { generator: g, dtype: 'int32' });
      lrs.push(t.lr);
      tidy(() => {
        t.zeroGrad();
        crossEntropy(model.forward(x), y).backward();
        t.step();
      });
      x.dispose();
      y.dispose();
    }
    return lrs;
  }
  const same = (a: Sequential, b: Sequential): boolean =>
    [...a.stateDict()].every(([k, t]) =>
      Buffer.from((t.toTypedArray() as Float32Array).buffer).equals(
        Buffer.from((b.stateDict().get(k)!.toTypedArray() as Float32Array).buffer),
      ),
    );

  for (const [opt, sched] of [
    ['sgd', 'cosine'],
    ['adam', 'step'],
    ['adamw', 'linear'],
  ] as const) {
    it(`${opt} with a ${sched} schedule: saved and restored state continues bit for bit`, () => {
      const cfg = { name: opt, lr: opt === 'sgd' ? 0.05 : 1e-3, momentum: 0.9, weightDecay: 1e-3 };
      const a = seedCnn({ classes: 3, inChannels: 1, inputSize: 8, seed: 1 });
      const b = seedCnn({ classes: 3, inChannels: 1, inputSize: 8, seed: 1 });
      const ta = createTraining(a.parameters(), cfg, { name: sched }, 8, 2);
      const tb = createTraining(b.parameters(), cfg, { name: sched }, 8, 2);
      const lrs = run(ta, a, new Generator(3), 8);
      const g = new Generator(3);
      run(tb, b, g, 3);
      const saved = tb.stateDict();
      const tc = createTraining(b.parameters(), cfg, { name: sched }, 8, 2);
      tc.loadStateDict(saved);
      for (const t of saved.tensors.values()) t.dispose();
      const rest = run(tc, b, g, 5);
      expect(same(a, b)).toBe(true);
      expect(rest).toEqual(lrs.slice(3));
      expect(lrs[0]).toBe(cfg.lr);
      if (sched !== 'step') expect(lrs[7]!).toBeLessThan(cfg.lr / 4);
      a.dispose();
      b.dispose();
    });
  }

  it('the onecycle schedule works for runs of any length, a few steps included', () => {
    const cfg = { name: 'sgd' as const, lr: 0.2, momentum: 0.9, weightDecay: 0 };
    for (let total = 1; total <= 12; total++) {
      const model = mlp();
      const t = createTraining(model.parameters(), cfg, { name: 'onecycle' }, total, total);
      const lrs: number[] = [];
      for (let i = 0; i < total; i++) {
        lrs.push(t.lr);
        t.zeroGrad();
        t.step();
      }
      expect(
        lrs.every((lr) => Number.isFinite(lr) && lr > 0 && lr <= cfg.lr + 1e-12),
        `${total} steps`,
      ).toBe(true);
      model.dispose();
    }
  });

  it('a longer run than planned rebuilds the schedule for the new length', () => {
    const model = mlp();
    const cfg = { name: 'sgd' as const, lr: 0.1, momentum: 0, weightDecay: 0 };
    const short = createTraining(model.parameters(), cfg, { name: 'cosine' }, 4, 2);
    for (let i = 0; i < 2; i++) {
      short.zeroGrad();
      short.step();
    }
    const long = createTraining(model.parameters(), cfg, { name: 'cosine' }, 8, 2);
    long.loadStateDict(short.stateDict());
    expect(long.stepCount).toBe(2);
    expect(long.lr).toBeCloseTo(0.1 * 0.5 * (1 + Math.cos((Math.PI * 2) / 8)), 12);
    model.dispose();
  });

  it('Adam follows PyTorch on one step', () => {
    const model = new Sequential(new Linear(1, 1, { bias: false }));
    const w = model.parameters()[0]!;
    w.data()[0] = 1;
    const t = createTraining(
      model.parameters(),
      { name: 'adam', lr: 0.1, momentum: 0, weightDecay: 0 },
      { name: 'constant' },
      10,
      1,
    );
    // loss = w·x with x = 1, so the gradient is 1; Adam's first (bias-corrected) step moves w by lr.
    tidy(() => {
      t.zeroGrad();
      const x = randn([1, 1]);
      x.data()[0] = 1;
      model.forward(x).backward();
    });
    t.step();
    expect(w.data()[0]).toBeCloseTo(0.9, 6);
    const sgd = createTraining(
      model.parameters(),
      { name: 'sgd', lr: 0.1, momentum: 0, weightDecay: 0 },
      { name: 'constant' },
      10,
      1,
    );
    const state = t.stateDict();
    expect(() => sgd.loadStateDict(state)).toThrow(/SGD/);
    for (const x of state.tensors.values()) x.dispose();
    model.dispose();
  });
});

describe('metrics', () => {
  it('per-class precision, recall, F1 and evaluation', async () => {
    const m = classMetrics(
      [
        [5, 1],
        [0, 4],
      ],
      ['cat', 'dog'],
    );
    expect(m[0]).toMatchObject({ precision: 1, recall: 5 / 6, support: 6 });
    expect(m[1]!.precision).toBeCloseTo(0.8);
    expect(m[1]!.f1).toBeCloseTo((2 * 0.8 * 1) / 1.8);
    const model = mlp();
    const r = await evaluate(model, toyData(40), { batchSize: 7 });
    expect(r.count).toBe(40);
    expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(40);
    expect(r.accuracy).toBeCloseTo((r.confusion[0]![0]! + r.confusion[1]![1]!) / 40);
    model.dispose();
    const p = softmax([1000, 1000, -1000]);
    expect(p[0]).toBeCloseTo(0.5);
  });
});
