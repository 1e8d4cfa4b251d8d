import { add, BatchNorm2d, Dropout, mul } from '@dlf/nn';
import { Generator, randn } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

describe('train and eval behaviour', () => {
  it('dropout masks in training, passes through in eval, and is seeded', () => {
    const x = randn([1000]);
    const d1 = new Dropout(0.5, { generator: new Generator(7) });
    const d2 = new Dropout(0.5, { generator: new Generator(7) });
    const a = d1.forward(x).toTypedArray();
    const b = d2.forward(x).toTypedArray();
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
    const zeros = Array.from(a).filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThan(400);
    expect(zeros).toBeLessThan(600);
    d1.eval();
    expect(d1.forward(x).toArray()).toEqual(x.toArray());
  });

  it('batch norm uses batch statistics in training and running statistics in eval', () => {
    const bn = new BatchNorm2d(2);
    const x = add(mul(randn([4, 2, 3, 3]), 3), 5);
    const y = bn.forward(x).toTypedArray() as Float32Array;
    // per-channel output of training mode has mean ~0
    let m0 = 0;
    for (let n = 0; n < 4; n++) for (let i = 0; i < 9; i++) m0 += y[n * 18 + i]!;
    expect(Math.abs(m0 / 36)).toBeLessThan(1e-5);
    const rm = bn.runningMean!.toArray() as number[];
    expect(rm[0]).toBeGreaterThan(0.3); // moved towards the batch mean (~5) by momentum 0.1
    bn.eval();
    const ye = bn.forward(x).toTypedArray() as Float32Array;
    expect(Math.abs(ye[0]! - y[0]!)).toBeGreaterThan(0.1);
    // eval does not move running statistics
    expect(bn.runningMean!.toArray()).toEqual(rm);
  });
});
