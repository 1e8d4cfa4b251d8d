/**
 * ExponentialMovingAverage: the in-place update against a float64 reference, the decay warm-up,
 * validation that leaves the averages untouched, state round trips, and no allocation per update.
 */
import { ExponentialMovingAverage } from '@dlf/optim';
import { memory, type Tensor, tensor } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

const f32 = (values: number[], shape = [values.length]): Tensor =>
  tensor(new Float32Array(values), { shape });
const values = (t: Tensor): number[] => [...(t.toTypedArray() as Float32Array)];

describe('ExponentialMovingAverage', () => {
  it('moves each average towards its source by (1 - decay), in place', () => {
    const avg = [f32([1, 2, 3, 4], [2, 2]), f32([-1])];
    const src = [f32([5, 6, 7, 8], [2, 2]), f32([3])];
    const before = avg.map((t) => t.handle);
    const ema = new ExponentialMovingAverage(avg, src, { decay: 0.9, warmup: false });
    ema.update();
    expect(avg.map((t) => t.handle)).toEqual(before);
    const expected = [[1, 2, 3, 4].map((a, i) => 0.9 * a + 0.1 * [5, 6, 7, 8][i]!), [0.9 * -1 + 0.1 * 3]];
    avg.forEach((t, i) => {
      values(t).forEach((v, k) => expect(Math.abs(v - expected[i]![k]!)).toBeLessThan(1e-6));
    });
    expect(values(src[0]!)).toEqual([5, 6, 7, 8]);
    expect(ema.updates).toBe(1);
  });

  it('warms the decay up as min(decay, (1 + n) / (10 + n)) and uses it', () => {
    const avg = f32([0]);
    const src = f32([1]);
    const ema = new ExponentialMovingAverage([avg], [src], { decay: 0.5 });
    expect([0, 1, 8, 9, 100].map((n) => ema.decayAt(n))).toEqual([0.1, 2 / 11, 0.5, 0.5, 0.5]);
    ema.update(); // decay 0.1: 0.9 of the source
    expect(Math.abs(values(avg)[0]! - 0.9)).toBeLessThan(1e-7);
    ema.update(); // decay 2/11
    expect(Math.abs(values(avg)[0]! - (0.9 * (2 / 11) + 9 / 11))).toBeLessThan(1e-6);
  });

  it('with decay 0 copies the sources exactly', () => {
    const avg = f32([1.5, -2.25, 1e-30]);
    const src = f32([Math.fround(Math.PI), Math.fround(-1e30), 7]);
    new ExponentialMovingAverage([avg], [src], { decay: 0, warmup: false }).update();
    expect(values(avg)).toEqual(values(src));
  });

  it('carries a NaN of a source into its average', () => {
    const avg = f32([1, 1]);
    new ExponentialMovingAverage([avg], [f32([Number.NaN, 1])], { decay: 0.99 }).update();
    expect(Number.isNaN(values(avg)[0])).toBe(true);
  });

  it('takes one update’s decay as an argument (1 keeps the average, 0 copies), and checks it', () => {
    const avg = f32([1, -3]);
    const src = f32([5, 1]);
    const ema = new ExponentialMovingAverage([avg], [src], { decay: 0.9 });
    ema.update(0.25);
    expect(values(avg)).toEqual([0.25 * 1 + 0.75 * 5, 0.25 * -3 + 0.75 * 1]);
    ema.update(1);
    expect(values(avg)).toEqual([4, 0]);
    for (const bad of [-0.1, 1.5, Number.NaN]) expect(() => ema.update(bad)).toThrow(/decay/);
    expect(values(avg)).toEqual([4, 0]);
    expect(ema.updates).toBe(2);
    ema.update(0);
    expect(values(avg)).toEqual([5, 1]);
  });

  it('rejects bad pairs and decays before touching anything', () => {
    const a = f32([1, 2]);
    expect(() => new ExponentialMovingAverage([a], [f32([1, 2, 3])], { decay: 0.9 })).toThrow(
      /Expected shape \[2\] \(its average's\) for sources\[0\]/,
    );
    expect(() => new ExponentialMovingAverage([a], [], { decay: 0.9 })).toThrow(/1 tensors/);
    expect(() => new ExponentialMovingAverage([a], [f32([1, 2])], { decay: 1 })).toThrow(/\[0, 1\)/);
    expect(() => new ExponentialMovingAverage([a], [f32([1, 2])], { decay: Number.NaN })).toThrow(/decay/);
    const ints = tensor(new Int32Array([1, 2]), { dtype: 'int32' });
    expect(() => new ExponentialMovingAverage([a], [ints], { decay: 0.9 })).toThrow(/float32/);
    expect(values(a)).toEqual([1, 2]);
  });

  it('saves and restores its settings and update count', () => {
    const ema = new ExponentialMovingAverage([f32([0])], [f32([1])], { decay: 0.99 });
    for (let i = 0; i < 5; i++) ema.update();
    const text = JSON.stringify(ema.stateDict().state);
    const other = new ExponentialMovingAverage([f32([0])], [f32([1])], { decay: 0.5, warmup: false });
    other.loadStateDict({ state: JSON.parse(text) });
    expect(other.updates).toBe(5);
    expect(other.decay).toBe(0.99);
    expect(other.decayAt(5)).toBe(ema.decayAt(5));
    expect(() => other.loadStateDict({ state: { type: 'SGD' } })).toThrow(/ExponentialMovingAverage/);
    expect(() =>
      other.loadStateDict({ state: { type: 'EMA', decay: 0.9, warmup: true, updates: 1.5 } }),
    ).toThrow(/integer/);
  });

  it('allocates no tensor and no native memory per update', () => {
    const avg = [f32(new Array(1000).fill(0)), f32([1, 2, 3])];
    const src = [f32(new Array(1000).fill(1)), f32([3, 2, 1])];
    const ema = new ExponentialMovingAverage(avg, src, { decay: 0.999 });
    ema.update();
    const before = memory();
    for (let i = 0; i < 200; i++) ema.update();
    const after = memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    expect(after.systemAllocations).toBe(before.systemAllocations);
  });
});
