import { mix32, permutation, Rng } from '@dlf/data';
import { describe, expect, it } from 'vitest';

describe('Rng', () => {
  it('is deterministic for a seed and stream', () => {
    const a = new Rng(42, 1, 2);
    const b = new Rng(42, 1, 2);
    for (let i = 0; i < 100; i++) expect(a.nextU32()).toBe(b.nextU32());
    expect(a.counter).toBe(100);
  });

  it('differs between seeds and streams', () => {
    const draw = (r: Rng) => Array.from({ length: 8 }, () => r.nextU32());
    const base = draw(new Rng(1, 0));
    expect(draw(new Rng(2, 0))).not.toEqual(base);
    expect(draw(new Rng(1, 1))).not.toEqual(base);
    expect(draw(new Rng(1))).not.toEqual(base);
    // Seeds above 2^32 are distinct from their low bits.
    expect(draw(new Rng(2 ** 32 + 1, 0))).not.toEqual(base);
  });

  it('gives unbiased-looking floats and integers', () => {
    const r = new Rng(7);
    const counts = new Array(10).fill(0);
    let sum = 0;
    let outside = 0;
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const f = r.next();
      if (!(f >= 0 && f < 1)) outside++;
      sum += f;
      counts[r.nextInt(10)]++;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
    // chi-square with 9 degrees of freedom; 30 is far beyond the 0.999 quantile (27.9).
    const chi = counts.reduce((a, c) => a + (c - n / 10) ** 2 / (n / 10), 0);
    expect(chi).toBeLessThan(30);
  });

  it('rejects bad seeds and streams', () => {
    expect(() => new Rng(-1)).toThrow(/seed/);
    expect(() => new Rng(1.5)).toThrow(/seed/);
    expect(() => new Rng(0, 2 ** 32)).toThrow(/streams\[0\]/);
    expect(() => new Rng(0).nextInt(0)).toThrow(/n/);
  });

  it('mix32 is a 32-bit value', () => {
    expect(mix32(0)).toBe(0);
    expect(mix32(1)).toBeGreaterThan(0);
    expect(mix32(0xffffffff)).toBeLessThan(2 ** 32);
  });
});

describe('permutation', () => {
  it('is a permutation, reproducible, and differs by stream', () => {
    const p = permutation(1000, 3, 0);
    const sorted = Array.from(p).sort((a, b) => a - b);
    expect(sorted).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Array.from(permutation(1000, 3, 0))).toEqual(Array.from(p));
    expect(Array.from(permutation(1000, 3, 1))).not.toEqual(Array.from(p));
  });

  it('places each element uniformly', () => {
    // Position of element 0 over many streams: roughly uniform over 4 slots.
    const counts = [0, 0, 0, 0];
    for (let s = 0; s < 4000; s++) counts[permutation(4, 9, s).indexOf(0)]!++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });
});
