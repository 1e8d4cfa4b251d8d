// Leaf gradients own their buffers: AccumulateGrad adopts a gradient nothing else references and
// copies any other, so accumulation across backward calls and shared gradients stay independent.

import { add, conv2d, mul, sum } from '@dlf/nn';
import { tensor } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

describe('leaf gradient buffers', () => {
  it('accumulate over two backward calls', () => {
    const x = tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2] });
    const w = tensor([0.5], { shape: [1, 1, 1, 1] }).requiresGrad_();
    sum(conv2d(x, w)).backward();
    const first = Array.from(w.grad!.toTypedArray());
    sum(mul(conv2d(x, w), 2)).backward();
    expect(first).toEqual([10]);
    expect(Array.from(w.grad!.toTypedArray())).toEqual([30]);
  });

  it('keeps two leaves fed by one gradient apart', () => {
    const a = tensor([1, 2]).requiresGrad_();
    const b = tensor([3, 4]).requiresGrad_();
    sum(mul(add(a, b), 3)).backward();
    expect(Array.from(a.grad!.toTypedArray())).toEqual([3, 3]);
    expect(Array.from(b.grad!.toTypedArray())).toEqual([3, 3]);
    sum(mul(a, 2)).backward();
    expect(Array.from(a.grad!.toTypedArray())).toEqual([5, 5]);
    expect(Array.from(b.grad!.toTypedArray())).toEqual([3, 3]);
  });
});
