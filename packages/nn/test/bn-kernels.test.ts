// The batch-norm channel kernels (isa/norm.h) on every instruction set this CPU has, against a
// float64 reference: output, input, weight, bias and residual gradients, in training and evaluation,
// with and without the fused ReLU and a residual; planes whose size is a multiple of no vector width
// (1x1, 3x3, 5x7) and of every width (4x4, 8x8), so whole vectors and masked last vectors both run;
// small channels in blocks side by side (40 channels: a whole block and a part), channels of 256 KB
// one by one; a NaN reaches its channel and no other.

import { testing } from '@dlf/native/testing';
import { batchNorm2d, mul, sum } from '@dlf/nn';
import { Generator, getSimd, randn as randnDefault, setSimd, type Tensor, tensor } from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd();
const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
afterAll(() => setSimd(startSimd as 'avx512' | 'avx2' | 'neon' | 'base'));

const randn = (shape: readonly number[], seed: number) =>
  randnDefault(shape, 0, 1, { generator: new Generator(seed) });
const arr = (t: Tensor) => t.toTypedArray() as Float32Array;
const eps = 1e-5;

type Run = { y: Float32Array; dx: Float32Array; dw: Float32Array; db: Float32Array; dr: Float32Array };

// y = relu?((x - mean) / sqrt(var + eps) * w + b) and its gradients for the upstream gradient g.
function reference(
  x: Float32Array,
  shape: number[],
  w: Float32Array,
  b: Float32Array,
  g: Float32Array,
  training: boolean,
  relu: boolean,
  runMean: Float32Array,
  runVar: Float32Array,
  residual: Float32Array | null,
): Run {
  const [n, c, h, wd] = shape as [number, number, number, number];
  const hw = h * wd,
    m = n * hw;
  const out: Run = {
    y: new Float32Array(x.length),
    dx: new Float32Array(x.length),
    dw: new Float32Array(c),
    db: new Float32Array(c),
    dr: new Float32Array(residual ? x.length : 0),
  };
  const at = (i: number, ch: number, j: number) => (i * c + ch) * hw + j;
  for (let ch = 0; ch < c; ch++) {
    let mean = runMean[ch]!,
      variance = runVar[ch]!;
    if (training) {
      mean = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) mean += x[at(i, ch, j)]!;
      mean /= m;
      variance = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) variance += (x[at(i, ch, j)]! - mean) ** 2;
      variance /= m;
    }
    const invstd = 1 / Math.sqrt(variance + eps);
    let sb = 0,
      sg = 0;
    const gm = new Float64Array(n * hw);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < hw; j++) {
        const o = at(i, ch, j);
        const xhat = (x[o]! - mean) * invstd;
        const v = xhat * w[ch]! + b[ch]! + (residual ? residual[o]! : 0);
        out.y[o] = relu ? Math.max(v, 0) : v;
        const gv = relu && !(v > 0) ? 0 : g[o]!;
        gm[i * hw + j] = gv;
        if (residual) out.dr[o] = gv;
        sb += gv;
        sg += gv * xhat;
      }
    out.db[ch] = sb;
    out.dw[ch] = sg;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < hw; j++) {
        const o = at(i, ch, j);
        const xhat = (x[o]! - mean) * invstd;
        const gv = gm[i * hw + j]!;
        out.dx[o] = training ? (w[ch]! * invstd * (m * gv - sb - xhat * sg)) / m : w[ch]! * invstd * gv;
      }
  }
  return out;
}

function run(
  x: Tensor,
  w: Tensor,
  b: Tensor,
  g: Tensor,
  training: boolean,
  relu: boolean,
  runMean: Float32Array,
  runVar: Float32Array,
  residual: Tensor | null,
): Run {
  // Fresh leaves each run: gradients would add up over runs on shared ones.
  const fresh = (t: Tensor) => tensor(arr(t).slice(), { shape: t.shape }).requiresGrad_();
  const [xg, wg, bg] = [fresh(x), fresh(w), fresh(b)];
  const rg = residual ? fresh(residual) : null;
  const y = batchNorm2d(xg, {
    weight: wg,
    bias: bg,
    runningMean: tensor(runMean.slice()),
    runningVar: tensor(runVar.slice()),
    training,
    eps,
    relu,
    ...(rg ? { residual: rg } : {}),
  });
  sum(mul(y, g)).backward();
  return {
    y: arr(y),
    dx: arr(xg.grad!),
    dw: arr(wg.grad!),
    db: arr(bg.grad!),
    dr: rg ? arr(rg.grad!) : new Float32Array(0),
  };
}

function expectNear(got: Float32Array, want: Float32Array, what: string) {
  expect(got.length, what).toBe(want.length);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= 2e-4 * (1 + scale))) expect.fail(`${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

const shapes = [
  [3, 5, 5, 7],
  [2, 4, 4, 4],
  [4, 3, 1, 1],
  [2, 6, 3, 3],
  [3, 2, 8, 8],
  [2, 3, 17, 1],
  // channels of at least 256 KB go one by one, smaller ones in blocks of up to 32 channels side by side
  [64, 2, 32, 32],
  [2, 3, 9, 10],
  [2, 40, 3, 3],
];

describe('batch-norm channel kernels', () => {
  for (const isa of isas) {
    it(`match a float64 reference (${isa})`, () => {
      setSimd(isa);
      for (const [s, shape] of shapes.entries()) {
        const c = shape[1]!;
        const x = randn(shape, s);
        const w = randn([c], s + 1);
        const b = randn([c], s + 2);
        const g = randn(shape, s + 3);
        const runMean = arr(randn([c], s + 4));
        const runVar = new Float32Array(c).fill(0.7);
        const r = randn(shape, s + 5);
        for (const training of [true, false])
          for (const relu of [false, true])
            for (const residual of [null, r]) {
              const got = run(x, w, b, g, training, relu, runMean, runVar, residual);
              const want = reference(
                arr(x),
                shape,
                arr(w),
                arr(b),
                arr(g),
                training,
                relu,
                runMean,
                runVar,
                residual ? arr(residual) : null,
              );
              const tag = `${isa} ${shape} training=${training} relu=${relu} residual=${residual !== null}`;
              for (const key of ['y', 'dx', 'dw', 'db', 'dr'] as const)
                expectNear(got[key], want[key], `${key} ${tag}`);
            }
      }
    });

    it(`let a NaN reach its own channel only (${isa})`, () => {
      setSimd(isa);
      const shape = [2, 3, 5, 7];
      const data = arr(randn(shape, 9)).slice();
      data[(1 * 3 + 1) * 35 + 34] = Number.NaN; // channel 1's last value: in a masked last vector
      const x = tensor(data, { shape });
      const y = run(
        x,
        randn([3], 10),
        randn([3], 11),
        randn(shape, 12),
        true,
        false,
        new Float32Array(3),
        new Float32Array(3).fill(1),
        null,
      );
      for (let i = 0; i < 2; i++)
        for (let ch = 0; ch < 3; ch++)
          for (let j = 0; j < 35; j++) {
            const v = y.y[(i * 3 + ch) * 35 + j]!;
            expect(Number.isNaN(v), `channel ${ch} value ${j}`).toBe(ch === 1);
          }
    });
  }
});
