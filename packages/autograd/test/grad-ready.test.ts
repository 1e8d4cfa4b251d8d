// Gradient-ready notifications: what data-parallel training needs to start an allreduce while
// backward is still running.
import '@dlf/autograd';
import { add, Generator, matmul, mul, randn, sum, type Tensor } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

const g = new Generator(3);
const param = (shape: number[]): Tensor => randn(shape, 0, 1, { generator: g }).requiresGrad_();

/** A two-layer "Sequential" (x·w1 + b1, then ·w2 + b2) and its loss. */
function twoLayers(): { params: Tensor[]; loss: () => Tensor } {
  const x = randn([4, 3], 0, 1, { generator: g });
  const params = [param([3, 5]), param([5]), param([5, 2]), param([2])];
  const [w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor];
  const loss = (): Tensor => sum(mul(add(matmul(add(matmul(x, w1), b1), w2), b2), 0.5));
  return { params, loss };
}

/** Runs backward watching `params`; records each notification with a copy of the gradient then. */
function watchedBackward(
  loss: Tensor,
  params: Tensor[],
): { order: number[]; atReady: (Float32Array | undefined)[] } {
  const order: number[] = [];
  const atReady: (Float32Array | undefined)[] = [];
  loss.backward({
    watch: params,
    onGradReady: (i) => {
      order.push(i);
      atReady[i] = params[i]!.grad?.toTypedArray() as Float32Array | undefined;
    },
  });
  return { order, atReady };
}

describe('gradient-ready notifications', () => {
  it('name each watched parameter once, later layers first, with its final gradient', () => {
    const { params, loss } = twoLayers();
    const { order, atReady } = watchedBackward(loss(), params);
    expect([...order].sort()).toEqual([0, 1, 2, 3]);
    // The second layer's parameters (2, 3) are final before the first layer's (0, 1).
    expect(Math.max(order.indexOf(2), order.indexOf(3))).toBeLessThan(
      Math.min(order.indexOf(0), order.indexOf(1)),
    );
    params.forEach((p, i) => expect(atReady[i]).toEqual(p.grad!.toTypedArray()));
  });

  it('give the same gradients, bit for bit, as a backward without them', () => {
    const { params, loss } = twoLayers();
    loss().backward();
    const plain = params.map((p) => p.grad!.toTypedArray());
    for (const p of params) p.zeroGrad();
    watchedBackward(loss(), params);
    params.forEach((p, i) => expect(p.grad!.toTypedArray()).toEqual(plain[i]));
  });

  it('wait for every use of a shared parameter', () => {
    const w = param([3]);
    const other = param([3]);
    const x = randn([3], 0, 1, { generator: g });
    // w reaches the loss along two paths; it is final only after both contributions.
    const loss = sum(add(mul(mul(x, w), other), mul(w, 2)));
    const { order, atReady } = watchedBackward(loss, [w, other]);
    expect([...order].sort()).toEqual([0, 1]);
    expect(atReady[0]).toEqual(w.grad!.toTypedArray());
    const expected = Array.from(x.toTypedArray(), (v, k) => v * other.toTypedArray()[k]! + 2);
    Array.from(w.grad!.toTypedArray()).forEach((v, k) => expect(v).toBeCloseTo(expected[k]!, 5));
  });

  it('name parameters the loss does not use first, and leave their gradients as they are', () => {
    const { params, loss } = twoLayers();
    const unused = param([7]);
    const frozen = param([2]).requiresGrad_(false);
    const { order } = watchedBackward(loss(), [...params, unused, frozen]);
    expect(order.slice(0, 2)).toEqual([4, 5]);
    expect(order.slice(2).sort()).toEqual([0, 1, 2, 3]);
    expect(unused.grad).toBeNull();
    expect(frozen.grad).toBeNull();
  });

  it('stop backward with the callback’s exception', () => {
    const { params, loss } = twoLayers();
    const boom = new Error('boom');
    expect(() =>
      loss().backward({
        watch: params,
        onGradReady: () => {
          throw boom;
        },
      }),
    ).toThrow('boom');
  });

  it('reject a leaf listed twice and a watch list without a callback', () => {
    const { params, loss } = twoLayers();
    expect(() => loss().backward({ watch: [params[0]!, params[0]!], onGradReady: () => {} })).toThrow(
      /listed|same tensor/,
    );
    expect(() => loss().backward({ watch: params })).toThrow(TypeError);
  });
});
