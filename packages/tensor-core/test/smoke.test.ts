import { memory, ones, tensor, tidy } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

describe('smoke', () => {
  it('creates and reads', () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.slice(1).toArray()).toEqual([[4, 5, 6]]);
    t.dispose();
  });
  it('using works', () => {
    const before = memory().numTensors;
    {
      using t = ones([3]);
      expect(t.size).toBe(3);
    }
    expect(memory().numTensors).toBe(before);
    tidy(() => ones([2]));
  });
});
