import { Dataset, fromArrays, fromTensors } from '@dlf/data';
import { memory, tensor } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

function tiny(): Dataset {
  const images = Uint8Array.from({ length: 4 * 2 * 2 * 2 }, (_, i) => i);
  return new Dataset({
    images,
    labels: Int32Array.of(0, 1, 1, 2),
    shape: [2, 2, 2],
    classes: ['a', 'b', 'c'],
    name: 'tiny',
  });
}

describe('Dataset', () => {
  it('exposes samples, labels and shape', () => {
    const ds = tiny();
    expect(ds.length).toBe(4);
    expect(ds.sampleSize).toBe(8);
    expect(ds.dtype).toBe('uint8');
    expect(Array.from(ds.image(1))).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    expect(ds.label(3)).toBe(2);
    expect(ds.classCounts()).toEqual([1, 2, 1]);
    expect(String(ds)).toContain('4 samples of [2, 2, 2] uint8, 3 classes');
  });

  it('subsets compactly, in the given order', () => {
    const sub = tiny().subset([3, 0]);
    expect(sub.length).toBe(2);
    expect(Array.from(sub.labels)).toEqual([2, 0]);
    expect(Array.from(sub.image(0))).toEqual([24, 25, 26, 27, 28, 29, 30, 31]);
    expect(() => tiny().subset([4])).toThrow(/indices\[0\]/);
  });

  it('validates its parts', () => {
    const base = { images: new Uint8Array(8), labels: Int32Array.of(0), shape: [2, 2, 2], classes: ['a'] };
    expect(() => new Dataset({ ...base, images: new Uint8Array(7) })).toThrow(
      /Expected 1 samples of shape \[2, 2, 2\]/,
    );
    expect(() => new Dataset({ ...base, labels: Int32Array.of(1) })).toThrow(/labels\[0\]/);
    expect(() => new Dataset({ ...base, classes: [] })).toThrow(/classes/);
    expect(() => new Dataset({ ...base, shape: [0, 2] })).toThrow(/shape/);
    expect(() => tiny().image(9)).toThrow(/Expected a sample index in \[0, 3\] for i but received 9/);
  });

  it('round-trips through tensors', () => {
    const before = memory().numTensors;
    const { x, y } = tiny().toTensors();
    expect(x.shape).toEqual([4, 2, 2, 2]);
    expect(x.dtype).toBe('uint8');
    expect(y.dtype).toBe('int32');
    const back = fromTensors(x, y, { classes: ['a', 'b', 'c'] });
    x.dispose();
    y.dispose();
    expect(memory().numTensors).toBe(before);
    expect(Array.from(back.images)).toEqual(Array.from(tiny().images));
    expect(Array.from(back.labels)).toEqual([0, 1, 1, 2]);
  });

  it('builds in-memory datasets from float tensors and arrays', () => {
    const x = tensor(Float32Array.from([0.5, 0.25, 1, 0]), { shape: [2, 2] });
    const y = tensor([1, 0], { dtype: 'float32' });
    const ds = fromTensors(x, y);
    x.dispose();
    y.dispose();
    expect(ds.dtype).toBe('float32');
    expect(ds.shape).toEqual([2]);
    expect(ds.classes).toEqual(['0', '1']);
    const bad = tensor([0.5, 1], { dtype: 'float32' });
    const x2 = tensor(new Float32Array(4), { shape: [2, 2] });
    expect(() => fromTensors(x2, bad)).toThrow(/y\[0\]/);
    bad.dispose();
    x2.dispose();
    expect(fromArrays(new Uint8Array(6), Int32Array.of(0, 4), [3]).classes).toHaveLength(5);
  });
});
