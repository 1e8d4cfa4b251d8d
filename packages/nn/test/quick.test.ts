import { describe, expect, it } from 'vitest';
import { randn, tensor } from '@dlf/tensor-core';
import { seedCnn, summary, formatSummary, mul, sum, gradcheck, conv2d } from '@dlf/nn';

describe('quick', () => {
  it('grad of x*x', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    sum(mul(x, x)).backward();
    expect(x.grad!.toArray()).toEqual([2, 4, 6]);
  });
  it('seed-cnn summary', () => {
    const m = seedCnn({ classes: 10 });
    const s = summary(m, [3, 32, 32]);
    console.log(formatSummary(s));
    expect(s.totalParams).toBe(134466);
    expect(s.totalMacs).toBe(1238272);
    const y = m.forward(randn([4, 3, 32, 32]));
    expect(y.shape).toEqual([4, 10]);
  });
  it('conv gradcheck', () => {
    const x = randn([2, 3, 5, 5]).requiresGrad_();
    const w = randn([4, 3, 3, 3]).requiresGrad_();
    const b = randn([4]).requiresGrad_();
    const r = gradcheck((a, c, d) => conv2d(a, c, d, { padding: 1, stride: 2 }), [x, w, b]);
    expect(r.ok).toBe(true);
  });
});
