// Every fused ReLU keeps a NaN, as PyTorch's ReLU does (v < 0 ? 0 : v; max(v, 0) would turn it into
// 0 and hide a diverged layer), and passes the gradient where its output is NaN (PyTorch's backward
// zeroes it only where y <= 0): the ReLU fused into each convolution algorithm the chooser can pick,
// the pooled convolution, BatchNorm's fused ReLU and ReLU6 (with a residual, with the pool), addRelu,
// linear and relu itself, the convolution's residual join, on every instruction set this CPU has. Each fused result is checked bit for
// bit against the same op without the ReLU, followed by PyTorch's ReLU written here.

import { testing } from '@dlf/native/testing';
import { Generator, getSimd, randn as randnDefault, setSimd, type Tensor, tensor } from '@dlf/tensor-core';
import { sameBits } from '@dlf/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { addRelu, batchNorm2d, conv2d, linear, maxPool2d, mul, relu, sum } from '@dlf/nn';

const randn = (shape: readonly number[], seed: number) =>
  randnDefault(shape, 0, 1, { generator: new Generator(seed) });
const arr = (t: Tensor) => t.toTypedArray() as Float32Array;
// PyTorch's ReLU and ReLU6, written out: Math.max(e, 0) would turn -0 into 0.
// biome-ignore lint/complexity/useMathMinMax: the ternary is the definition under test
const reluOf = (v: Float32Array) => v.map((e) => (e < 0 ? 0 : e));
// biome-ignore lint/complexity/useMathMinMax: as above
const clipOf = (v: Float32Array, hi: number) => v.map((e) => (e < 0 ? 0 : e > hi ? hi : e));

// randn with NaN at a few places (every `every`-th value from `from`).
function poisoned(shape: readonly number[], seed: number, from: number, every: number): Tensor {
  const data = arr(randn(shape, seed));
  for (let i = from; i < data.length; i += every) data[i] = Number.NaN;
  return tensor(data, { shape });
}

function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  if (sameBits(got, want)) return;
  const i = got.findIndex((v, j) => !Object.is(v, want[j]));
  expect.fail(`${what}[${i}]: ${got[i]} where ${want[i]} was expected`);
}

// The gradient a ReLU passes, summed per channel of (N, K, ...): g where the output is not <= 0.
function passedSums(y: Float32Array, g: Float32Array, n: number, k: number): Float64Array {
  const per = y.length / (n * k);
  const sums = new Float64Array(k);
  for (let i = 0; i < y.length; i++) if (!(y[i]! <= 0)) sums[Math.floor(i / per) % k] += g[i]!;
  return sums;
}

function expectSums(got: Float32Array, want: Float64Array, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const tol = 1e-4 * (1 + Math.abs(want[i]!));
    if (!(Math.abs(got[i]! - want[i]!) <= tol))
      expect.fail(`${what}[${i}]: ${got[i]} where ${want[i]} was expected`);
  }
}

interface ConvCase {
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride?: number;
  padding?: number;
  groups?: number;
  blocked?: boolean; // the depthwise kernels with channels in the vector lanes (default on)
}

// One layer for each algorithm of the chooser (the test asserts that all are covered), and the
// direct kernels' 5x5 and Winograd F(2,3) row transforms.
const convCases: ConvCase[] = [
  { x: [2, 32, 16, 16], w: [32, 32, 3, 3], padding: 1 }, // winograd F(4x4,3x3)
  { x: [2, 5, 11, 13], w: [6, 5, 3, 3], padding: 1 }, // direct, few channels
  { x: [2, 4, 12, 15], w: [5, 4, 5, 5], padding: 2 }, // direct 5x5
  { x: [2, 8, 15, 16], w: [20, 8, 3, 3], stride: 2, padding: 1 }, // channel-vectorised
  { x: [5, 40, 8, 8], w: [33, 40, 3, 3], stride: 2, padding: 1 }, // gemm
  { x: [3, 12, 7, 9], w: [10, 12, 1, 1] }, // gemm 1x1, a batch of images through a scratch
  { x: [5, 12, 8, 8], w: [10, 12, 1, 1] }, // gemm 1x1, images as column segments (the GEMM's epilogue)
  { x: [2, 8, 17, 17], w: [6, 8, 1, 1] }, // gemm 1x1, one image a GEMM (the epilogue, ragged panels)
  { x: [3, 20, 2, 2], w: [33, 20, 3, 3], padding: 1 }, // dense
  { x: [2, 17, 7, 7], w: [17, 1, 3, 3], padding: 1, groups: 17 }, // depthwise, channels in lanes
  { x: [2, 5, 9, 19], w: [5, 1, 3, 3], padding: 1, groups: 5, blocked: false }, // depthwise per plane
  { x: [3, 20, 16, 15], w: [30, 10, 3, 3], padding: 1, groups: 2 }, // grouped
];

// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd();
const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
afterAll(() => setSimd(startSimd as Parameters<typeof setSimd>[0]));

describe('a fused ReLU keeps NaN and passes its gradient', () => {
  for (const isa of isas) {
    it(`in conv2d, on every algorithm (${isa})`, () => {
      setSimd(isa);
      const seen = new Set<string>();
      convCases.forEach((c, i) => {
        const previous = testing.setConvDepthwiseBlocked(c.blocked ?? true);
        try {
          const opts = { stride: c.stride ?? 1, padding: c.padding ?? 0, groups: c.groups ?? 1 };
          const x = poisoned(c.x, 10 * i, 7, 97);
          const w = randn(c.w, 10 * i + 1);
          const b = randn([c.w[0]], 10 * i + 2).requiresGrad_();
          const s = opts.stride;
          const p = opts.padding;
          const attributes = {
            strideH: s,
            strideW: s,
            padH: p,
            padW: p,
            dilationH: 1,
            dilationW: 1,
            groups: opts.groups,
          };
          seen.add(testing.convPlan(x.handle, w.handle, attributes).forward);
          const plain = arr(conv2d(x, w, b, opts));
          const fused = conv2d(x, w, b, { ...opts, relu: true });
          const tag = JSON.stringify(c);
          expectSameBits(arr(fused), reluOf(plain), `y ${tag}`);
          expect(arr(fused).some(Number.isNaN), `a NaN reaches y ${tag}`).toBe(true);
          // with a residual join: relu(conv + residual), the NaN now in the residual; without a
          // gradient to record, the Winograd path adds it in its output transform
          const residual = poisoned(fused.shape, 10 * i + 4, 3, 53);
          const joined = reluOf(arr(conv2d(x, w, b, opts).add(residual)));
          const fusedJoin = conv2d(x, w, b.detach(), { ...opts, residual, relu: true });
          expectSameBits(arr(fusedJoin), joined, `residual ${tag}`);
          const g = randn(fused.shape, 10 * i + 3);
          const want = passedSums(plain, arr(g), c.x[0], c.w[0]);
          sum(mul(fused, g)).backward();
          expectSums(arr(b.grad!), want, `db ${tag}`);
          // The direct kernels' backward masks by the saved output when the forward ran elsewhere
          // (Winograd switched off after the forward).
          if (i === 0) {
            b.zeroGrad();
            const again = conv2d(x, w, b, { ...opts, relu: true });
            const winograd = testing.setConvWinograd(false);
            try {
              sum(mul(again, g)).backward();
            } finally {
              testing.setConvWinograd(winograd);
            }
            expectSums(arr(b.grad!), want, `db ${tag}, direct backward`);
          }
        } finally {
          testing.setConvDepthwiseBlocked(previous);
        }
      });
      expect([...seen].sort()).toEqual(
        ['channel-vectorised', 'dense', 'depthwise', 'direct', 'gemm', 'grouped', 'winograd'].sort(),
      );
    });

    it(`in conv2d + ReLU + 2x2 max pool, direct and Winograd (${isa})`, () => {
      setSimd(isa);
      for (const [i, c] of [
        [6, 6],
        [16, 16],
      ].entries()) {
        const x = poisoned([2, c[0]!, 12, 14], 20 + i, 5, 211);
        const w = randn([c[1]!, c[0]!, 3, 3], 30 + i);
        const b = randn([c[1]!], 40 + i).requiresGrad_();
        const separate = arr(maxPool2d(relu(conv2d(x, w, b, { padding: 1 })), { kernelSize: 2 }));
        const fused = conv2d(x, w, b, { padding: 1, relu: true, maxPool2x2: true });
        expectSameBits(arr(fused), separate, `y ${c}`);
        expect(separate.some(Number.isNaN), `a NaN reaches y ${c}`).toBe(true);
        const g = randn(fused.shape, 50 + i);
        sum(mul(fused, g)).backward();
        // The pooled gradient goes to each window's maximum and passes the ReLU where it is not <= 0.
        expectSums(arr(b.grad!), passedSums(separate, arr(g), 2, c[1]!), `db ${c}`);
      }
    });

    it(`in batchNorm2d's ReLU, ReLU6, residual join and pool, training and evaluation (${isa})`, () => {
      setSimd(isa);
      const shape = [3, 4, 6, 10] as const;
      const x = randn(shape, 60);
      const data = arr(x);
      data[(1 * 4 + 2) * 60 + 17] = Number.NaN; // image 1, channel 2
      const xn = tensor(data, { shape });
      const residual = poisoned(shape, 61, 3, 131);
      const stats = () => ({ runningMean: randn([4], 62), runningVar: randn([4], 63).abs() });
      for (const training of [true, false]) {
        const base = { weight: randn([4], 64), bias: randn([4], 65), training, ...stats() };
        const plain = arr(batchNorm2d(xn, { ...base, ...stats() }));
        const joined = arr(batchNorm2d(xn, { ...base, ...stats() }).add(residual));
        const mode = training ? 'training' : 'evaluation';
        const run = (extra: object) => arr(batchNorm2d(xn, { ...base, ...stats(), ...extra }));
        expectSameBits(run({ relu: true }), reluOf(plain), `relu (${mode})`);
        expectSameBits(run({ relu6: true }), clipOf(plain, 6), `relu6 (${mode})`);
        expectSameBits(run({ relu: true, residual }), reluOf(joined), `residual (${mode})`);
        const pooled = arr(maxPool2d(tensor(reluOf(plain), { shape }), { kernelSize: 2 }));
        expectSameBits(run({ relu: true, maxPool2x2: true }), pooled, `pool (${mode})`);
        // training: the NaN takes its channel's statistics, so the whole channel; evaluation: one value
        const nans = reluOf(plain).filter(Number.isNaN).length;
        expect(nans, mode).toBe(training ? 3 * 60 : 1);
      }
      // The gradient of beta is the sum of what the ReLU passes: all of channel 2 is NaN and passes.
      const beta = randn([4], 66).requiresGrad_();
      const y = batchNorm2d(xn, { weight: randn([4], 64), bias: beta, training: true, relu: true });
      const g = randn(shape, 67);
      sum(mul(y, g)).backward();
      expectSums(arr(beta.grad!), passedSums(arr(y), arr(g), 3, 4), 'dbeta');
    });

    it(`in addRelu, linear and relu (${isa})`, () => {
      setSimd(isa);
      const a = poisoned([4, 37], 70, 2, 29).requiresGrad_();
      const c = randn([4, 37], 71);
      const y = addRelu(a, c);
      expectSameBits(arr(y), reluOf(arr(a.add(c))), 'addRelu');
      const g = randn([4, 37], 72);
      sum(mul(y, g)).backward();
      const passedBy = (out: Float32Array) => arr(g).map((v, i) => (out[i]! <= 0 ? 0 : v));
      expectSameBits(arr(a.grad!), passedBy(arr(y)), 'addRelu gradient');

      const w = randn([19, 37], 73);
      const bias = randn([19], 74).requiresGrad_();
      const fused = linear(a.detach(), w, bias, { relu: true });
      expectSameBits(arr(fused), reluOf(arr(linear(a.detach(), w, bias))), 'linear');
      const gl = randn(fused.shape, 75);
      sum(mul(fused, gl)).backward();
      expectSums(arr(bias.grad!), passedSums(arr(fused), arr(gl), 4, 19), 'linear db');

      const leaf = a.detach().requiresGrad_();
      const r = relu(leaf);
      expectSameBits(arr(r), reluOf(arr(a)), 'relu');
      sum(mul(r, g)).backward();
      expectSameBits(arr(leaf.grad!), passedBy(arr(r)), 'relu gradient');
    });
  }
});
