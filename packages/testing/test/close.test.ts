import { CloseError, compareClose, expectClose, maxAbs } from '@dlf/testing';
import { tensor } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

describe('expectClose', () => {
  it('passes within atol + rtol·|expected| and fails just beyond, naming index, values and max error', () => {
    expect(() => expectClose([1, 2, 100], [1, 2.000001, 100.0009], { rtol: 1e-5, atol: 1e-6 })).not.toThrow();
    const bad = compareClose([1, 2, 3.1, 4.5], [1, 2, 3, 4], { rtol: 0, atol: 0.01, name: 'forward' });
    expect(bad.ok).toBe(false);
    expect(bad.mismatches).toBe(2);
    expect(bad.firstIndex).toBe(2);
    expect(bad.maxAbsError).toBeCloseTo(0.5, 12);
    expect(bad.message).toMatch(/^forward: 2 of 4 elements differ/);
    expect(bad.message).toMatch(
      /first at index 2: actual 3.1, expected 3; max \|actual - expected\| 0.5 at index 3/,
    );
    expect(() => expectClose([1, 2, 3.1, 4.5], [1, 2, 3, 4], { atol: 0.01 })).toThrow(CloseError);
  });

  it('counts a NaN on either side as a mismatch, and NaN with NaN only when asked', () => {
    expect(() => expectClose([1, Number.NaN], [1, 2])).toThrow(/index 1: actual NaN, expected 2/);
    expect(() => expectClose([1, 2], [1, Number.NaN])).toThrow(/index 1: actual 2, expected NaN/);
    expect(() => expectClose([Number.NaN], [Number.NaN])).toThrow(/NaN never matches/);
    expect(() => expectClose([Number.NaN, 1], [Number.NaN, 1], { equalNan: true })).not.toThrow();
    // a NaN reads as an infinite error, never as "no error"
    expect(compareClose(Number.NaN, 0, { atol: 1e9 }).maxAbsError).toBe(Infinity);
  });

  it('counts an infinity against a finite value as a mismatch; equal infinities match', () => {
    expect(() => expectClose([Infinity], [1e30], { rtol: 1 })).toThrow(/actual Infinity, expected 1e\+30/);
    expect(() => expectClose([1], [-Infinity], { atol: Infinity })).toThrow(/expected -Infinity/);
    expect(() => expectClose([-Infinity], [Infinity])).toThrow(CloseError);
    expect(() => expectClose([Infinity, -Infinity], [Infinity, -Infinity])).not.toThrow();
  });

  it('catches shape and length mismatches before comparing values', () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(() => expectClose(t, { shape: [3, 2], data: [1, 2, 3, 4, 5, 6] })).toThrow(
      /shape \[2, 3\] but \[3, 2\] expected/,
    );
    expect(() =>
      expectClose(
        [
          [1, 2],
          [3, 4],
        ],
        [[1, 2, 3, 4]],
      ),
    ).toThrow(/shape \[2, 2\] but \[1, 4\] expected/);
    expect(() => expectClose(new Float32Array(3), [0, 0])).toThrow(/3 elements but 2 expected/);
    expect(() => expectClose(tensor(5), [5, 5])).toThrow(/1 elements but 2 expected/);
    expect(() => expectClose([[1, 2], [3]], [1, 2, 3])).toThrow(/ragged/);
  });

  it('compares numbers, typed arrays, nested arrays, tensors and golden tensors alike', () => {
    expectClose(0.1 + 0.2, 0.3);
    expectClose(new Float32Array([0.1, 0.2]), [0.1, 0.2], { rtol: 1e-7 });
    expectClose(
      tensor([
        [1, 2],
        [3, 4],
      ]),
      [
        [1, 2],
        [3, 4],
      ],
    );
    expectClose(tensor([1, 2, 3, 4]), { shape: [4], data: [1, 2, 3, 4] });
    expectClose(tensor([1, 2, 3, 4]), new Float64Array([1, 2, 3, 4])); // a flat array carries no shape
    expect(() => expectClose(tensor([[1, 2]]), { shape: [1, 2], data: [1, 3] })).toThrow(
      /index 1 \[0, 1\]: actual 2, expected 3/,
    );
  });

  it('relativeToMax scales atol by the largest expected magnitude', () => {
    const want = [1000, 0.001];
    const got = [1000.01, 0.009];
    expect(compareClose(got, want, { atol: 2e-5, rtol: 0 }).ok).toBe(false);
    expect(compareClose(got, want, { atol: 2e-5, rtol: 0, relativeToMax: true }).ok).toBe(true);
    expect(maxAbs([3, -7, Number.NaN])).toBe(7);
  });

  it('runs one loop over 100,000 elements and finds the one NaN', () => {
    const want = new Float32Array(100_000).map((_, i) => Math.sin(i));
    const got = want.slice();
    got[76_543] = Number.NaN;
    const start = performance.now();
    const r = compareClose(got, want, { rtol: 1e-6, atol: 0 });
    const ms = performance.now() - start;
    expect(r).toMatchObject({ ok: false, mismatches: 1, firstIndex: 76_543, maxAbsError: Infinity });
    expect(ms).toBeLessThan(1000); // ~1 ms in practice; a toEqual-style deep compare is far slower
  });
});
