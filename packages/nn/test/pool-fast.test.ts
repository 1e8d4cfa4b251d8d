// The 2x2 / stride 2 max- and average-pool kernels (isa/pool.h) against a naive reference: values,
// the gradient routed to the first maximum of each window (ties, NaN) or spread over it, odd sizes
// whose last row or column no window covers, and widths that are not multiples of any vector width
// (a row's ragged end runs as one more vector overlapping the last whole one).

import { testing } from '@dlf/native/testing';
import { adaptiveAvgPool2d, avgPool2d, maxPool2d, mul, sum } from '@dlf/nn';
import { getSimd, setSimd, type Tensor, tensor } from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

function reference(x: Float32Array, n: number, h: number, w: number, g: Float32Array) {
  const p = Math.floor(h / 2),
    q = Math.floor(w / 2);
  const y = new Float32Array(n * p * q);
  const dx = new Float32Array(n * h * w);
  for (let pl = 0; pl < n; pl++)
    for (let oh = 0; oh < p; oh++)
      for (let ow = 0; ow < q; ow++) {
        let best = Number.NEGATIVE_INFINITY;
        let bi = (pl * h + 2 * oh) * w + 2 * ow;
        let found = false;
        for (let i = 0; i < 2 && !found; i++)
          for (let j = 0; j < 2; j++) {
            const at = (pl * h + 2 * oh + i) * w + 2 * ow + j;
            const v = x[at]!;
            if (v > best || Number.isNaN(v)) {
              best = v;
              bi = at;
              if (Number.isNaN(v)) {
                found = true;
                break;
              }
            }
          }
        const o = (pl * p + oh) * q + ow;
        y[o] = best;
        dx[bi] += g[o]!;
      }
  return { y, dx };
}

// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd();
const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
afterAll(() => setSimd(startSimd as 'avx512' | 'avx2' | 'neon' | 'base'));

// A fixed linear congruential sequence in [0, 1).
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

// n values: NaN with probability nan, `inf` with probability infs, small integers (ties) with
// probability ties, else values of many magnitudes (where the order of sums shows).
function mixedData(
  n: number,
  rnd: () => number,
  p: { nan: number; inf: number; infs: number; ties: number },
) {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rnd();
    if (u < p.nan) data[i] = Number.NaN;
    else if (u < p.nan + p.infs) data[i] = p.inf;
    else if (u < p.nan + p.infs + p.ties) data[i] = Math.floor(rnd() * 5) - 2;
    else data[i] = (rnd() * 2 - 1) * 10 ** Math.floor(rnd() * 8);
  }
  return data;
}

// pool(x) on data of the given shape, then the gradient of sum(y * g) for a random g: y, dx and g.
function poolWithGradient(
  pool: (x: Tensor) => Tensor,
  data: Float32Array,
  shape: number[],
  rnd: () => number,
) {
  const x = tensor(data, { shape }).requiresGrad_();
  const y = pool(x);
  const g = new Float32Array(y.shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < g.length; i++) g[i] = rnd() * 2 - 1;
  sum(mul(y, tensor(g, { shape: y.shape }))).backward();
  return {
    shape: y.shape,
    y: Array.from(y.toTypedArray() as Float32Array),
    dx: Array.from(x.grad!.toTypedArray() as Float32Array),
    g,
  };
}

const sizes: [number, number, number][] = [
  [2, 32, 32],
  [3, 16, 16],
  [1, 7, 9],
  [2, 5, 37],
  [1, 2, 2],
  [2, 12, 66],
  [1, 3, 3],
  [2, 8, 8],
  [3, 16, 9],
  [1, 4, 24],
  // MNIST-sized planes: ragged ends of 8-lane (14 outputs) and 4-lane (7, 5) vectors
  [2, 28, 28],
  [3, 14, 14],
  [2, 6, 10],
];

