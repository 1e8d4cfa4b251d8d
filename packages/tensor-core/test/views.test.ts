import { tensor as native } from '@dlf/native/tensor';
import { arange, memory, ones, Tensor, tensor, tidy, zeros } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { expectThrows, gc, tick } from './helpers.js';

const scoped = (fn: () => void) => () => tidy(fn);

/** A non-contiguous view: the 2-d transpose (tensor-core has no transpose of its own yet). */
function transpose(t: Tensor): Tensor {
  return new Tensor(native.permute(t.handle, [1, 0]));
}

describe('reshape and view', () => {
  it(
    'reshape infers one -1 dimension',
    scoped(() => {
      const t = arange(6);
      expect(t.reshape([2, -1]).shape).toEqual([2, 3]);
      expect(t.reshape([-1, 2]).toArray()).toEqual([
        [0, 1],
        [2, 3],
        [4, 5],
      ]);
      expect(t.reshape([3, 2]).reshape([-1]).toArray()).toEqual([0, 1, 2, 3, 4, 5]);
      expect(t.reshape([1, 2, 1, 3]).shape).toEqual([1, 2, 1, 3]);
      // 0-d <-> one element.
      expect(tensor(5).reshape([1, 1]).toArray()).toEqual([[5]]);
      expect(tensor([5]).reshape([]).shape).toEqual([]);
      expect(tensor(5).reshape([-1]).shape).toEqual([1]);
      // Empty tensors reshape to any shape of size 0.
      expect(zeros([0, 4]).reshape([2, 0, 5]).shape).toEqual([2, 0, 5]);
      expect(zeros([0, 4]).reshape([-1, 2]).shape).toEqual([0, 2]);
    }),
  );

  it(
    'reshape of a contiguous tensor shares its memory',
    scoped(() => {
      const t = zeros([2, 3]);
      const r = t.reshape([6]);
      t.data()[4] = 7;
      expect(r.toArray()).toEqual([0, 0, 0, 0, 7, 0]);
    }),
  );

  it(
    'reshape of a non-contiguous tensor copies in row-major order',
    scoped(() => {
      const tt = transpose(arange(6).reshape([2, 3]));
      expect(tt.isContiguous).toBe(false);
      expect(tt.reshape([-1]).toArray()).toEqual([0, 3, 1, 4, 2, 5]);
    }),
  );

  it(
    'view() works on contiguous tensors and throws on the others',
    scoped(() => {
      expect(arange(6).view([3, 2]).shape).toEqual([3, 2]);
      const tt = transpose(arange(6).reshape([2, 3]));
      expectThrows(() => tt.view([6]), Error, /contiguous/);
      // contiguous() first makes it work.
      expect(tt.contiguous().view([6]).toArray()).toEqual([0, 3, 1, 4, 2, 5]);
    }),
  );
});

describe('slice', () => {
  it(
    'takes rows along the first axis, with negative and clamped indices',
    scoped(() => {
      const t = arange(12).reshape([4, 3]);
      expect(t.slice(1).shape).toEqual([3, 3]);
      expect(t.slice(1, 3).toArray()).toEqual([
        [3, 4, 5],
        [6, 7, 8],
      ]);
      expect(t.slice(-1).toArray()).toEqual([[9, 10, 11]]);
      expect(t.slice(-3, -1).toArray()).toEqual([
        [3, 4, 5],
        [6, 7, 8],
      ]);
      expect(t.slice(0, 100).shape).toEqual([4, 3]);
      expect(t.slice(-100, 1).shape).toEqual([1, 3]);
      expect(t.slice(3, 1).shape).toEqual([0, 3]);
      expect(t.slice(10).shape).toEqual([0, 3]);
      expect(arange(5).slice(2, 4).toArray()).toEqual([2, 3]);
    }),
  );

  it(
    'shares memory with its base both ways',
    scoped(() => {
      const base = zeros([4, 2]);
      const s = base.slice(1, 3);
      expect(s.strides).toEqual(base.strides);
      expect(s.isContiguous).toBe(true);
      base.data()[2] = 5; // row 1, column 0
      expect(s.toArray()).toEqual([
        [5, 0],
        [0, 0],
      ]);
      s.data()[3] = 9; // row 2, column 1 of the base
      expect(base.toArray()).toEqual([
        [0, 0],
        [5, 0],
        [0, 9],
        [0, 0],
      ]);
      // A slice outlives its base.
      base.dispose();
      expect(s.toArray()).toEqual([
        [5, 0],
        [0, 9],
      ]);
    }),
  );
});

