// The depthwise kernels (native nn/conv_depthwise.cc, isa/conv_depthwise.h) and the batched
// im2col + GEMM path (nn/conv_gemm.cc) against a float64 reference written here: forward, input,
// weight and bias gradients, on every instruction set this CPU has, at 1 and 2 threads; NaN and Inf
// reach exactly the outputs they should; the same bits twice and at any thread count; strided
// (non-contiguous) inputs. PyTorch goldens and gradcheck for these paths are in ops.test.ts.

import { testing } from '@dlf/native/testing';
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
import { conv2d, mul, relu, sum } from '@dlf/nn';
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

const cases: Case[] = [
  // depthwise: odd sizes, stride 1/2/3, padding 0/1/2/3, dilation, channel multipliers, batch 1
  { n: 2, c: 5, h: 9, w: 11, k: 5, r: 3, s: 3, stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 5 },
  { n: 1, c: 17, h: 32, w: 31, k: 17, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 17 },
  { n: 3, c: 4, h: 13, w: 40, k: 8, r: 5, s: 5, stride: [2, 1], pad: [2, 2], dil: [1, 1], groups: 4 },
  { n: 2, c: 3, h: 12, w: 12, k: 9, r: 3, s: 3, stride: [1, 2], pad: [0, 2], dil: [2, 2], groups: 3 },
  { n: 1, c: 2, h: 19, w: 17, k: 2, r: 7, s: 7, stride: [3, 3], pad: [3, 3], dil: [1, 1], groups: 2 },
  { n: 2, c: 6, h: 5, w: 5, k: 6, r: 1, s: 1, stride: [1, 1], pad: [0, 0], dil: [1, 1], groups: 6 },
  // stride 1: the input gradient as a forward pass of the flipped kernel (padding within the
  // kernel's reach): half-vector planes, 5x5, no padding, row dilation; padding beyond the reach
  // takes the scatter path
  { n: 2, c: 7, h: 8, w: 8, k: 7, r: 3, s: 3, stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 7 },
  { n: 1, c: 3, h: 14, w: 37, k: 3, r: 5, s: 5, stride: [1, 1], pad: [2, 2], dil: [1, 1], groups: 3 },
  { n: 2, c: 4, h: 11, w: 19, k: 4, r: 3, s: 3, stride: [1, 1], pad: [0, 0], dil: [1, 1], groups: 4 },
  { n: 1, c: 3, h: 10, w: 21, k: 3, r: 3, s: 3, stride: [1, 1], pad: [2, 1], dil: [2, 1], groups: 3 },
  { n: 1, c: 2, h: 6, w: 7, k: 2, r: 3, s: 3, stride: [1, 1], pad: [2, 3], dil: [1, 1], groups: 2 },
  // the last input column is read by no output, only by the last vector's unused lanes
  { n: 2, c: 3, h: 9, w: 32, k: 3, r: 3, s: 3, stride: [2, 2], pad: [0, 0], dil: [1, 1], groups: 3 },
  // stride-2 column phases split and joined by shuffles: whole vectors, then a ragged rest (odd padding)
  { n: 1, c: 2, h: 5, w: 45, k: 2, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 2 },
  // column stride 2: the input gradient gathered per column phase (four rows at a time, then the
  // rest): channel multiplier 2 (the second output channel adds in), column dilation, row stride 3,
  // an even kernel with odd padding, a kernel wider than the padding reaches
  { n: 2, c: 3, h: 13, w: 35, k: 6, r: 3, s: 3, stride: [2, 2], pad: [1, 0], dil: [1, 2], groups: 3 },
  { n: 1, c: 4, h: 17, w: 40, k: 4, r: 2, s: 4, stride: [3, 2], pad: [1, 1], dil: [1, 1], groups: 4 },
  { n: 2, c: 2, h: 11, w: 34, k: 2, r: 5, s: 7, stride: [2, 2], pad: [0, 1], dil: [1, 1], groups: 2 },
  // channels in the vector lanes (output rows narrower than a vector, one output per input channel):
  // a ragged last block of channels on 7x7 planes, stride 2 from 14x14, 5x5 with dilation and a
  // column stride
  { n: 3, c: 37, h: 7, w: 7, k: 37, r: 3, s: 3, stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 37 },
  { n: 2, c: 20, h: 14, w: 14, k: 20, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 20 },
  { n: 1, c: 18, h: 9, w: 10, k: 18, r: 5, s: 5, stride: [1, 2], pad: [2, 2], dil: [2, 1], groups: 18 },
  // batched im2col + GEMM: wide layers on narrow planes (several images per GEMM, a short last
  // batch), stride 2, groups, 1x1 (no im2col), 7x7 stem
  { n: 5, c: 40, h: 8, w: 8, k: 33, r: 3, s: 3, stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 1 },
  { n: 3, c: 24, h: 15, w: 15, k: 19, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 1 },
  { n: 3, c: 8, h: 11, w: 9, k: 12, r: 3, s: 3, stride: [1, 1], pad: [2, 0], dil: [1, 1], groups: 4 },
  // grouped stride-1 layers one group at a time on the direct kernels (nn/conv_grouped.cc): 10 -> 15
  // channels a group, a 5x5 kernel over 3 channels a group
  { n: 3, c: 20, h: 16, w: 15, k: 30, r: 3, s: 3, stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 2 },
  { n: 2, c: 12, h: 9, w: 7, k: 8, r: 5, s: 5, stride: [1, 1], pad: [2, 1], dil: [1, 1], groups: 4 },
  { n: 4, c: 12, h: 6, w: 7, k: 10, r: 1, s: 1, stride: [1, 1], pad: [0, 0], dil: [1, 1], groups: 2 },
  // 1x1 on planes of whole GEMM panels: a batch's images as column segments (a short last batch)
  { n: 5, c: 12, h: 8, w: 8, k: 10, r: 1, s: 1, stride: [1, 1], pad: [0, 0], dil: [1, 1], groups: 2 },
  { n: 9, c: 7, h: 4, w: 8, k: 9, r: 1, s: 1, stride: [1, 1], pad: [0, 0], dil: [1, 1], groups: 1 },
  { n: 2, c: 3, h: 21, w: 20, k: 8, r: 7, s: 7, stride: [2, 2], pad: [3, 3], dil: [1, 1], groups: 1 },
  // rows of 16 outputs or more at stride 1 are copied (narrower or strided ones gathered by an offset table)
  { n: 1, c: 66, h: 6, w: 18, k: 3, r: 5, s: 5, stride: [1, 1], pad: [2, 2], dil: [1, 1], groups: 1 },
  { n: 1, c: 4, h: 10, w: 10, k: 6, r: 3, s: 3, stride: [1, 1], pad: [2, 2], dil: [2, 2], groups: 1 },
  // im2col's column ranges: strides 3 and (1, 3), stride 2 with dilation, padding wider than the
  // kernel's reach (whole output columns in the padding), a plane smaller than the kernel span
  { n: 2, c: 5, h: 7, w: 10, k: 6, r: 3, s: 3, stride: [3, 3], pad: [2, 2], dil: [2, 2], groups: 1 },
  { n: 2, c: 6, h: 9, w: 14, k: 5, r: 3, s: 5, stride: [1, 3], pad: [1, 2], dil: [1, 1], groups: 1 },
  { n: 1, c: 7, h: 12, w: 13, k: 9, r: 3, s: 3, stride: [2, 2], pad: [2, 2], dil: [2, 2], groups: 1 },
  { n: 3, c: 3, h: 4, w: 4, k: 4, r: 3, s: 3, stride: [2, 2], pad: [2, 2], dil: [1, 1], groups: 1 },
  { n: 2, c: 4, h: 3, w: 2, k: 3, r: 3, s: 3, stride: [2, 2], pad: [3, 3], dil: [2, 2], groups: 1 },
  // stride 2 on rows exactly two AVX-512, AVX2 and baseline vectors wide; several output rows per
  // vector of the offset table, odd heights, dilation
  { n: 2, c: 6, h: 9, w: 32, k: 7, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 1 },
  { n: 2, c: 5, h: 16, w: 16, k: 6, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 1 },
  { n: 3, c: 4, h: 7, w: 8, k: 5, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 1 },
  { n: 2, c: 3, h: 11, w: 16, k: 4, r: 3, s: 3, stride: [2, 2], pad: [2, 2], dil: [2, 2], groups: 1 },
  // the strided forward vectorised over output channels: several blocks of output channels with a
  // ragged last one, rows of outputs cut into vectors with a ragged last run, 2 and 4 output rows
  // to a tile, groups, a column stride of 3 and a 5-wide kernel (the generic tile)
  { n: 2, c: 40, h: 33, w: 34, k: 33, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 1 },
  { n: 1, c: 8, h: 10, w: 10, k: 20, r: 3, s: 3, stride: [2, 2], pad: [0, 0], dil: [1, 1], groups: 1 },
  { n: 2, c: 12, h: 14, w: 14, k: 18, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 3 },
  { n: 2, c: 5, h: 12, w: 40, k: 9, r: 5, s: 5, stride: [2, 3], pad: [2, 1], dil: [1, 1], groups: 1 },
  // wide input on 8x8 outputs (two output rows to a tile), 17 input columns (the input gradient's
  // runs of two vectors with a ragged end)
  { n: 2, c: 48, h: 16, w: 15, k: 20, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 1 },
  { n: 2, c: 7, h: 9, w: 17, k: 18, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 1 },
  // rows between half a vector and a vector wide (AVX-512): both gradients vectorised over channels,
  // or, this wide, the weight gradient only (the input gradient by im2col + GEMM)
  { n: 1, c: 66, h: 7, w: 11, k: 65, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 1 },
  // the strided weight gradient for kernels 2 to 8 taps wide (rows of taps in registers, the
  // layer's last tile partly past its rows): 7x7 and 5x5 stems (the 5x5 one over two chunks of
  // images, so its sums continue from the first), 2-, 4-, 6- and 8-wide kernels, a 1x7 row kernel
  { n: 2, c: 3, h: 32, w: 32, k: 40, r: 7, s: 7, stride: [2, 2], pad: [3, 3], dil: [1, 1], groups: 1 },
  { n: 5, c: 24, h: 40, w: 40, k: 20, r: 5, s: 5, stride: [2, 2], pad: [2, 2], dil: [1, 1], groups: 1 },
  { n: 2, c: 4, h: 18, w: 17, k: 9, r: 2, s: 2, stride: [2, 2], pad: [0, 0], dil: [1, 1], groups: 1 },
  { n: 2, c: 5, h: 20, w: 34, k: 20, r: 4, s: 4, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 1 },
  { n: 1, c: 7, h: 17, w: 33, k: 17, r: 6, s: 8, stride: [2, 2], pad: [2, 3], dil: [1, 1], groups: 1 },
  { n: 2, c: 6, h: 16, w: 19, k: 10, r: 3, s: 6, stride: [2, 3], pad: [1, 2], dil: [1, 1], groups: 2 },
  { n: 2, c: 3, h: 9, w: 18, k: 6, r: 1, s: 7, stride: [2, 2], pad: [0, 3], dil: [1, 1], groups: 1 },
  // planes no larger than the kernel, every output pixel joined to every input pixel: one dense
  // matrix per image (nn/conv_dense.cc): 2x2 and 1x1 planes under 3x3, 2x2 at stride 2, 3x3 under 5x5
  { n: 3, c: 20, h: 2, w: 2, k: 33, r: 3, s: 3, stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 1 },
  { n: 1, c: 7, h: 1, w: 1, k: 5, r: 3, s: 3, stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 1 },
  { n: 2, c: 6, h: 2, w: 2, k: 4, r: 3, s: 3, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 1 },
  { n: 2, c: 5, h: 3, w: 3, k: 6, r: 5, s: 5, stride: [1, 1], pad: [2, 2], dil: [1, 1], groups: 1 },
  // strided 1x1 layers (projection shortcuts): odd sizes, column strides of 2 and 3, groups, padding
  { n: 3, c: 16, h: 9, w: 11, k: 24, r: 1, s: 1, stride: [2, 2], pad: [0, 0], dil: [1, 1], groups: 1 },
  { n: 2, c: 6, h: 8, w: 9, k: 5, r: 1, s: 1, stride: [3, 2], pad: [0, 0], dil: [1, 1], groups: 1 },
  { n: 2, c: 8, h: 10, w: 10, k: 12, r: 1, s: 1, stride: [2, 3], pad: [0, 0], dil: [1, 1], groups: 2 },
  { n: 1, c: 4, h: 6, w: 6, k: 3, r: 1, s: 1, stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 1 },
];

