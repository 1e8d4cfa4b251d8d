import {
  arange,
  full,
  Generator,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  tensor,
  tidy,
  zeros,
  zerosLike,
} from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

// Every test body runs inside tidy() so nothing outlives it.
const scoped = (fn: () => void) => () => tidy(fn);

describe('tensor()', () => {
  it(
    'makes a 0-d float32 tensor from a number',
    scoped(() => {
      const t = tensor(3.5);
      expect(t.shape).toEqual([]);
      expect(t.rank).toBe(0);
      expect(t.size).toBe(1);
      expect(t.dtype).toBe('float32');
      expect(t.item()).toBe(3.5);
      expect(t.toArray()).toBe(3.5);
      expect(t.strides).toEqual([]);
      expect(t.isContiguous).toBe(true);
    }),
  );

  it(
    'infers the shape of nested arrays and stores float32',
    scoped(() => {
      expect(tensor([1, 2, 3]).shape).toEqual([3]);
      const t = tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      expect(t.shape).toEqual([2, 3]);
      expect(t.size).toBe(6);
      expect(t.dtype).toBe('float32');
      expect(t.toArray()).toEqual([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const cube = tensor([
        [[1], [2]],
        [[3], [4]],
      ]);
      expect(cube.shape).toEqual([2, 2, 1]);
      expect(cube.toArray()).toEqual([
        [[1], [2]],
        [[3], [4]],
      ]);
      // float32 storage: values are rounded once.
      expect(tensor([0.1]).toArray()).toEqual([Math.fround(0.1)]);
    }),
  );

  it(
    'infers the dtype from typed arrays and copies them',
    scoped(() => {
      const f = new Float32Array([1.5, -2, 3]);
      const i = new Int32Array([-7, 0, 2 ** 31 - 1]);
      const u = new Uint8Array([0, 128, 255]);
      const tf = tensor(f);
      const ti = tensor(i);
      const tu = tensor(u);
      expect([tf.dtype, ti.dtype, tu.dtype]).toEqual(['float32', 'int32', 'uint8']);
      expect(tf.toTypedArray()).toBeInstanceOf(Float32Array);
      expect(ti.toTypedArray()).toBeInstanceOf(Int32Array);
      expect(tu.toTypedArray()).toBeInstanceOf(Uint8Array);
      expect(ti.toArray()).toEqual([-7, 0, 2 ** 31 - 1]);
      expect(tu.toArray()).toEqual([0, 128, 255]);
      // A copy: changing the source later does not change the tensor.
      f[0] = 99;
      expect(tf.toArray()).toEqual([1.5, -2, 3]);
      // A subarray is read from its own window of the buffer.
      const window = new Float32Array([0, 1, 2, 3, 4, 5]).subarray(2, 5);
      expect(tensor(window).toArray()).toEqual([2, 3, 4]);
      // Node's Buffer is a Uint8Array.
      expect(tensor(Buffer.from([1, 2])).dtype).toBe('uint8');
    }),
  );

  it(
    'takes an explicit dtype and shape',
    scoped(() => {
      const labels = tensor([0, 3, 1], { dtype: 'int32' });
      expect(labels.dtype).toBe('int32');
      expect(labels.toTypedArray()).toEqual(new Int32Array([0, 3, 1]));
      expect(tensor([[0, 255]], { dtype: 'uint8' }).toTypedArray()).toEqual(new Uint8Array([0, 255]));
      expect(tensor(new Int32Array([5]), { dtype: 'int32' }).item()).toBe(5);

      const img = tensor(new Uint8Array(12), { shape: [2, 2, 3] });
      expect(img.shape).toEqual([2, 2, 3]);
      expect(img.dtype).toBe('uint8');
      // Flat numbers with a shape, and a nested array given another shape of the same size.
      expect(tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] }).toArray()).toEqual([
        [1, 2],
        [3, 4],
        [5, 6],
      ]);
      expect(tensor([[1, 2, 3, 4]], { shape: [2, 2] }).shape).toEqual([2, 2]);
      expect(tensor(7, { shape: [1, 1] }).toArray()).toEqual([[7]]);
    }),
  );

  it(
    'makes empty tensors (a dimension of 0)',
    scoped(() => {
      const a = tensor([]);
      expect(a.shape).toEqual([0]);
      expect(a.size).toBe(0);
      expect(a.toArray()).toEqual([]);
      const b = tensor([[], []]);
      expect(b.shape).toEqual([2, 0]);
      expect(b.toArray()).toEqual([[], []]);
      const c = tensor(new Int32Array(0), { shape: [0, 4] });
      expect(c.shape).toEqual([0, 4]);
      expect(c.dtype).toBe('int32');
      expect(c.toTypedArray()).toEqual(new Int32Array(0));
    }),
  );
});

