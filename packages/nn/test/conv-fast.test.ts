// The direct-convolution fast path (native nn/conv_fast.cc, isa/conv.h) against the general
// im2col + GEMM path and, on small shapes, a naive reference: forward (with and without the fused
// ReLU), input gradient, weight gradient and bias gradient, on every instruction set this CPU has
// and at 1 and 2 threads.

import { testing } from '@dlf/native/testing';
import {
  Generator,
  getNumThreads,
  getSimd,
  randn as randnDefault,
  setNumThreads,
  setSimd,
} from '@dlf/tensor-core';
import { expectClose } from '@dlf/testing';
import { afterAll, describe, expect, it } from 'vitest';

const randn = (shape: readonly number[], o: { seed: number }) =>
  randnDefault(shape, 0, 1, { generator: new Generator(o.seed) });

import { conv2d, mul, sum } from '@dlf/nn';

type Shape = {
  n: number;
  c: number;
  h: number;
  w: number;
  k: number;
  r: number;
  s: number;
  pad: [number, number];
};

interface Result {
  y: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
  db: Float32Array;
}

// fast: the path for forward and backward; [forward, backward] switches between the two (the ReLU
// mask is then carried from one path's forward to the other's backward).
function run(sh: Shape, relu: boolean, fast: boolean | [boolean, boolean], seed: number): Result {
  const [fwd, bwd] = typeof fast === 'boolean' ? [fast, fast] : fast;
  const prev = testing.setConvFastPath(fwd);
  try {
    const x = randn([sh.n, sh.c, sh.h, sh.w], { seed }).requiresGrad_();
    const w = randn([sh.k, sh.c, sh.r, sh.s], { seed: seed + 1 }).requiresGrad_();
    const b = randn([sh.k], { seed: seed + 2 }).requiresGrad_();
    const y = conv2d(x, w, b, { padding: sh.pad, relu });
    const g = randn(y.shape, { seed: seed + 3 });
    testing.setConvFastPath(bwd);
    sum(mul(y, g)).backward();
    return {
      y: y.toTypedArray() as Float32Array,
      dx: x.grad!.toTypedArray() as Float32Array,
      dw: w.grad!.toTypedArray() as Float32Array,
      db: b.grad!.toTypedArray() as Float32Array,
    };
  } finally {
    testing.setConvFastPath(prev);
  }
}

// Two summation orders of the same float32 sums: errors are judged against the largest value.
const CONV_TOLERANCE = { atol: 2e-5, rtol: 0, relativeToMax: true };

// The model's shapes, batch 1, odd sizes, K and widths that are not multiples of any vector width,
// C = 1 and C = 3, 1x1 / 5x5 / non-square kernels, asymmetric and zero padding.
const shapes: Shape[] = [
  { n: 4, c: 3, h: 32, w: 32, k: 8, r: 3, s: 3, pad: [1, 1] },
  { n: 3, c: 8, h: 32, w: 32, k: 8, r: 3, s: 3, pad: [1, 1] },
  { n: 2, c: 8, h: 16, w: 16, k: 16, r: 3, s: 3, pad: [1, 1] },
  { n: 1, c: 1, h: 7, w: 9, k: 1, r: 3, s: 3, pad: [1, 1] },
  { n: 1, c: 3, h: 5, w: 5, k: 5, r: 3, s: 3, pad: [0, 0] },
  { n: 2, c: 1, h: 13, w: 11, k: 7, r: 3, s: 3, pad: [1, 1] },
  { n: 3, c: 3, h: 17, w: 23, k: 11, r: 3, s: 3, pad: [1, 0] },
  { n: 1, c: 5, h: 9, w: 37, k: 13, r: 5, s: 5, pad: [2, 2] },
  { n: 2, c: 4, h: 6, w: 3, k: 9, r: 1, s: 1, pad: [0, 0] },
  { n: 2, c: 2, h: 8, w: 19, k: 3, r: 2, s: 4, pad: [1, 3] },
  { n: 5, c: 7, h: 12, w: 33, k: 17, r: 3, s: 3, pad: [1, 1] },
  { n: 1, c: 3, h: 3, w: 3, k: 2, r: 3, s: 3, pad: [0, 2] },
  { n: 2, c: 16, h: 10, w: 48, k: 24, r: 3, s: 3, pad: [1, 1] },
  { n: 1, c: 2, h: 1, w: 1, k: 3, r: 1, s: 1, pad: [0, 0] },
  // A padded input plane over the per-thread scratch cache's size limit (allocated per chunk).
  { n: 1, c: 16, h: 190, w: 190, k: 4, r: 3, s: 3, pad: [1, 1] },
];

// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd();
const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
const startThreads = getNumThreads();
afterAll(() => {
  setSimd(startSimd as 'avx512' | 'avx2' | 'neon' | 'base');
  setNumThreads(startThreads);
});