function run(c: Case, x: Tensor, seed: number) {
  const xg = x.requiresGrad_();
  const w = randn([c.k, c.c / c.groups, c.r, c.s], seed + 1).requiresGrad_();
  const b = randn([c.k], seed + 2).requiresGrad_();
  const y = conv2d(xg, w, b, { stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups });
  const g = randn(y.shape, seed + 3);
  sum(mul(y, g)).backward();
  const f = (t: Tensor) => t.toTypedArray() as Float32Array;
  return { x: f(x), w: f(w), b: f(b), g: f(g), y: f(y), dx: f(xg.grad!), dw: f(w.grad!), db: f(b.grad!) };
}

function checkCase(c: Case, seed: number, poison = false): void {
  let x = randn([c.n, c.c, c.h, c.w], seed);
  if (poison) {
    // NaN in the first image, +Inf in the last column of the last image (read only by the vector
    // tails of strided layers: it must not turn into 0 * Inf = NaN in the weight gradient).
    const data = x.toTypedArray() as Float32Array;
    data[c.w + 1] = Number.NaN;
    data[data.length - 1] = Number.POSITIVE_INFINITY;
    x.dispose();
    x = tensor(data, { shape: [c.n, c.c, c.h, c.w] });
  }
  checkWith(c, x, seed, poison);
}

