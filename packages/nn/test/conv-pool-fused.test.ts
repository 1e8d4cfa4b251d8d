// conv2d + ReLU + 2x2 max pool as one op (conv2d's maxPool2x2 option; Sequential fuses the triple)
// against the separate ops: values and every gradient, on every instruction set, at 1 and 2
// threads, with odd output sizes (a dropped last row / column), K tails and widths past a vector;
// on the direct kernels (few channels) and on the Winograd F(4x4,3x3) path (3x3 layers of 16
// channels or more, 5x5 layers of 16 outputs), which pools each block of output tiles in cache.

import { testing } from '@dlf/native/testing';
import { Conv2d, conv2d, MaxPool2d, maxPool2d, mul, ReLU, Sequential, sum } from '@dlf/nn';
import { Generator, getNumThreads, getSimd, randn, setNumThreads, setSimd } from '@dlf/tensor-core';
import { expectClose, sameBits } from '@dlf/testing';
import { afterAll, describe, expect, it } from 'vitest';

type Shape = { n: number; c: number; h: number; w: number; k: number; r: number; s: number; pad: number };

function run(sh: Shape, fused: boolean, seed: number, fastBackward = true) {
  const g = new Generator(seed);
  const x = randn([sh.n, sh.c, sh.h, sh.w], 0, 1, { generator: g }).requiresGrad_();
  const w = randn([sh.k, sh.c, sh.r, sh.s], 0, 1, { generator: g }).requiresGrad_();
  const b = randn([sh.k], 0, 1, { generator: g }).requiresGrad_();
  const y = fused
    ? conv2d(x, w, b, { padding: sh.pad, relu: true, maxPool2x2: true })
    : maxPool2d(conv2d(x, w, b, { padding: sh.pad, relu: true }), { kernelSize: 2 });
  const gy = randn(y.shape, 0, 1, { generator: g });
  const prev = testing.setConvFastPath(fastBackward);
  try {
    sum(mul(y, gy)).backward();
  } finally {
    testing.setConvFastPath(prev);
  }
  const arr = (t: { toTypedArray(): unknown }) => t.toTypedArray() as Float32Array;
  return {
    shape: y.shape,
    gradFn: y.gradFn,
    y: arr(y),
    dx: arr(x.grad!),
    dw: arr(w.grad!),
    db: arr(b.grad!),
  };
}

// Two summation orders of the same float32 sums: errors are judged against the largest value.
const CONV_TOLERANCE = { atol: 2e-5, rtol: 0, relativeToMax: true };

const shapes: Shape[] = [
  { n: 3, c: 8, h: 32, w: 32, k: 8, r: 3, s: 3, pad: 1 },
  { n: 2, c: 8, h: 16, w: 16, k: 16, r: 3, s: 3, pad: 1 },
  { n: 2, c: 3, h: 9, w: 11, k: 5, r: 3, s: 3, pad: 1 },
  { n: 1, c: 1, h: 7, w: 37, k: 3, r: 3, s: 3, pad: 0 },
  { n: 5, c: 4, h: 12, w: 50, k: 9, r: 3, s: 3, pad: 1 },
  { n: 1, c: 2, h: 4, w: 4, k: 1, r: 3, s: 3, pad: 0 },
  { n: 2, c: 3, h: 10, w: 10, k: 4, r: 5, s: 5, pad: 2 },
];

// Shapes the Winograd path takes: tile blocks that end inside tile rows (blocks of 64 tiles on
// AVX-512, 16 on AVX2 and the base table; 20x20 and 28x28 outputs), odd
// outputs whose last row and column the pool drops, a 5x5 kernel of 3 input channels, 4x4 outputs (one tile an image).
const winogradShapes: Shape[] = [
  { n: 2, c: 16, h: 20, w: 20, k: 16, r: 3, s: 3, pad: 1 },
  { n: 3, c: 16, h: 28, w: 28, k: 24, r: 3, s: 3, pad: 1 },
  { n: 3, c: 17, h: 13, w: 11, k: 19, r: 3, s: 3, pad: 1 },
  { n: 2, c: 3, h: 15, w: 14, k: 16, r: 5, s: 5, pad: 2 },
  { n: 24, c: 24, h: 6, w: 6, k: 32, r: 3, s: 3, pad: 0 },
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

describe('conv2d + ReLU + max pool fused', () => {
  for (const isa of isas)
    for (const threads of [1, 2])
      it(`matches the separate ops (${isa}, ${threads} thread(s))`, () => {
        setSimd(isa);
        setNumThreads(threads);
        [...shapes, ...winogradShapes].forEach((sh, i) => {
          const tag = JSON.stringify(sh);
          const got = run(sh, true, 10 + i);
          const want = run(sh, false, 10 + i);
          expect(got.shape, tag).toEqual(want.shape);
          expectClose(got.y, want.y, { ...CONV_TOLERANCE, name: `y ${tag}` });
          expectClose(got.dx, want.dx, { ...CONV_TOLERANCE, name: `dx ${tag}` });
          expectClose(got.dw, want.dw, { ...CONV_TOLERANCE, name: `dw ${tag}` });
          expectClose(got.db, want.db, { ...CONV_TOLERANCE, name: `db ${tag}` });
        });
      });

  // The same outputs and the same gradient at the convolution's output, so the same Winograd
  // backward: only the bias gradient sums in another order (the pooled gradient, not the unpooled).
  for (const isa of isas)
    it(`pools on the Winograd path in training with the separate ops' bits (${isa})`, () => {
      setSimd(isa);
      setNumThreads(2);
      winogradShapes.forEach((sh, i) => {
        const tag = JSON.stringify(sh);
        const got = run(sh, true, 30 + i);
        const want = run(sh, false, 30 + i);
        expect(got.gradFn, tag).toBe('Conv2dReluMaxPoolBackward');
        expect(want.gradFn, tag).toBe('MaxPool2dBackward');
        for (const key of ['y', 'dx', 'dw'] as const)
          expect(sameBits(got[key], want[key]), `${key} ${tag}`).toBe(true);
        expectClose(got.db, want.db, { ...CONV_TOLERANCE, name: `db ${tag}` });
      });
    });

  it('backward still works when the fast path is switched off after the forward', () => {
    for (const sh of [shapes[0]!, shapes[2]!, winogradShapes[0]!, winogradShapes[2]!]) {
      const got = run(sh, true, 3, false);
      const want = run(sh, false, 3);
      expectClose(got.dx, want.dx, { ...CONV_TOLERANCE, name: 'dx' });
      expectClose(got.dw, want.dw, { ...CONV_TOLERANCE, name: 'dw' });
      expectClose(got.db, want.db, { ...CONV_TOLERANCE, name: 'db' });
    }
  });

  it('Sequential fuses Conv2d + ReLU + MaxPool2d(2) with the same results', () => {
    const make = () =>
      new Sequential(
        new Conv2d(3, 8, 3, { padding: 1, generator: new Generator(1) }),
        new ReLU(),
        new MaxPool2d(2),
      );
    const a = make();
    const b = make();
    b.fuse = false;
    const x = randn([2, 3, 10, 10], 0, 1, { generator: new Generator(2) });
    const ya = a.forward(x);
    const yb = b.forward(x);
    expect(ya.shape).toEqual([2, 8, 5, 5]);
    expectClose(ya, yb, { ...CONV_TOLERANCE, name: 'sequential' });
  });
});