describe('contiguous and clone', () => {
  it(
    'contiguous() lays a non-contiguous tensor out in row-major order',
    scoped(() => {
      const t = arange(6).reshape([2, 3]);
      const tt = transpose(t);
      expect(tt.shape).toEqual([3, 2]);
      expect(tt.strides).toEqual([1, 3]);
      const c = tt.contiguous();
      expect(c.isContiguous).toBe(true);
      expect(c.strides).toEqual([2, 1]);
      expect(c.toArray()).toEqual([
        [0, 3],
        [1, 4],
        [2, 5],
      ]);
      // The copy does not share memory with the original.
      t.data()[0] = 42;
      expect(tt.toArray()).toEqual([
        [42, 3],
        [1, 4],
        [2, 5],
      ]);
      expect((c.toArray() as number[][])[0]).toEqual([0, 3]);
    }),
  );

  it(
    'contiguous() of a contiguous tensor is the same data',
    scoped(() => {
      const t = zeros([3]);
      const c = t.contiguous();
      t.data()[1] = 1;
      expect(c.toArray()).toEqual([0, 1, 0]);
    }),
  );

  it(
    'clone() copies and does not share memory',
    scoped(() => {
      const t = tensor([1, 2, 3]);
      const c = t.clone();
      expect(c.toArray()).toEqual([1, 2, 3]);
      t.data()[0] = 10;
      c.data()[2] = 30;
      expect(t.toArray()).toEqual([10, 2, 3]);
      expect(c.toArray()).toEqual([1, 2, 30]);
      const ct = transpose(arange(4).reshape([2, 2])).clone();
      expect(ct.isContiguous).toBe(true);
      expect(ct.toArray()).toEqual([
        [0, 2],
        [1, 3],
      ]);
      expect(tensor([1, 2], { dtype: 'int32' }).clone().dtype).toBe('int32');
    }),
  );
});

describe('astype', () => {
  it(
    'uint8 -> float32 with scale 1/255 maps [0, 255] onto [0, 1]',
    scoped(() => {
      const img = tensor(new Uint8Array([0, 51, 128, 255]));
      const f = img.astype('float32', 1 / 255);
      expect(f.dtype).toBe('float32');
      const v = f.toTypedArray();
      expect(v[0]).toBe(0);
      expect(v[1]).toBeCloseTo(0.2, 6);
      expect(v[2]).toBeCloseTo(128 / 255, 6);
      expect(v[3]).toBe(1);
    }),
  );

  it(
    'float32 -> int32 truncates toward zero and saturates',
    scoped(() => {
      const t = tensor([-2.7, -0.5, 0.5, 2.7, 1e10, -1e10, Number.NaN]);
      const i = t.astype('int32');
      expect(i.dtype).toBe('int32');
      expect(Array.from(i.toTypedArray())).toEqual([-2, 0, 0, 2, 2 ** 31 - 1, -(2 ** 31), 0]);
    }),
  );

  it(
    'float32 -> uint8 rounds (half away from zero) and clamps to [0, 255]',
    scoped(() => {
      const t = tensor([-3, 0.4, 0.5, 1.5, 2.5, 254.5, 255.7, 1000, Number.NaN]);
      expect(Array.from(t.astype('uint8').toTypedArray())).toEqual([0, 0, 1, 2, 3, 255, 255, 255, 0]);
      expect(t.astype('float32', 2).astype('uint8').toArray()).toEqual([0, 1, 1, 3, 5, 255, 255, 255, 0]);
    }),
  );

  it(
    'int32 -> float32 and uint8, and float32 -> float32 copies',
    scoped(() => {
      const i = tensor([-1, 0, 300], { dtype: 'int32' });
      expect(i.astype('float32', 0.5).toArray()).toEqual([-0.5, 0, 150]);
      expect(i.astype('uint8').toArray()).toEqual([0, 0, 255]);
      const f = tensor([1, 2]);
      const g = f.astype('float32');
      f.data()[0] = 5;
      expect(g.toArray()).toEqual([1, 2]);
      // A non-contiguous source converts in row-major order.
      expect(
        transpose(arange(4).reshape([2, 2]))
          .astype('int32')
          .toArray(),
      ).toEqual([
        [0, 2],
        [1, 3],
      ]);
    }),
  );
});

