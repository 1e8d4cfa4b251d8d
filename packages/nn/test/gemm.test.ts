// GEMM-backed ops against a naive reference on shapes that exercise the blocking: K over one
// k-block (256), ragged micro-tiles in M and N, transposed packing (linear's weight, ragged panels
// too), every instruction set and 1 or 2 threads.

import { testing } from '@dlf/native/testing';
import { linear, matmul, mul, sum } from '@dlf/nn';
import { getNumThreads, getSimd, setNumThreads, setSimd, tensor } from '@dlf/tensor-core';
import { expectClose } from '@dlf/testing';
import { afterAll, describe, it } from 'vitest';

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    a[i] = s / 1073741824 - 1;
  }
  return a;
}

// a: (m,k) @ b: (k,n), or b given as (n,k) when bt
function ref(a: Float32Array, b: Float32Array, m: number, k: number, n: number, bt: boolean): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * (bt ? b[j * k + p]! : b[p * n + j]!);
      c[i * n + j] = s;
    }
  return c;
}

// Products of up to 1024 terms in float32 against a float64 reference.
const GEMM_TOLERANCE = { atol: 1e-3, rtol: 0 };

// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd();
const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
const startThreads = getNumThreads();
afterAll(() => {
  setSimd(startSimd as 'avx512' | 'avx2' | 'neon' | 'base');
  setNumThreads(startThreads);
});

describe('gemm', () => {
  const shapes: [number, number, number][] = [
    [64, 1024, 128],
    [70, 300, 50],
    [1, 513, 33],
    [13, 7, 100],
    [128, 64, 1024],
    // ragged column panels of whole vectors (AVX-512: 144 = 4.5 panels of 32; AVX2: 24 = 1.5 of 16;
    // NEON: 4 = half a panel of 8), packed transposed by vector transposes, with a k tail
    [3, 70, 144],
    [5, 37, 24],
    [2, 20, 4],
  ];
  for (const isa of isas)
    for (const threads of [1, 2])
      it(`matmul and linear match a naive product (${isa}, ${threads} thread(s))`, () => {
        setSimd(isa);
        setNumThreads(threads);
        shapes.forEach(([m, k, n], i) => {
          const a = rand(m * k, 1 + i);
          const b = rand(k * n, 100 + i);
          const c = matmul(tensor(a, { shape: [m, k] }), tensor(b, { shape: [k, n] }));
          expectClose(c, ref(a, b, m, k, n, false), { ...GEMM_TOLERANCE, name: `matmul ${m}x${k}x${n}` });
          const x = tensor(a, { shape: [m, k] }).requiresGrad_();
          const w = tensor(b, { shape: [n, k] }).requiresGrad_();
          const y = linear(x, w);
          expectClose(y, ref(a, b, m, k, n, true), { ...GEMM_TOLERANCE, name: `linear ${m}x${k}x${n}` });
          // backward: dx = g w (m,n)@(n,k), dw = g^T x (n,m)@(m,k)
          const g = rand(m * n, 200 + i);
          sum(mul(y, tensor(g, { shape: [m, n] }))).backward();
          expectClose(x.grad!, ref(g, b, m, n, k, false), {
            ...GEMM_TOLERANCE,
            name: `linear dx ${m}x${k}x${n}`,
          });
          const gt = new Float32Array(n * m);
          for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) gt[j * m + r] = g[r * n + j]!;
          expectClose(w.grad!, ref(gt, a, n, m, k, false), {
            ...GEMM_TOLERANCE,
            name: `linear dw ${m}x${k}x${n}`,
          });
        });
      });
});