describe('zeros, ones, full, zerosLike, onesLike', () => {
  it(
    'fill with the value in each dtype',
    scoped(() => {
      expect(zeros([2, 3]).toArray()).toEqual([
        [0, 0, 0],
        [0, 0, 0],
      ]);
      expect(ones([3]).toArray()).toEqual([1, 1, 1]);
      expect(ones([2], 'int32').toTypedArray()).toEqual(new Int32Array([1, 1]));
      expect(ones([2], 'uint8').toTypedArray()).toEqual(new Uint8Array([1, 1]));
      expect(zeros([2], 'int32').dtype).toBe('int32');
      expect(full([2, 2], 0.5).toArray()).toEqual([
        [0.5, 0.5],
        [0.5, 0.5],
      ]);
      expect(full([2], -(2 ** 31), 'int32').toArray()).toEqual([-(2 ** 31), -(2 ** 31)]);
      expect(full([2], 255, 'uint8').toArray()).toEqual([255, 255]);
      // float32 takes infinities (masks use -Infinity).
      expect(full([2], -Infinity).toArray()).toEqual([-Infinity, -Infinity]);
    }),
  );

  it(
    'make 0-d and empty tensors',
    scoped(() => {
      const s = full([], 4);
      expect(s.shape).toEqual([]);
      expect(s.item()).toBe(4);
      expect(zeros([]).toArray()).toBe(0);
      const e = zeros([2, 0, 3]);
      expect(e.size).toBe(0);
      expect(e.toArray()).toEqual([[], []]);
      expect(e.toTypedArray().length).toBe(0);
      expect(e.data().length).toBe(0);
      expect(ones([0]).toArray()).toEqual([]);
    }),
  );

  it(
    'copy shape and dtype with *Like',
    scoped(() => {
      const src = tensor(new Uint8Array(6), { shape: [2, 3] });
      const z = zerosLike(src);
      const o = onesLike(src);
      expect(z.shape).toEqual([2, 3]);
      expect(z.dtype).toBe('uint8');
      expect(o.toArray()).toEqual([
        [1, 1, 1],
        [1, 1, 1],
      ]);
      expect(onesLike(zeros([], 'int32')).toArray()).toBe(1);
    }),
  );
});

