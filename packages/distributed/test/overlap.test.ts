// Gradient allreduce started from inside backward: the engine names parameters in graph order, the
// buckets still go out in one fixed order, and the result is the non-overlapped one bit for bit.
import '@dlf/autograd';
import { crossEntropy } from '@dlf/loss';
import { Linear, Module, ReLU, Sequential } from '@dlf/nn';
import { Generator, randint, randn, type Tensor, tidy } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { DistributedDataParallel } from '../src/ddp.js';
import { groups } from './helpers.js';

/** Three Linear layers, and a spare one that forward never uses (its parameters come last). */
class WithSpare extends Module {
  readonly net: Sequential;
  constructor() {
    super();
    const g = new Generator(5);
    this.net = this.registerModule(
      'net',
      new Sequential(
        new Linear(8, 16, { generator: g }),
        new ReLU(),
        new Linear(16, 16, { generator: g }),
        new ReLU(),
        new Linear(16, 3, { generator: g }),
      ),
    );
    this.registerModule('spare', new Linear(4, 4, { generator: g }));
  }
  forward(x: Tensor): Tensor {
    return this.net.forward(x);
  }
}

function batchOf(rank: number): { x: Tensor; y: Tensor } {
  return {
    x: randn([6, 8], 0, 1, { generator: new Generator(50 + rank) }),
    y: randint([6], 0, 3, { generator: new Generator(60 + rank) }),
  };
}

interface Reduction {
  /** Every parameter's gradient (null when it has none), per rank. */
  grads: (Float32Array | null)[][];
  /** The size of each allreduce, in the order rank 0 started them. */
  sizes: number[];
  /** How many of them rank 0 started while its autograd backward ran. */
  startedInBackward: number;
}

/** One gradient reduction on two in-process ranks. */
async function reduce(overlap: boolean): Promise<Reduction> {
  const gs = await groups(2);
  const sizes: number[] = [];
  let inBackward = false;
  let startedInBackward = 0;
  const allreduce = gs[0]!.allreduce.bind(gs[0]!);
  gs[0]!.allreduce = (data, op) => {
    sizes.push(data instanceof Float32Array ? data.length : data.size);
    if (inBackward) startedInBackward++;
    return allreduce(data, op);
  };
  try {
    const ranks = gs.map((group, rank) => ({
      model: new WithSpare(),
      ddp: new DistributedDataParallel(group, { bucketBytes: 300, overlap }),
      ...batchOf(rank),
    }));
    const reductions = ranks.map(({ model, ddp, x, y }, rank) => {
      let reduced: Promise<void> | undefined;
      tidy(() => {
        const loss = crossEntropy(model.forward(x), y);
        const backward = loss.backward.bind(loss);
        loss.backward = (options) => {
          inBackward = rank === 0;
          try {
            backward(options);
          } finally {
            inBackward = false;
          }
        };
        reduced = ddp.backward(loss, model.parameters(), 0.5);
      });
      return reduced!;
    });
    await Promise.all(reductions);
    const grads = ranks.map(({ model }) =>
      model.parameters().map((p) => (p.grad ? (p.grad.toTypedArray() as Float32Array) : null)),
    );
    return { grads, sizes, startedInBackward };
  } finally {
    for (const g of gs) g.close();
  }
}

describe('allreduce overlapping backward', () => {
  it('hears of a Sequential’s parameters later layers first, each once', () => {
    const model = new WithSpare();
    const params = model.parameters();
    const { x, y } = batchOf(0);
    const order: number[] = [];
    tidy(() =>
      crossEntropy(model.forward(x), y).backward({ watch: params, onGradReady: (i) => order.push(i) }),
    );
    // Parameters 0–5 are three (weight, bias) pairs; 6–7 the spare layer, never reached, so named first.
    expect(order.slice(0, 2).sort()).toEqual([6, 7]);
    expect(order.slice(2).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const layers = order.slice(2).map((i) => Math.floor(i / 2));
    expect(layers).toEqual([...layers].sort((a, b) => b - a));
  });

  it('gives the non-overlapped result bit for bit, with an unused parameter in the first bucket', async () => {
    const overlappedRun = await reduce(true);
    const afterRun = await reduce(false);
    // Same buckets in the same order; with overlap every one starts while backward runs (the unused
    // layer, in the first bucket, is reported at the start, so it holds nothing back), without none.
    expect(overlappedRun.sizes).toEqual(afterRun.sizes);
    expect(overlappedRun.sizes.length).toBeGreaterThan(2);
    expect(overlappedRun.startedInBackward).toBe(overlappedRun.sizes.length);
    expect(afterRun.startedInBackward).toBe(0);
    const overlapped = overlappedRun.grads;
    expect(overlapped).toEqual(afterRun.grads);
    // Both ranks hold the same averaged gradients; the spare layer's stay empty.
    expect(overlapped[0]).toEqual(overlapped[1]);
    expect(overlapped[0]!.slice(6)).toEqual([null, null]);
    // And they are the mean of each rank's own gradient (float rounding aside).
    const own = [0, 1].map((rank) => {
      const model = new WithSpare();
      const { x, y } = batchOf(rank);
      tidy(() => crossEntropy(model.forward(x), y).backward());
      return model.parameters().map((p) => p.grad?.toTypedArray() ?? null);
    });
    overlapped[0]!.slice(0, 6).forEach((g, p) => {
      const mean = Array.from(g!, (_, k) => (own[0]![p]![k]! + own[1]![p]![k]!) / 2);
      let worst = 0;
      g!.forEach((v, k) => {
        worst = Math.max(worst, Number.isNaN(v) ? Number.POSITIVE_INFINITY : Math.abs(v - mean[k]!));
      });
      expect(worst).toBeLessThanOrEqual(1e-6);
    });
  });
});