describe('strides and isContiguous', () => {
  it(
    'reports row-major strides',
    scoped(() => {
      expect(zeros([2, 3, 4]).strides).toEqual([12, 4, 1]);
      expect(zeros([5]).strides).toEqual([1]);
      expect(zeros([2, 3, 4]).isContiguous).toBe(true);
      const tt = transpose(zeros([2, 3]));
      expect(tt.strides).toEqual([1, 3]);
      expect(tt.isContiguous).toBe(false);
      // A transpose of a 1-row matrix is still contiguous (size-1 dims do not count).
      expect(transpose(zeros([1, 3])).isContiguous).toBe(true);
    }),
  );
});

describe('data() zero-copy views', () => {
  it(
    'reads and writes the tensor memory',
    scoped(() => {
      const t = zeros([3]);
      const d = t.data();
      expect(d).toBeInstanceOf(Float32Array);
      d[1] = 5;
      expect(t.toArray()).toEqual([0, 5, 0]);
      // Two views see the same memory.
      const d2 = t.data();
      d2[2] = 6;
      expect(d[2]).toBe(6);
      expect(tensor([1], { dtype: 'int32' }).data()).toBeInstanceOf(Int32Array);
      expect(tensor(new Uint8Array([1])).data()).toBeInstanceOf(Uint8Array);
    }),
  );

  it(
    'throws for non-contiguous tensors',
    scoped(() => {
      expectThrows(() => transpose(zeros([2, 3])).data(), Error, /contiguous/);
    }),
  );

  it('stays valid and readable after the tensor is disposed', async () => {
    const t = arange(256);
    const d = t.data();
    const baseline = memory();
    t.dispose();
    // The view keeps the memory alive: it is not returned to the allocator's cache...
    expect(memory().numBytes).toBe(baseline.numBytes);
    // ...so new tensors of the same size cannot be given the same block.
    const others = Array.from({ length: 20 }, () => ones([256]));
    gc?.();
    await tick();
    gc?.();
    expect(d[0]).toBe(0);
    expect(d[255]).toBe(255);
    expect(Array.from(d)).toEqual(Array.from({ length: 256 }, (_, i) => i));
    d[3] = -1; // still writable, and nobody else sees it
    for (const o of others) {
      expect(o.toTypedArray().every((v) => v === 1)).toBe(true);
      o.dispose();
    }
  });

  it.runIf(gc !== undefined)('frees the memory once the view is collected (needs --expose-gc)', async () => {
    // Collect what earlier tests left to the garbage collector first.
    for (let i = 0; i < 3; i++) {
      gc!();
      await tick();
    }
    const before = memory().numBytes;
    let t: Tensor | undefined = zeros([1024]);
    let d: Float32Array | undefined = t.data() as Float32Array;
    t.dispose();
    t = undefined;
    expect(memory().numBytes).toBeGreaterThan(before);
    d[0] = 1;
    d = undefined;
    for (let i = 0; i < 10 && memory().numBytes > before; i++) {
      gc!();
      await tick();
    }
    expect(memory().numBytes).toBe(before);
  });
});
