import { fromArrays, resizeDataset } from '@dlf/data';
import { describe, expect, it } from 'vitest';

describe('resizeDataset', () => {
  it('returns the same dataset when nothing changes', () => {
    const ds = fromArrays(new Uint8Array(4), Int32Array.of(0), [1, 2, 2]);
    expect(resizeDataset(ds, {})).toBe(ds);
  });

  it('converts grey to RGB and RGB to grey (BT.601)', () => {
    const grey = fromArrays(Uint8Array.of(10, 20, 30, 40), Int32Array.of(0), [1, 2, 2]);
    expect(Array.from(resizeDataset(grey, { channels: 3 }).images)).toEqual([
      10, 20, 30, 40, 10, 20, 30, 40, 10, 20, 30, 40,
    ]);
    const rgb = fromArrays(Uint8Array.of(255, 0, 0, 255, 0, 0), Int32Array.of(0), [3, 1, 2]);
    expect(Array.from(resizeDataset(rgb, { channels: 1 }).images)).toEqual([76, 150]); // pure red, pure green
  });

  it('resizes bilinearly with half-pixel centres', () => {
    const ds = fromArrays(Uint8Array.of(0, 100), Int32Array.of(0), [1, 1, 2]);
    // 2 → 4 columns: centres at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped to the last pixel).
    expect(Array.from(resizeDataset(ds, { size: [1, 4] }).images)).toEqual([0, 25, 75, 100]);
    const up = resizeDataset(fromArrays(new Uint8Array(784).fill(9), Int32Array.of(0), [1, 28, 28]), {
      size: 32,
    });
    expect(up.shape).toEqual([1, 32, 32]);
    expect(up.images.every((v) => v === 9)).toBe(true);
  });
});
