// Winograd F(4x4,3x3) (native nn/conv_wino.cc, isa/conv_wino43.h) against the float64 reference,
// for 3x3 kernels and for 5x5 ones run as four 3x3 blocks:
// forward, input, weight and bias gradients, on every instruction set this CPU has, at 1 and 2
// threads; channel counts that are not multiples of any block, odd sizes, padding 0/1/2 and
// asymmetric, batch 1, groups; with a fused ReLU against the other paths; NaN and Inf reach the output;
// the same bits twice and (beyond 24 x 24 channel pairs) at any thread count; strided inputs. The reference and the comparison are
// in conv-reference.ts.

import { testing } from '@dlf/native/testing';
import { sameBits } from '@dlf/testing';
import {
  Generator,
  getNumThreads,
  getSimd,
  permute,
  randn as randnDefault,
  setNumThreads,
  setSimd,
  type Tensor,
  tensor,
} from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';
import { conv2d, maxPool2d, mul, noGrad, sum } from '@dlf/nn';
import {
  type Case,
  expectMatches,
  expectReaches,
  outSize,
  reference,
  withSetting,
} from './conv-reference.js';

const randn = (shape: readonly number[], seed: number) =>
  randnDefault(shape, 0, 1, { generator: new Generator(seed) });
const arr = (t: Tensor) => t.toTypedArray() as Float32Array;

const convK =
  (size: number) =>
  (n: number, c: number, h: number, w: number, k: number, pad: [number, number], groups = 1): Case => ({
    n,
    c,
    h,
    w,
    k,
    r: size,
    s: size,
    stride: [1, 1],
    pad,
    dil: [1, 1],
    groups,
  });
const conv3 = convK(3);
const conv5 = convK(5);

// Each has enough 4x4 output tiles for the widest block (64 tiles with AVX-512) to be chosen.
const cases: Case[] = [
  conv3(2, 16, 17, 19, 16, [1, 1]), // odd planes: ragged tiles at the right and bottom
  conv3(1, 19, 32, 30, 21, [0, 2]), // batch 1, asymmetric padding, C and K off every block size
  conv3(3, 33, 13, 9, 70, [2, 2]), // padding 2 (the input gradient then has padding 0), K > 64
  conv3(20, 64, 6, 6, 17, [1, 0]), // 6x4 outputs: one and a half tiles per plane
  conv3(8, 130, 8, 8, 24, [1, 1]), // C > 128
  conv3(16, 16, 16, 18, 20, [1, 1]), // 320 tiles: few channel pairs, several chunks of tiles per thread
  // Two tile rows to a vector read by row loads and shuffles (tile columns = half a vector): 32-wide
  // rows on AVX-512 (with a ragged last tile row), 16-wide on AVX2, 8-wide on the baseline.
  conv3(3, 17, 21, 30, 18, [1, 1]),
  conv3(4, 24, 16, 15, 20, [1, 1]),
  conv3(6, 16, 9, 8, 16, [1, 1]),
  conv3(2, 16, 12, 32, 16, [1, 1]), // rows exactly two vectors wide (AVX-512), and one (AVX2)
  conv3(6, 16, 12, 16, 16, [1, 1]),
  // 7 tiles a row rounded up to 8 (AVX-512): the eighth lies past the plane. 28-wide (MNIST-sized)
  // with a ragged bottom tile row; 26-wide, the last real tile cut short; 27-wide outputs from
  // 29-wide inputs (padding 0; the input gradient then has 8 whole tiles a row).
  conv3(2, 16, 14, 28, 16, [1, 1]),
  conv3(3, 17, 12, 26, 18, [1, 1]),
  conv3(3, 16, 10, 29, 20, [0, 0]),
  // 14- and 7-wide planes (ResNets on 28x28 inputs): every tile row ends in a tile cut by the right
  // edge and the last tile row by the bottom, stored as masked row segments, not scattered.
  conv3(4, 32, 14, 14, 24, [1, 1]),
  conv3(16, 20, 7, 7, 33, [1, 1]),
  // Row groups running from one image into the next: 8-wide planes of three tile rows (a vector's
  // tile rows start mid-image), 4x4 planes (a tile an image), and 64-wide planes (a tile row a vector
  // on AVX-512, two on AVX2).
  conv3(11, 16, 12, 8, 16, [1, 1]),
  conv3(70, 16, 4, 4, 17, [1, 1]),
  conv3(2, 16, 6, 64, 16, [1, 1]),
  // Grouped: each group a Winograd convolution of its own (nn/conv_grouped.cc), 20 -> 17 channels
  // a group (off every block size) and 16 -> 16 with four groups.
  conv3(3, 40, 13, 14, 34, [1, 1], 2),
  conv3(6, 64, 16, 16, 64, [1, 0], 4),
  // 5x5 kernels: four 3x3 blocks over shifted inputs (padding 2: shifts to -1; padding 4 x 1: the
  // input gradient pads 0 x 3), 3 input channels (the fewest the path takes), C x K beyond 24 x 24
  // block pairs, grouped.
  conv5(4, 16, 12, 13, 20, [2, 2]),
  conv5(2, 3, 20, 17, 16, [0, 0]),
  conv5(3, 17, 9, 11, 33, [4, 1]),
  conv5(8, 32, 8, 8, 40, [2, 2]),
  conv5(4, 8, 12, 12, 40, [2, 2], 2),
];