// Float32 sums from +0 in row-major order, then / 4 (as the general path, so the same bits); the
// gradient gy / 4 over each window, 0 where no window reaches.
function avgReference(x: Float32Array, n: number, h: number, w: number, g: Float32Array) {
  const p = Math.floor(h / 2),
    q = Math.floor(w / 2);
  const y = new Float32Array(n * p * q);
  const dx = new Float32Array(n * h * w);
  for (let pl = 0; pl < n; pl++)
    for (let oh = 0; oh < p; oh++)
      for (let ow = 0; ow < q; ow++) {
        const o = (pl * p + oh) * q + ow;
        let s = 0;
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 2; j++) {
            const at = (pl * h + 2 * oh + i) * w + 2 * ow + j;
            s = Math.fround(s + x[at]!);
            dx[at] = Math.fround(0 + Math.fround(g[o]! * 0.25));
          }
        y[o] = Math.fround(s * 0.25);
      }
  return { y, dx };
}

// The 2x2 kernels against their references: max on few distinct values (ties), a few NaN and
// -Infinity; average on values of many magnitudes (so the order of the sums shows), NaN and +Infinity.
const kinds = [
  {
    pool: (x: Tensor) => maxPool2d(x, { kernelSize: 2 }),
    reference,
    seed: 1,
    data: { nan: 0.03, inf: Number.NEGATIVE_INFINITY, infs: 0.03, ties: 1 },
  },
  {
    pool: (x: Tensor) => avgPool2d(x, { kernelSize: 2 }),
    reference: avgReference,
    seed: 7,
    data: { nan: 0.02, inf: Number.POSITIVE_INFINITY, infs: 0.02, ties: 0 },
  },
];

describe('maxPool2d and avgPool2d 2x2 fast paths', () => {
  for (const isa of isas)
    for (const [index, kind] of kinds.entries()) {
      it(`match the reference bit for bit (${index ? 'average' : 'max'}, ${isa})`, () => {
        setSimd(isa);
        const rnd = random(kind.seed);
        for (const [n, h, w] of sizes) {
          const data = mixedData(n * h * w, rnd, kind.data);
          const got = poolWithGradient(kind.pool, data, [n, 1, h, w], rnd);
          const ref = kind.reference(data, n, h, w, got.g);
          expect(got.y, `y ${n}x${h}x${w}`).toEqual(Array.from(ref.y));
          expect(got.dx, `dx ${n}x${h}x${w}`).toEqual(Array.from(ref.dx));
        }
      });
    }
});

// Any other window (isa/pool.h's pool_window) against a scalar reference. Max: from -inf at the
// window's first in-plane place, a later element wins when greater, or when it is the window's first
// NaN (as the 2x2 kernels and the fused pools; the scalar loop this replaced let a NaN in a later row
// take the index over); average: float32 sums from +0 in row-major order over the in-plane
// elements, divided by the whole window.
interface Window {
  k: [number, number];
  s: [number, number];
  p: [number, number];
}
function windowReference(x: Float32Array, n: number, h: number, w: number, win: Window, g: Float32Array) {
  const [kh, kw] = win.k;
  const [sh, sw] = win.s;
  const [ph, pw] = win.p;
  const P = Math.floor((h + 2 * ph - kh) / sh) + 1,
    Q = Math.floor((w + 2 * pw - kw) / sw) + 1;
  const max = new Float32Array(n * P * Q);
  const avg = new Float32Array(n * P * Q);
  const dmax = new Float32Array(n * h * w);
  for (let pl = 0; pl < n; pl++)
    for (let oh = 0; oh < P; oh++)
      for (let ow = 0; ow < Q; ow++) {
        const h0 = oh * sh - ph,
          w0 = ow * sw - pw;
        let best = Number.NEGATIVE_INFINITY;
        let bi = Math.max(h0, 0) * w + Math.max(w0, 0);
        let s = 0;
        let nan = false;
        for (let r = Math.max(h0, 0); r < Math.min(h0 + kh, h); r++)
          for (let c = Math.max(w0, 0); c < Math.min(w0 + kw, w); c++) {
            const v = x[pl * h * w + r * w + c]!;
            s = Math.fround(s + v);
            if (!nan && (v > best || Number.isNaN(v))) {
              best = v;
              bi = r * w + c;
              nan = Number.isNaN(v);
            }
          }
        const o = (pl * P + oh) * Q + ow;
        max[o] = best;
        avg[o] = Math.fround(s * Math.fround(1 / (kh * kw)));
        dmax[pl * h * w + bi] = Math.fround(dmax[pl * h * w + bi]! + g[o]!);
      }
  return { max, avg, dmax, P, Q };
}