// Grouped stride-1 layers other than 1x1 run one group at a time on the direct kernels (conv_fast.cc).
const onDirectKernels = (c: Case) =>
  c.groups > 1 && c.groups < c.c && c.r * c.s > 1 && c.stride[0] === 1 && c.stride[1] === 1 && c.dil[0] === 1;

function checkWith(c: Case, x: Tensor, seed: number, poison = false): void {
  const got = run(c, x, seed);
  const want = reference(c, got.x, got.w, got.b, got.g);
  const tag = JSON.stringify(c);
  if (poison && onDirectKernels(c)) {
    // The direct kernels' row transforms (Winograd F(2,3) along rows) mix two adjacent outputs'
    // inputs, so a non-finite input spreads over its output pair (y) and its channel pair's kernel
    // (dw), as on the Winograd path; everything else must match.
    const Q = outSize(c.w, c.s, 1, c.pad[1], 1);
    const P = outSize(c.h, c.r, 1, c.pad[0], 1);
    const taps = c.r * c.s;
    expectReaches(
      got.y,
      want.y,
      (o) => `${Math.floor(o / (P * Q))}:${Math.floor(o / Q) % P}:${(o % Q) >> 1}`,
      `y ${tag}`,
    );
    expectReaches(got.dw, want.dw, (o) => `${Math.floor(o / taps)}`, `dw ${tag}`);
    expectMatches(got.dx, want.dx, `dx ${tag}`);
    expectMatches(got.db, want.db, `db ${tag}`);
    return;
  }
  expectMatches(got.y, want.y, `y ${tag}`);
  expectMatches(got.dx, want.dx, `dx ${tag}`);
  expectMatches(got.dw, want.dw, `dw ${tag}`);
  expectMatches(got.db, want.db, `db ${tag}`);
}