describe('conv2d fast path', () => {
  for (const isa of isas) {
    for (const threads of [1, 2]) {
      it(`matches the general path (${isa}, ${threads} thread(s))`, () => {
        setSimd(isa);
        setNumThreads(threads);
        shapes.forEach((sh, i) => {
          for (const relu of [false, true]) {
            const tag = `${JSON.stringify(sh)} relu=${relu}`;
            const fast = run(sh, relu, true, 10 * i);
            const gen = run(sh, relu, false, 10 * i);
            expectClose(fast.y, gen.y, { ...CONV_TOLERANCE, name: `y ${tag}` });
            expectClose(fast.dx, gen.dx, { ...CONV_TOLERANCE, name: `dx ${tag}` });
            expectClose(fast.dw, gen.dw, { ...CONV_TOLERANCE, name: `dw ${tag}` });
            expectClose(fast.db, gen.db, { ...CONV_TOLERANCE, name: `db ${tag}` });
          }
        });
      });
    }
  }

  it('matches a naive reference (batch 1, C = 3, K = 5, 6x7, pad 1, ReLU)', () => {
    const sh: Shape = { n: 1, c: 3, h: 6, w: 7, k: 5, r: 3, s: 3, pad: [1, 1] };
    const x = randn([1, 3, 6, 7], { seed: 1 }).requiresGrad_();
    const w = randn([5, 3, 3, 3], { seed: 2 }).requiresGrad_();
    const b = randn([5], { seed: 3 }).requiresGrad_();
    const y = conv2d(x, w, b, { padding: 1, relu: true });
    const g = randn(y.shape, { seed: 4 });
    sum(mul(y, g)).backward();
    const xs = x.toTypedArray() as Float32Array;
    const ws = w.toTypedArray() as Float32Array;
    const bs = b.toTypedArray() as Float32Array;
    const gs = g.toTypedArray() as Float32Array;
    const { c: C, h: H, w: W, k: K, r: R, s: S } = sh;
    const ref = new Float32Array(K * H * W);
    const dx = new Float32Array(C * H * W);
    const dw = new Float32Array(K * C * R * S);
    const db = new Float32Array(K);
    for (let k = 0; k < K; k++)
      for (let p = 0; p < H; p++)
        for (let q = 0; q < W; q++) {
          let acc = bs[k]!;
          for (let c = 0; c < C; c++)
            for (let r = 0; r < R; r++)
              for (let s = 0; s < S; s++) {
                const ih = p + r - 1,
                  iw = q + s - 1;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                  acc += ws[((k * C + c) * R + r) * S + s]! * xs[(c * H + ih) * W + iw]!;
              }
          const o = (k * H + p) * W + q;
          ref[o] = Math.max(acc, 0);
          const gm = acc > 0 ? gs[o]! : 0;
          db[k] += gm;
          for (let c = 0; c < C; c++)
            for (let r = 0; r < R; r++)
              for (let s = 0; s < S; s++) {
                const ih = p + r - 1,
                  iw = q + s - 1;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                dw[((k * C + c) * R + r) * S + s] += gm * xs[(c * H + ih) * W + iw]!;
                dx[(c * H + ih) * W + iw] += gm * ws[((k * C + c) * R + r) * S + s]!;
              }
        }
    expectClose(y, ref, { ...CONV_TOLERANCE, name: 'y' });
    expectClose(x.grad!, dx, { ...CONV_TOLERANCE, name: 'dx' });
    expectClose(w.grad!, dw, { ...CONV_TOLERANCE, name: 'dw' });
    expectClose(b.grad!, db, { ...CONV_TOLERANCE, name: 'db' });
  });

  it('carries the ReLU mask across a switch between forward and backward', () => {
    for (const isa of isas) {
      setSimd(isa);
      for (const sh of [shapes[1]!, shapes[6]!, shapes[9]!]) {
        const ref = run(sh, true, false, 7);
        for (const mixed of [
          [true, false],
          [false, true],
        ] as [boolean, boolean][]) {
          const got = run(sh, true, mixed, 7);
          const tag = `${isa} ${JSON.stringify(sh)} ${mixed}`;
          expectClose(got.y, ref.y, { ...CONV_TOLERANCE, name: `y ${tag}` });
          expectClose(got.dx, ref.dx, { ...CONV_TOLERANCE, name: `dx ${tag}` });
          expectClose(got.dw, ref.dw, { ...CONV_TOLERANCE, name: `dw ${tag}` });
          expectClose(got.db, ref.db, { ...CONV_TOLERANCE, name: `db ${tag}` });
        }
      }
    }
  });

  it('gives the same bits at a fixed thread count', () => {
    setNumThreads(2);
    const sh = shapes[1]!;
    const a = run(sh, true, true, 5);
    const b = run(sh, true, true, 5);
    for (const key of ['y', 'dx', 'dw', 'db'] as const)
      expect(Array.from(a[key])).toEqual(Array.from(b[key]));
  });
});