describe('pools of any window', () => {
  const windows: Window[] = [
    { k: [3, 3], s: [2, 2], p: [1, 1] }, // an ImageNet ResNet's stem pool
    { k: [3, 3], s: [1, 1], p: [1, 1] },
    { k: [2, 2], s: [1, 1], p: [0, 0] },
    { k: [3, 2], s: [1, 3], p: [1, 0] },
    { k: [5, 5], s: [2, 2], p: [2, 2] },
    { k: [1, 1], s: [2, 2], p: [0, 0] },
    { k: [3, 3], s: [3, 3], p: [0, 0] },
  ];
  const planes: [number, number, number][] = [
    [2, 32, 32],
    [3, 7, 9],
    [1, 5, 37],
    [2, 28, 28],
    [1, 3, 3],
    [2, 16, 50],
    [1, 4, 7], // all -Infinity: every index stays at its window's first in-plane place
  ];
  for (const isa of isas) {
    it(`match the scalar loop's bits (${isa})`, () => {
      setSimd(isa);
      const rnd = random(11);
      for (const win of windows)
        for (const [n, h, w] of planes) {
          if (h + 2 * win.p[0] < win.k[0] || w + 2 * win.p[1] < win.k[1]) continue;
          // ties, NaN, -Infinity (whole windows of it at the edges) and values of many magnitudes
          const data = mixedData(n * h * w, rnd, {
            nan: 0.03,
            inf: Number.NEGATIVE_INFINITY,
            infs: 0.12,
            ties: 0.35,
          });
          if (h === 4 && w === 7) data.fill(Number.NEGATIVE_INFINITY);
          const options = { kernelSize: win.k, stride: win.s, padding: win.p };
          const tag = `${JSON.stringify(win)} on ${n}x${h}x${w} (${isa})`;
          const got = poolWithGradient((x) => maxPool2d(x, options), data, [n, 1, h, w], rnd);
          const ref = windowReference(data, n, h, w, win, got.g);
          expect(got.shape, tag).toEqual([n, 1, ref.P, ref.Q]);
          expect(got.y, `max ${tag}`).toEqual(Array.from(ref.max));
          expect(got.dx, `max dx ${tag}`).toEqual(Array.from(ref.dmax));
          const a = avgPool2d(tensor(data, { shape: [n, 1, h, w] }), options);
          expect(Array.from(a.toTypedArray() as Float32Array), `avg ${tag}`).toEqual(Array.from(ref.avg));
          // the average's gradient, from an incoming gradient holding NaN, infinities, ties and many magnitudes
          const gy = mixedData(n * ref.P * ref.Q, rnd, {
            nan: 0.02,
            inf: Number.POSITIVE_INFINITY,
            infs: 0.03,
            ties: 0.3,
          });
          const xg = tensor(data, { shape: [n, 1, h, w] }).requiresGrad_();
          avgPool2d(xg, options).backward({ grad: tensor(gy, { shape: [n, 1, ref.P, ref.Q] }) });
          const dx = Array.from(xg.grad!.toTypedArray() as Float32Array);
          expect(dx, `avg dx ${tag}`).toEqual(Array.from(avgGradReference(gy, n, h, w, win, ref.P, ref.Q)));
        }
    });
  }
  it('spread the gradient like the scatter over each window (float64, every table)', () => {
    const rnd = random(5);
    for (const isa of isas) {
      setSimd(isa);
      for (const win of windows) {
        const [n, h, w] = [2, 13, 21];
        const options = { kernelSize: win.k, stride: win.s, padding: win.p };
        const xg = tensor(new Float32Array(n * h * w), { shape: [n, 1, h, w] }).requiresGrad_();
        const y = avgPool2d(xg, options);
        const [P, Q] = [y.shape[2]!, y.shape[3]!];
        const gy = Float32Array.from({ length: n * P * Q }, () => rnd() * 2 - 1);
        y.backward({ grad: tensor(gy, { shape: y.shape }) });
        const want = new Float64Array(n * h * w);
        for (let pl = 0; pl < n; pl++)
          for (let oh = 0; oh < P; oh++)
            for (let ow = 0; ow < Q; ow++)
              for (let i = 0; i < win.k[0]; i++)
                for (let j = 0; j < win.k[1]; j++) {
                  const r = oh * win.s[0] - win.p[0] + i,
                    c = ow * win.s[1] - win.p[1] + j;
                  if (r >= 0 && r < h && c >= 0 && c < w)
                    want[(pl * h + r) * w + c]! += gy[(pl * P + oh) * Q + ow]! / (win.k[0] * win.k[1]);
                }
        const got = xg.grad!.toTypedArray() as Float32Array;
        for (let i = 0; i < want.length; i++)
          expect(Math.abs(got[i]! - want[i]!), `${JSON.stringify(win)} (${isa}) at ${i}`).toBeLessThan(1e-6);
      }
    }
  });
});

