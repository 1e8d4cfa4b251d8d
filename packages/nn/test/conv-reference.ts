// A float64 reference convolution for the native kernel tests (conv-paths, conv-winograd): the
// forward and the gradients of sum(y * g), and a comparison that treats NaN and Inf exactly.
import { expect } from 'vitest';

export interface Case {
  n: number;
  c: number;
  h: number;
  w: number;
  k: number;
  r: number;
  s: number;
  stride: [number, number];
  pad: [number, number];
  dil: [number, number];
  groups: number;
}

export const outSize = (i: number, k: number, st: number, p: number, d: number) =>
  Math.floor((i + 2 * p - d * (k - 1) - 1) / st) + 1;

// Float64 reference: y, and the gradients of sum(y * g) with respect to x, w and b.
export function reference(c: Case, x: Float32Array, w: Float32Array, b: Float32Array, g: Float32Array) {
  const P = outSize(c.h, c.r, c.stride[0], c.pad[0], c.dil[0]);
  const Q = outSize(c.w, c.s, c.stride[1], c.pad[1], c.dil[1]);
  const cg = c.c / c.groups;
  const kg = c.k / c.groups;
  const y = new Float64Array(c.n * c.k * P * Q);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(c.k);
  for (let n = 0; n < c.n; n++)
    for (let k = 0; k < c.k; k++) {
      const grp = Math.floor(k / kg);
      for (let p = 0; p < P; p++)
        for (let q = 0; q < Q; q++) {
          const o = ((n * c.k + k) * P + p) * Q + q;
          let acc = b[k]!;
          const gv = g[o]!;
          db[k] += gv;
          for (let ci = 0; ci < cg; ci++)
            for (let r = 0; r < c.r; r++) {
              const ih = p * c.stride[0] - c.pad[0] + r * c.dil[0];
              if (ih < 0 || ih >= c.h) continue;
              for (let s = 0; s < c.s; s++) {
                const iw = q * c.stride[1] - c.pad[1] + s * c.dil[1];
                if (iw < 0 || iw >= c.w) continue;
                const xi = ((n * c.c + grp * cg + ci) * c.h + ih) * c.w + iw;
                const wi = ((k * cg + ci) * c.r + r) * c.s + s;
                acc += x[xi]! * w[wi]!;
                dx[xi] += gv * w[wi]!;
                dw[wi] += gv * x[xi]!;
              }
            }
          y[o] = acc;
        }
    }
  return { y, dx, dw, db };
}

// NaN where the reference has NaN, the same infinity where it has one, else within tolerance.
export function expectMatches(got: Float32Array, want: Float64Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  let scale = 1;
  for (const v of want) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < got.length; i++) {
    const gv = got[i]!;
    const wv = want[i]!;
    if (Number.isNaN(wv)) expect(Number.isNaN(gv), `${what}[${i}] should be NaN, got ${gv}`).toBe(true);
    else if (!Number.isFinite(wv)) expect(gv, `${what}[${i}]`).toBe(wv);
    else if (!(Math.abs(gv - wv) <= 1e-4 * scale)) {
      expect.fail(`${what}[${i}]: got ${gv}, want ${wv} (scale ${scale})`);
    }
  }
}

// Every non-finite reference value is non-finite here; a finite one is within tolerance unless its
// group (a tile, a kernel) holds a non-finite reference value.
export function expectReaches(
  got: Float32Array,
  want: Float64Array,
  group: (i: number) => string,
  what: string,
): void {
  const poisoned = new Set<string>();
  want.forEach((v, i) => {
    if (!Number.isFinite(v)) poisoned.add(group(i));
  });
  expect(poisoned.size, `${what}: the poison reached the reference`).toBeGreaterThan(0);
  let scale = 1;
  for (const v of want) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < got.length; i++) {
    const gv = got[i]!;
    const wv = want[i]!;
    if (!Number.isFinite(wv))
      expect(Number.isFinite(gv), `${what}[${i}] should be non-finite, got ${gv}`).toBe(false);
    else if (!poisoned.has(group(i)) && !(Math.abs(gv - wv) <= 1e-4 * scale))
      expect.fail(`${what}[${i}]: got ${gv}, want ${wv} (scale ${scale})`);
  }
}

/** Runs fn with a native path switch (a testing setter that returns its previous value) at `on`, then restores it. */
export function withSetting<T>(set: (on: boolean) => boolean, on: boolean, fn: () => T): T {
  const prev = set(on);
  try {
    return fn();
  } finally {
    set(prev);
  }
}