const withFastPath = <T>(on: boolean, fn: () => T): T => withSetting(testing.setConvFastPath, on, fn);

// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd();
const isas = (['avx512', 'avx2', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
const startThreads = getNumThreads();
// These are the general path's shapes; Winograd F(4x4,3x3) has its own test (conv-winograd.test.ts).
const startWinograd = testing.setConvWinograd(false);
const startBlocked = testing.setConvDepthwiseBlocked(true);
afterAll(() => {
  setSimd(startSimd as 'avx512' | 'avx2' | 'base');
  setNumThreads(startThreads);
  testing.setConvWinograd(startWinograd);
  testing.setConvDepthwiseBlocked(startBlocked);
});
const depthwise = cases.filter((c) => c.groups === c.c && c.groups > 1);

describe('conv2d depthwise and batched GEMM paths', () => {
  for (const isa of isas) {
    for (const threads of [1, 2]) {
      it(`match a float64 reference (${isa}, ${threads} thread(s))`, () => {
        setSimd(isa);
        setNumThreads(threads);
        cases.forEach((c, i) => checkCase(c, 100 * i));
      });
    }
    it(`propagate NaN and Inf exactly where they belong (${isa})`, () => {
      setSimd(isa);
      cases.forEach((c, i) => checkCase(c, 100 * i + 50, true));
    });
    it(`match it on the depthwise per-plane kernels too, the channels-in-lanes ones off (${isa})`, () => {
      setSimd(isa);
      testing.setConvDepthwiseBlocked(false);
      try {
        depthwise.forEach((c, i) => {
          checkCase(c, 100 * i + 7);
          checkCase(c, 100 * i + 57, true);
        });
      } finally {
        testing.setConvDepthwiseBlocked(true);
      }
    });
  }

  it('give the depthwise input gradient alone (frozen weights) as with the weight gradient', () => {
    // Without a weight gradient the channels-in-lanes kernels split the input gradient by image and
    // block of channels; with one they go block by block.
    const f = (t: Tensor) => t.toTypedArray() as Float32Array;
    for (const isa of isas)
      for (const c of depthwise)
        for (const threads of [1, 2]) {
          setSimd(isa);
          setNumThreads(threads);
          const xg = randn([c.n, c.c, c.h, c.w], 5).requiresGrad_();
          const w = randn([c.k, c.c / c.groups, c.r, c.s], 6);
          const opts = { stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups };
          const y = conv2d(xg, w, undefined, opts);
          const g = randn(y.shape, 8);
          sum(mul(y, g)).backward();
          const alone = f(xg.grad!);
          const tag = `${JSON.stringify(c)} at ${threads} thread(s) (${isa})`;
          expectMatches(alone, reference(c, f(xg), f(w), new Float32Array(c.k), f(g)).dx, `dx ${tag}`);
          // run() draws the weights from seed 6 and the output gradient from seed 8 here.
          const both = run(c, randn([c.n, c.c, c.h, c.w], 5), 5).dx;
          expect(Buffer.compare(Buffer.from(both.buffer), Buffer.from(alone.buffer)), `dx ${tag}`).toBe(0);
        }
  });

  it('give the same bits twice, and at 1 and 2 threads off the direct path', () => {
    for (const [i, c] of cases.entries()) {
      const runs = [2, 2, 1].map((threads) => {
        setNumThreads(threads);
        return run(c, randn([c.n, c.c, c.h, c.w], i), i);
      });
      // The direct stride-1 path (conv_fast.cc, also one group at a time for grouped layers other
      // than 1x1 ones) may split its weight-gradient sums by thread count; the depthwise and batched
      // GEMM paths never do.
      const direct =
        (c.groups === 1 && c.stride[0] === 1 && c.stride[1] === 1 && c.dil[0] === 1) || onDirectKernels(c);
      for (const key of ['y', 'dx', 'dw', 'db'] as const) {
        for (const other of direct ? runs.slice(1, 2) : runs.slice(1)) {
          const same = Buffer.compare(Buffer.from(runs[0]![key].buffer), Buffer.from(other[key].buffer));
          expect(same, `${key} ${JSON.stringify(c)}`).toBe(0);
        }
      }
    }
  });

  it('lower large planes a span of output positions at a time', () => {
    // One image's im2col matrix beyond 4M floats is built a span at a time (nn/conv_gemm.cc), the
    // weight gradient summed span by span: a dilated layer (lowering table; spans end mid-row), the
    // same plane with the fast paths off (row copies), and a 7x7 dilated kernel on a plane whose
    // table would pass 4M entries (row copies with dilation, three spans), batch 2 on one.
    const large: Case[] = [
      { n: 1, c: 64, h: 90, w: 90, k: 5, r: 3, s: 3, stride: [1, 1], pad: [2, 2], dil: [2, 2], groups: 1 },
      { n: 2, c: 1, h: 310, w: 301, k: 2, r: 7, s: 7, stride: [1, 1], pad: [3, 3], dil: [2, 2], groups: 1 },
    ];
    for (const threads of [1, 2]) {
      setNumThreads(threads);
      large.forEach((c, i) => checkCase(c, 900 + i));
      withFastPath(false, () =>
        checkCase(
          {
            n: 1,
            c: 64,
            h: 90,
            w: 90,
            k: 5,
            r: 3,
            s: 3,
            stride: [1, 1],
            pad: [1, 1],
            dil: [1, 1],
            groups: 1,
          },
          950,
        ),
      );
    }
    const runs = [1, 2].map((threads) => {
      setNumThreads(threads);
      return run(large[0]!, randn([1, 64, 90, 90], 7), 7);
    });
    for (const key of ['y', 'dx', 'dw', 'db'] as const)
      expect(Buffer.compare(Buffer.from(runs[0]![key].buffer), Buffer.from(runs[1]![key].buffer)), key).toBe(
        0,
      );
  });

  it('fuse a ReLU into the strided forward with the same bits as a separate ReLU', () => {
    for (const [i, c] of cases.entries()) {
      if (c.stride[0] === 1 && c.stride[1] === 1) continue;
      const x = randn([c.n, c.c, c.h, c.w], i);
      const w = randn([c.k, c.c / c.groups, c.r, c.s], i + 1);
      const b = randn([c.k], i + 2);
      const options = { stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups };
      const fused = conv2d(x, w, b, { ...options, relu: true });
      const separate = relu(conv2d(x, w, b, options));
      const same = Buffer.compare(
        Buffer.from((fused.toTypedArray() as Float32Array).buffer),
        Buffer.from((separate.toTypedArray() as Float32Array).buffer),
      );
      expect(same, JSON.stringify(c)).toBe(0);
    }
  });

  it('run planes no larger than the kernel as one dense matrix: at any width and thread count', () => {
    // 2x2 planes under a padded 3x3 (a VGG's last stage at 32x32 input) and a 1x1 plane, wide
    // enough for the GEMMs to split over threads. On the 2x2 planes the GEMM path (fast paths off)
    // sums im2col's padding zeros in another order, so its bits differ (on 1x1 only the input
    // gradient's order is the same).
    const wide = [
      { n: 64, c: 72, h: 2, w: 2, k: 40, r: 3, s: 3, stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 1 },
      { n: 40, c: 96, h: 1, w: 1, k: 80, r: 3, s: 3, stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 1 },
    ] satisfies Case[];
    for (const [i, c] of wide.entries()) {
      const runs = [1, 2].map((threads) => {
        setNumThreads(threads);
        return run(c, randn([c.n, c.c, c.h, c.w], i), i);
      });
      const want = reference(c, runs[0]!.x, runs[0]!.w, runs[0]!.b, runs[0]!.g);
      const gemm = withFastPath(false, () => run(c, randn([c.n, c.c, c.h, c.w], i), i));
      const tag = JSON.stringify(c);
      for (const key of ['y', 'dx', 'dw'] as const) {
        expectMatches(runs[0]![key], want[key], `${key} ${tag}`);
        expect(
          Buffer.compare(Buffer.from(runs[0]![key].buffer), Buffer.from(runs[1]![key].buffer)),
          `${key} ${tag}`,
        ).toBe(0);
        if (i === 0 || key !== 'dx')
          expect(
            Buffer.compare(Buffer.from(runs[0]![key].buffer), Buffer.from(gemm[key].buffer)),
            `${key} ${tag} took another path`,
          ).not.toBe(0);
      }
    }
  });

  it('read non-contiguous inputs like their contiguous copies', () => {
    for (const [i, c] of cases.entries()) {
      const base = randn([c.n, c.h, c.c, c.w], i);
      const strided = permute(base, [0, 2, 1, 3]);
      const a = run(c, strided, i);
      const b = run(c, permute(randn([c.n, c.h, c.c, c.w], i), [0, 2, 1, 3]).contiguous(), i);
      expect(Buffer.compare(Buffer.from(a.y.buffer), Buffer.from(b.y.buffer))).toBe(0);
      expect(Buffer.compare(Buffer.from(a.dw.buffer), Buffer.from(b.dw.buffer))).toBe(0);
    }
  });
});