// The average pool's input gradient as the kernel sums it: over gy spread out with stride - 1 zeros
// between its values, a kh x kw window padded by kh - 1 - ph (kw - 1 - pw), float32 sums from +0 in
// row-major order over the window's in-range rows, times 1 / (kh kw).
function avgGradReference(
  gy: Float32Array,
  n: number,
  h: number,
  w: number,
  win: Window,
  P: number,
  Q: number,
) {
  const [kh, kw] = win.k;
  const [sh, sw] = win.s;
  const top = kh - 1 - win.p[0],
    left = kw - 1 - win.p[1];
  const hs = (P - 1) * sh + 1,
    ws = (Q - 1) * sw + 1;
  const inv = Math.fround(1 / (kh * kw));
  const dx = new Float32Array(n * h * w);
  for (let pl = 0; pl < n; pl++)
    for (let r = 0; r < h; r++)
      for (let c = 0; c < w; c++) {
        let s = 0;
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const a = r - top + i,
              b = c - left + j;
            if (a < 0 || a >= hs || b < 0 || b >= ws || a % sh !== 0 || b % sw !== 0) continue;
            s = Math.fround(s + gy[(pl * P + a / sh) * Q + b / sw]!);
          }
        dx[(pl * h + r) * w + c] = Math.fround(s * inv);
      }
  return dx;
}

describe('global average pooling (adaptiveAvgPool2d to 1x1)', () => {
  it('averages each plane and spreads the gradient evenly, NaN included (every table)', () => {
    const rnd = random(3);
    for (const isa of isas) {
      setSimd(isa);
      for (const [n, h, w] of [
        [3, 1, 1],
        [2, 3, 5],
        [19, 4, 4], // 38 planes: groups of every vector width and a partial one
        [9, 7, 7], // a masked chunk after whole ones
        [3, 15, 15], // the largest plane summed W planes at a time
        [2, 17, 17],
        [5, 32, 32],
      ] as const) {
        const data = Float32Array.from(
          { length: n * 2 * h * w },
          () => (rnd() * 2 - 1) * 10 ** Math.floor(rnd() * 6),
        );
        data[h * w - 1] = Number.NaN; // the first plane's last value (a vector tail)
        const x = tensor(data, { shape: [n, 2, h, w] }).requiresGrad_();
        const y = adaptiveAvgPool2d(x, 1);
        const g = Float32Array.from({ length: n * 2 }, () => rnd() * 2 - 1);
        y.backward({ grad: tensor(g, { shape: [n, 2, 1, 1] }) });
        const got = y.toTypedArray() as Float32Array;
        const dx = x.grad!.toTypedArray() as Float32Array;
        for (let pl = 0; pl < n * 2; pl++) {
          let s = 0;
          let magnitude = 0;
          for (let i = 0; i < h * w; i++) {
            s += data[pl * h * w + i]!;
            magnitude += Math.abs(data[pl * h * w + i]!);
          }
          const tag = `plane ${pl} of ${n}x2x${h}x${w} (${isa})`;
          if (pl === 0) expect(got[0], tag).toBeNaN();
          else
            expect(Math.abs(got[pl]! - s / (h * w)), tag).toBeLessThanOrEqual((1e-7 * magnitude) / (h * w));
          for (let i = 0; i < h * w; i++) expect(dx[pl * h * w + i], tag).toBe(Math.fround(g[pl]! / (h * w)));
        }
      }
    }
  });
});