describe('arange', () => {
  it(
    'counts from 0 with one argument',
    scoped(() => {
      const t = arange(4);
      expect(t.shape).toEqual([4]);
      expect(t.dtype).toBe('float32');
      expect(t.toArray()).toEqual([0, 1, 2, 3]);
    }),
  );

  it(
    'takes fractional steps without accumulating error',
    scoped(() => {
      expect(arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
      const t = arange(0, 1, 0.1);
      expect(t.size).toBe(10);
      // Each value is start + step * i rounded once to float32, not a running sum.
      expect(Array.from(t.toTypedArray())).toEqual(
        Array.from({ length: 10 }, (_, i) => Math.fround(0.1 * i)),
      );
      // The stop is exclusive even when it is a multiple of the step in decimal but not in binary.
      expect(arange(0, 0.3, 0.1).size).toBe(3);
    }),
  );

  it(
    'takes negative steps',
    scoped(() => {
      expect(arange(5, 0, -1).toArray()).toEqual([5, 4, 3, 2, 1]);
      expect(arange(0, -1, -0.25).toArray()).toEqual([0, -0.25, -0.5, -0.75]);
      expect(arange(5, 0, -1.5).toArray()).toEqual([5, 3.5, 2, 0.5]);
    }),
  );

  it(
    'makes int32 ranges',
    scoped(() => {
      const t = arange(0, 10, 3, 'int32');
      expect(t.dtype).toBe('int32');
      expect(t.toTypedArray()).toEqual(new Int32Array([0, 3, 6, 9]));
      expect(arange(-3, 3, 2, 'int32').toArray()).toEqual([-3, -1, 1]);
      expect(arange(3, 0, -1, 'int32').toArray()).toEqual([3, 2, 1]);
      // Fractional values truncate toward zero, as astype does.
      expect(arange(0, 2, 0.5, 'int32').toArray()).toEqual([0, 0, 1, 1]);
    }),
  );

  it(
    'is empty when the range is',
    scoped(() => {
      expect(arange(3, 3).shape).toEqual([0]);
      expect(arange(5, 0).shape).toEqual([0]);
      expect(arange(0, 5, -1).toArray()).toEqual([]);
    }),
  );
});

describe('rand, randn, randint', () => {
  it(
    'rand: float32 in [low, high)',
    scoped(() => {
      const g = new Generator(1);
      const u = rand([1000], 0, 1, { generator: g });
      expect(u.dtype).toBe('float32');
      expect(u.shape).toEqual([1000]);
      for (const v of u.toTypedArray()) {
        expect(v >= 0 && v < 1).toBe(true);
      }
      for (const v of rand([10, 100], -2, 3, { generator: g }).toTypedArray()) {
        expect(v >= -2 && v < 3).toBe(true);
      }
      // low === high is allowed: every value is low.
      expect(rand([3], 2, 2, { generator: g }).toArray()).toEqual([2, 2, 2]);
      // Defaults: [0, 1) from the default generator.
      const d = rand([2, 2]);
      expect(d.shape).toEqual([2, 2]);
      expect(d.dtype).toBe('float32');
    }),
  );

  it(
    'randn: finite float32 values',
    scoped(() => {
      const n = randn([3, 333], 0, 1, { generator: new Generator(2) });
      expect(n.dtype).toBe('float32');
      expect(n.shape).toEqual([3, 333]);
      for (const v of n.toTypedArray()) expect(Number.isFinite(v)).toBe(true);
      // std 0 gives the mean exactly.
      expect(randn([4], 1.5, 0).toArray()).toEqual([1.5, 1.5, 1.5, 1.5]);
    }),
  );

  it(
    'randint: int32 by default, float32 on request, always in [low, high)',
    scoped(() => {
      const g = new Generator(3);
      const r = randint([2000], -5, 5, { generator: g });
      expect(r.dtype).toBe('int32');
      expect(r.toTypedArray()).toBeInstanceOf(Int32Array);
      for (const v of r.toTypedArray()) expect(v >= -5 && v < 5).toBe(true);
      const f = randint([500], 0, 3, { generator: g, dtype: 'float32' });
      expect(f.dtype).toBe('float32');
      for (const v of f.toTypedArray()) expect([0, 1, 2]).toContain(v);
      // A range of one value.
      expect(randint([3], 7, 8, { generator: g }).toArray()).toEqual([7, 7, 7]);
      // The widest range: all of int32.
      const wide = randint([64], -(2 ** 31), 2 ** 31, { generator: g }).toTypedArray();
      expect(new Set(wide).size).toBeGreaterThan(60);
    }),
  );

  it(
    'make 0-d and empty random tensors',
    scoped(() => {
      const g = new Generator(4);
      expect(rand([], 0, 1, { generator: g }).shape).toEqual([]);
      expect(typeof randn([], 0, 1, { generator: g }).item()).toBe('number');
      expect(randint([0, 3], 0, 2, { generator: g }).size).toBe(0);
    }),
  );
});

describe('reading values', () => {
  it(
    'toTypedArray returns a copy',
    scoped(() => {
      const t = tensor([1, 2, 3]);
      const copy = t.toTypedArray();
      copy[0] = 100;
      expect(t.toArray()).toEqual([1, 2, 3]);
      expect(t.toTypedArray()).not.toBe(t.toTypedArray());
    }),
  );

  it(
    'item reads any one-element tensor',
    scoped(() => {
      expect(tensor([[[2.5]]]).item()).toBe(2.5);
      expect(tensor([-4], { dtype: 'int32' }).item()).toBe(-4);
      expect(tensor([200], { dtype: 'uint8' }).item()).toBe(200);
      expect(tensor([1, 2, 3]).slice(2).item()).toBe(3);
    }),
  );

  it(
    'toString describes the tensor, also after dispose',
    scoped(() => {
      const t = tensor([1, 2]);
      expect(t.toString()).toBe('Tensor(shape=[2], dtype=float32, values=[1, 2])');
      t.dispose();
      expect(t.toString()).toBe('Tensor(disposed, shape=[2], dtype=float32)');
    }),
  );
});
