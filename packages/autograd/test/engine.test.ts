import { enableGrad, gradcheck, isGradEnabled, noGrad } from '@dlf/autograd';
import { abs, add, Generator, log, memory, mul, randn, sqrt, sum, tensor, tidy } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

describe('autograd engine', () => {
  it('computes gradients of a small expression', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const y = tensor([4, 5, 6]).requiresGrad_();
    sum(add(mul(x, y), mul(x, x))).backward();
    expect(x.grad!.toArray()).toEqual([6, 9, 12]);
    expect(y.grad!.toArray()).toEqual([1, 2, 3]);
  });

  it('walks a 100,000-node chain iteratively', () => {
    const x = tensor([0.5]).requiresGrad_();
    tidy(() => {
      let h = x;
      for (let i = 0; i < 100_000; i++) {
        const next = add(h, 1e-5);
        if (h !== x) h.dispose();
        h = next;
      }
      sum(h).backward();
    });
    expect(x.grad!.item()).toBeCloseTo(1, 6);
  });

  it('accumulates gradients over two backward calls', () => {
    const x = tensor([1, -2]).requiresGrad_();
    sum(mul(x, 3)).backward();
    sum(mul(x, 3)).backward();
    expect(x.grad!.toArray()).toEqual([6, 6]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });

  it('refuses a second backward through a freed graph, and allows it with retainGraph', () => {
    const x = tensor([2]).requiresGrad_();
    const y = sum(mul(x, x));
    y.backward({ retainGraph: true });
    y.backward();
    expect(x.grad!.item()).toBe(8);
    expect(() => y.backward()).toThrow(/second time/);
  });

  it('records nothing under noGrad', () => {
    const x = tensor([1, 2]).requiresGrad_();
    const y = noGrad(() => mul(x, x));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(isGradEnabled()).toBe(true);
    const z = noGrad(() => enableGrad(() => mul(x, x)));
    expect(z.requiresGrad).toBe(true);
    expect(() => noGrad(async () => 1)).toThrow(TypeError);
    expect(isGradEnabled()).toBe(true);
  });

  it('detach cuts the graph and shares memory', () => {
    const x = tensor([1, 2]).requiresGrad_();
    const y = mul(x, 2);
    const d = y.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.toArray()).toEqual([2, 4]);
    expect(y.gradFn).toBe('AffineBackward');
    expect(x.isLeaf).toBe(true);
  });

  it('needs an explicit gradient for non-scalar outputs', () => {
    const x = tensor([1, 2]).requiresGrad_();
    const y = mul(x, x);
    expect(() => y.backward()).toThrow(/one-element/);
    y.backward({ grad: tensor([1, 10]) });
    expect(x.grad!.toArray()).toEqual([2, 40]);
  });

  it('gradcheck passes for a smooth function and catches a wrong gradient', () => {
    const x = randn([3, 4], 0, 1, { generator: new Generator(3) }).requiresGrad_();
    expect(gradcheck((a) => sqrt(add(mul(a, a), 1)), [x]).ok).toBe(true);
    // |a + 0.05| has a kink within eps of 0: the finite difference straddles it and disagrees.
    const k = tensor([0]).requiresGrad_();
    const r = gradcheck((a) => abs(add(a, 0.05)), [k], { eps: 0.1 });
    expect(r.ok).toBe(false);
    expect(r.firstMismatch?.input).toBe(0);
  });

  it('gradcheck fails on a NaN or infinity instead of letting it through', () => {
    // log of a negative number: the output itself is NaN.
    const r1 = gradcheck((a) => log(a), [tensor([1, -1]).requiresGrad_()]);
    expect(r1.ok).toBe(false);
    expect(r1.message).toMatch(/output element 1 is NaN/);
    // sqrt at 0: a finite output, an infinite analytic and a NaN numeric gradient.
    const r2 = gradcheck((a) => sqrt(a), [tensor([1, 0]).requiresGrad_()]);
    expect(r2.ok).toBe(false);
    expect(r2.firstMismatch).toMatchObject({ input: 0, index: 1, analytic: Infinity });
    expect(r2.message).toMatch(/input 0 at element 1: analytic Infinity, numeric NaN/);
    expect(r2.maxAbsError).toBe(Infinity);
  });

  it('frees saved tensors after backward: memory returns to baseline', () => {
    const x = randn([64, 64]).requiresGrad_();
    tidy(() => sum(sqrt(add(mul(x, x), 1))).backward());
    x.zeroGrad();
    const base = memory().numBytes;
    for (let i = 0; i < 50; i++) tidy(() => sum(sqrt(add(mul(x, x), 1))).backward());
    x.zeroGrad();
    expect(memory().numBytes).toBe(base);
  });
});
