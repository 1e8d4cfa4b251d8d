// The 2x2 / stride 2 max- and average-pool kernels (isa/pool.h) against a naive reference: values,
// the gradient routed to the first maximum of each window (ties, NaN) or spread over it, odd sizes
// whose last row or column no window covers, and widths that are not multiples of any vector width
// (a row's ragged end runs as one more vector overlapping the last whole one).

import { testing } from '@dlf/native/testing';
import { avgPool2d, maxPool2d, mul, sum } from '@dlf/nn';
import { getSimd, setSimd, tensor } from '@dlf/tensor-core';
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

const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
const startSimd = getSimd();
afterAll(() => setSimd(startSimd as 'avx512' | 'avx2' | 'neon' | 'base'));

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

describe('maxPool2d 2x2 fast path', () => {
  for (const isa of isas) {
    it(`matches the reference (${isa})`, () => {
      setSimd(isa);
      let seed = 1;
      const rnd = () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      for (const [n, h, w] of sizes) {
        const data = new Float32Array(n * h * w);
        // Few distinct values, so windows have ties; a few NaN and -Infinity.
        for (let i = 0; i < data.length; i++) {
          const u = rnd();
          data[i] = u < 0.03 ? Number.NaN : u < 0.06 ? Number.NEGATIVE_INFINITY : Math.floor(rnd() * 5) - 2;
        }
        const x = tensor(data, { shape: [n, 1, h, w] }).requiresGrad_();
        const y = maxPool2d(x, { kernelSize: 2 });
        const gdata = new Float32Array(y.shape.reduce((a, b) => a * b, 1));
        for (let i = 0; i < gdata.length; i++) gdata[i] = rnd() * 2 - 1;
        const g = tensor(gdata, { shape: y.shape });
        sum(mul(y, g)).backward();
        const ref = reference(data, n, h, w, gdata);
        expect(Array.from(y.toTypedArray() as Float32Array), `y ${n}x${h}x${w}`).toEqual(Array.from(ref.y));
        expect(Array.from(x.grad!.toTypedArray() as Float32Array), `dx ${n}x${h}x${w}`).toEqual(
          Array.from(ref.dx),
        );
      }
    });
  }
});

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

describe('avgPool2d 2x2 fast path', () => {
  for (const isa of isas) {
    it(`matches the general path's bits (${isa})`, () => {
      setSimd(isa);
      let seed = 7;
      const rnd = () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      for (const [n, h, w] of sizes) {
        const data = new Float32Array(n * h * w);
        // Values of many magnitudes (so the order of the sums shows), a few NaN and infinities.
        for (let i = 0; i < data.length; i++) {
          const u = rnd();
          data[i] =
            u < 0.02
              ? Number.NaN
              : u < 0.04
                ? Number.POSITIVE_INFINITY
                : (rnd() * 2 - 1) * 10 ** Math.floor(rnd() * 8);
        }
        const x = tensor(data, { shape: [n, 1, h, w] }).requiresGrad_();
        const y = avgPool2d(x, { kernelSize: 2 });
        const gdata = new Float32Array(y.shape.reduce((a, b) => a * b, 1));
        for (let i = 0; i < gdata.length; i++) gdata[i] = rnd() * 2 - 1;
        sum(mul(y, tensor(gdata, { shape: y.shape }))).backward();
        const ref = avgReference(data, n, h, w, gdata);
        expect(Array.from(y.toTypedArray() as Float32Array), `y ${n}x${h}x${w}`).toEqual(Array.from(ref.y));
        expect(Array.from(x.grad!.toTypedArray() as Float32Array), `dx ${n}x${h}x${w}`).toEqual(
          Array.from(ref.dx),
        );
      }
    });
  }
});