function run(c: Case, x: Tensor, seed: number, relu = false) {
  const xg = x.requiresGrad_();
  const w = randn([c.k, c.c / c.groups, c.r, c.s], seed + 1).requiresGrad_();
  const b = randn([c.k], seed + 2).requiresGrad_();
  const y = conv2d(xg, w, b, { padding: c.pad, groups: c.groups, relu });
  const g = randn(y.shape, seed + 3);
  sum(mul(y, g)).backward();
  return {
    x: arr(x),
    w: arr(w),
    b: arr(b),
    g: arr(g),
    y: arr(y),
    dx: arr(xg.grad!),
    dw: arr(w.grad!),
    db: arr(b.grad!),
  };
}

const withWinograd = <T>(on: boolean, fn: () => T): T => withSetting(testing.setConvWinograd, on, fn);

// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd();
const isas = (['avx512', 'avx2', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
const startThreads = getNumThreads();
afterAll(() => {
  setSimd(startSimd as 'avx512' | 'avx2' | 'base');
  setNumThreads(startThreads);
});

describe('conv2d with Winograd F(4x4,3x3), 3x3 and 5x5 kernels', () => {
  for (const isa of isas) {
    for (const threads of [1, 2]) {
      it(`matches a float64 reference (${isa}, ${threads} thread(s))`, () => {
        setSimd(isa);
        setNumThreads(threads);
        for (const [i, c] of cases.entries()) {
          const got = run(c, randn([c.n, c.c, c.h, c.w], 100 * i), 100 * i);
          const want = reference(c, got.x, got.w, got.b, got.g);
          const tag = JSON.stringify(c);
          for (const key of ['y', 'dx', 'dw', 'db'] as const)
            expectMatches(got[key], want[key], `${key} ${tag}`);
          // The Winograd path ran: the direct and general paths round differently.
          const other = withWinograd(false, () => run(c, randn([c.n, c.c, c.h, c.w], 100 * i), 100 * i));
          expect(sameBits(got.y, other.y), `y ${tag} took another path`).toBe(false);
        }
      });
    }

    it(`fuses the ReLU like the other paths (${isa})`, () => {
      setSimd(isa);
      for (const [i, c] of cases.entries()) {
        const a = run(c, randn([c.n, c.c, c.h, c.w], i), i, true);
        const b = withWinograd(false, () => run(c, randn([c.n, c.c, c.h, c.w], i), i, true));
        for (const key of ['y', 'dx', 'dw', 'db'] as const)
          expectMatches(a[key], Float64Array.from(b[key]), `${key} relu ${JSON.stringify(c)}`);
        expect(a.y.some((v) => v === 0)).toBe(true);
      }
    });

    it(`lets NaN and Inf reach the outputs they touch (${isa})`, () => {
      setSimd(isa);
      for (const [i, c] of cases.entries()) {
        const data = arr(randn([c.n, c.c, c.h, c.w], 7 * i));
        data[c.w + 1] = Number.NaN;
        data[data.length - 1] = Number.POSITIVE_INFINITY;
        const got = run(c, tensor(data, { shape: [c.n, c.c, c.h, c.w] }), 7 * i);
        const want = reference(c, got.x, got.w, got.b, got.g);
        const P = outSize(c.h, c.r, 1, c.pad[0], 1);
        const Q = outSize(c.w, c.s, 1, c.pad[1], 1);
        const tag = JSON.stringify(c);
        // A tile's transform mixes its inputs, so a non-finite input spreads over its 4x4 output
        // tile (y) or over its channel pair's kernel (dw); nowhere else. A 5x5 kernel's blocks read
        // 6x6 patches a zero kernel row or column may not need (a tile next to the true outputs can
        // take the NaN too): there, nowhere beyond the plane.
        const yTile = (o: number) => {
          const plane = Math.floor(o / (P * Q));
          const p = Math.floor((o % (P * Q)) / Q);
          const q = o % Q;
          return c.r === 3 ? `${plane}:${p >> 2}:${q >> 2}` : `${plane}`;
        };
        expectReaches(got.y, want.y, yTile, `y ${tag}`);
        expectReaches(got.dw, want.dw, (o) => `${Math.floor(o / (c.r * c.s))}`, `dw ${tag}`);
        expectMatches(got.dx, want.dx, `dx ${tag}`);
      }
    });
  }

  it('gives the same bits twice, and at 1 and 2 threads', () => {
    for (const [i, c] of cases.entries()) {
      const [a2, b2, a1, b1] = [2, 2, 1, 1].map((threads) => {
        setNumThreads(threads);
        return run(c, randn([c.n, c.c, c.h, c.w], i), i);
      });
      // Up to 24 x 24 channel pairs each thread sums its own share of the tiles, so the weight
      // gradient's bits follow the thread count; beyond, they never do.
      // A 5x5 kernel's four blocks count as four input channels each.
      const sharedSums = (c.r === 5 ? 4 : 1) * (c.c / c.groups) * (c.k / c.groups) > 24 * 24;
      for (const key of ['y', 'dx', 'dw', 'db'] as const) {
        const tag = `${key} ${JSON.stringify(c)}`;
        expect(sameBits(a2![key], b2![key]), tag).toBe(true);
        expect(sameBits(a1![key], b1![key]), tag).toBe(true);
        if (sharedSums || key === 'y' || key === 'dx') expect(sameBits(a2![key], a1![key]), tag).toBe(true);
      }
    }
  });

  it('leaves 2x2 planes under a padded 3x3 to the dense path, and takes 2x2 outputs of larger inputs', () => {
    // A 2x2 plane uses a quarter of its one tile: no products saved. With padding 1 each output
    // pixel reads the whole plane (nn/conv_dense.cc: one matrix per image, at any width); from a
    // 4x4 input without padding, Winograd keeps narrow layers (up to 128 x 128 channel pairs).
    for (const [c, winograd] of [
      [conv3(8, 130, 2, 2, 129, [1, 1]), false],
      [conv3(32, 64, 2, 2, 64, [1, 1]), false],
      [conv3(32, 64, 4, 4, 64, [0, 0]), true],
      [conv3(8, 130, 4, 4, 129, [0, 0]), false],
    ] as const) {
      const got = run(c, randn([c.n, c.c, c.h, c.w], 3), 3);
      const want = reference(c, got.x, got.w, got.b, got.g);
      for (const key of ['y', 'dx', 'dw', 'db'] as const)
        expectMatches(got[key], want[key], `${key} ${JSON.stringify(c)}`);
      const other = withWinograd(false, () => run(c, randn([c.n, c.c, c.h, c.w], 3), 3));
      expect(sameBits(got.y, other.y), JSON.stringify(c)).toBe(!winograd);
    }
  });

  it('pools inference outputs block by block as a separate ReLU and max pool do', () => {
    // Odd planes (a pooled row or column dropped), blocks ending inside a tile row, 5x5 kernels.
    const pooled = [
      ...cases.filter((c) => c.groups === 1),
      conv3(3, 16, 26, 22, 16, [1, 1]),
      conv3(5, 24, 7, 9, 20, [1, 1]),
    ];
    for (const isa of isas) {
      setSimd(isa);
      for (const threads of [1, 2]) {
        setNumThreads(threads);
        for (const [i, c] of pooled.entries()) {
          const x = randn([c.n, c.c, c.h, c.w], 11 * i);
          const w = randn([c.k, c.c, c.r, c.s], 11 * i + 1);
          const b = randn([c.k], 11 * i + 2);
          const fused = noGrad(() => conv2d(x, w, b, { padding: c.pad, relu: true, maxPool2x2: true }));
          const apart = noGrad(() =>
            maxPool2d(conv2d(x, w, b, { padding: c.pad, relu: true }), { kernelSize: 2 }),
          );
          const tag = `${isa} ${threads} ${JSON.stringify(c)}`;
          expect(fused.shape, tag).toEqual(apart.shape);
          expect(sameBits(arr(fused), arr(apart)), tag).toBe(true);
        }
      }
    }
  });

  it('reads non-contiguous inputs like their contiguous copies', () => {
    for (const [i, c] of cases.entries()) {
      const strided = permute(randn([c.n, c.h, c.c, c.w], i), [0, 2, 1, 3]);
      const a = run(c, strided, i);
      const b = run(c, permute(randn([c.n, c.h, c.c, c.w], i), [0, 2, 1, 3]).contiguous(), i);
      for (const key of ['y', 'dx', 'dw'] as const) expect(sameBits(a[key], b[key]), key).toBe(true);
    }
  });
});
