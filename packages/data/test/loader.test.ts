import { type Batch, DataLoader, fromArrays } from '@dlf/data';
import { memory } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

/** n samples of shape [1, 2, 2]; every pixel of sample i is i (so x reveals the index). */
function indexed(n: number) {
  const images = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) images.fill(i, i * 4, i * 4 + 4);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  return fromArrays(images, labels, [1, 2, 2], { classes: ['a', 'b', 'c'] });
}

async function collect(
  it: AsyncIterable<Batch>,
): Promise<{ order: number[]; sizes: number[]; labels: number[] }> {
  const order: number[] = [];
  const sizes: number[] = [];
  const labels: number[] = [];
  for await (const b of it) {
    const x = b.x.data() as Float32Array;
    sizes.push(b.x.shape[0]!);
    for (let i = 0; i < b.x.shape[0]!; i++) order.push(Math.round(x[i * 4]! * 255));
    labels.push(...(b.y.data() as Int32Array));
    b.x.dispose();
    b.y.dispose();
  }
  return { order, sizes, labels };
}

describe('DataLoader', () => {
  it('serves float32 [B, C, H, W] scaled to [0, 1] and int32 labels', async () => {
    const loader = new DataLoader(indexed(10), { batchSize: 4 });
    expect(loader.length).toBe(3);
    const b = loader.batch(0, 0);
    expect(b.x.shape).toEqual([4, 1, 2, 2]);
    expect(b.x.dtype).toBe('float32');
    expect(b.y.shape).toEqual([4]);
    expect(b.y.dtype).toBe('int32');
    expect(Array.from(b.x.data()).slice(4, 8)).toEqual([1 / 255, 1 / 255, 1 / 255, 1 / 255].map(Math.fround));
    expect(Array.from(b.y.data())).toEqual([0, 1, 2, 0]);
    b.x.dispose();
    b.y.dispose();
    const all = await collect(loader);
    expect(all.sizes).toEqual([4, 4, 2]);
    expect(all.order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(all.labels).toEqual(Array.from({ length: 10 }, (_, i) => i % 3));
  });

  it('drops the last partial batch on request', async () => {
    const loader = new DataLoader(indexed(10), { batchSize: 4, dropLast: true });
    expect(loader.length).toBe(2);
    expect((await collect(loader)).sizes).toEqual([4, 4]);
    expect(new DataLoader(indexed(3), { batchSize: 4, dropLast: true }).length).toBe(0);
  });

  it('shuffles reproducibly, differently each epoch, visiting each sample once', async () => {
    const ds = indexed(50);
    const a = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 5 });
    const b = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 5 });
    const e0 = await collect(a);
    const e1 = await collect(a);
    expect(a.epoch).toBe(2);
    expect((await collect(b)).order).toEqual(e0.order);
    expect((await collect(b)).order).toEqual(e1.order);
    expect(e1.order).not.toEqual(e0.order);
    expect([...e0.order].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([...e1.order].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(e0.order).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    // Labels travel with their samples.
    e0.order.forEach((idx, k) => {
      expect(e0.labels[k]).toBe(idx % 3);
    });
    // Another seed, another order.
    const c = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 6 });
    expect((await collect(c)).order).not.toEqual(e0.order);
    // The order does not depend on the batch size.
    const d = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 5 });
    expect((await collect(d)).order).toEqual(e0.order);
  });

  it('resumes at a given epoch', async () => {
    const ds = indexed(20);
    const a = new DataLoader(ds, { batchSize: 5, shuffle: true, seed: 1 });
    await collect(a);
    await collect(a);
    const third = await collect(a);
    const resumed = new DataLoader(ds, { batchSize: 5, shuffle: true, seed: 1, epoch: 2 });
    expect((await collect(resumed)).order).toEqual(third.order);
    expect((await collect(a.epochBatches(2))).order).toEqual(third.order);
    expect(Array.from(a.order(2))).toEqual(third.order);
    a.epoch = 2;
    expect((await collect(a)).order).toEqual(third.order);
  });

  it('prefetches while the consumer awaits, and frees what it made on break', async () => {
    const ds = indexed(64);
    const before = memory().numTensors;
    const loader = new DataLoader(ds, { batchSize: 4, prefetch: 3 });
    let seen = 0;
    for await (const b of loader) {
      // Give the event loop a turn, as an awaited training step would.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      // The batches made ahead are live tensors (2 each), bounded by prefetch.
      const ahead = (memory().numTensors - before - 2) / 2;
      expect(ahead).toBeGreaterThanOrEqual(1);
      expect(ahead).toBeLessThanOrEqual(3);
      b.x.dispose();
      b.y.dispose();
      if (++seen === 5) break;
    }
    expect(memory().numTensors).toBe(before);
    // prefetch 0: nothing is made ahead.
    const lazy = new DataLoader(ds, { batchSize: 4, prefetch: 0 });
    for await (const b of lazy) {
      await new Promise((r) => setImmediate(r));
      expect(memory().numTensors - before).toBe(2);
      b.x.dispose();
      b.y.dispose();
    }
    expect(memory().numTensors).toBe(before);
  });

  it('serves float32 in-memory data unscaled, and honours scale', async () => {
    const ds = fromArrays(Float32Array.of(0.5, -1, 2, 3), Int32Array.of(0, 1), [2]);
    const b = new DataLoader(ds).batch(0, 0);
    expect(Array.from(b.x.data())).toEqual([0.5, -1, 2, 3]);
    b.x.dispose();
    b.y.dispose();
    const c = new DataLoader(indexed(2), { scale: 1 }).batch(0, 0);
    expect(Array.from(c.x.data()).slice(4)).toEqual([1, 1, 1, 1]);
    c.x.dispose();
    c.y.dispose();
  });

  it('validates its options', () => {
    const ds = indexed(4);
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow(
      'Expected an integer in [1, 16777216] for batchSize but received 0 of type number',
    );
    expect(() => new DataLoader(ds, { seed: -1 })).toThrow(/seed/);
    expect(() => new DataLoader({} as never)).toThrow(/Expected a Dataset for dataset/);
    expect(() => new DataLoader(ds).batch(0, 1)).toThrow(/index/);
  });
});
