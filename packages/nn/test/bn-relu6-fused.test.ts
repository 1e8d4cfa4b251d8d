// Batch norm with a fused ReLU6 (one native pass; the backward passes the gradient where
// 0 < output < 6, as PyTorch's hardtanh) against batchNorm2d followed by relu6: outputs, all
// gradients and running statistics, in training and evaluation mode, on every instruction set; and
// Sequential's and GraphModule's BatchNorm2d + ReLU6 fusion against the same models unfused.

import { testing } from '@dlf/native/testing';
import { Generator, getSimd, randn as randnDefault, setSimd, type Tensor, tensor } from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BatchNorm2d,
  batchNorm2d,
  Conv2d,
  GraphBuilder,
  type Module,
  mul,
  ReLU6,
  relu6,
  Sequential,
  sum,
} from '@dlf/nn';

const randn = (shape: readonly number[], seed: number, std = 1) =>
  randnDefault(shape, 0, std, { generator: new Generator(seed) });
const arr = (t: Tensor) => t.toTypedArray() as Float32Array;

function expectClose(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= 1e-5 * (1 + Math.abs(want[i]!)))) expect.fail(`${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

function bnRun(fused: boolean, training: boolean, shape: number[], seed: number) {
  const x = randn(shape, seed).requiresGrad_();
  const c = shape[1]!;
  // A wide scale and shift: outputs on both sides of both kinks (0 and 6).
  const weight = randn([c], seed + 1, 8).requiresGrad_();
  const bias = randn([c], seed + 2, 3).requiresGrad_();
  const runningMean = randn([c], seed + 3);
  const runningVar = tensor(new Float32Array(c).fill(1.5));
  const opts = { weight, bias, runningMean, runningVar, training };
  const y = fused ? batchNorm2d(x, { ...opts, relu6: true }) : relu6(batchNorm2d(x, opts));
  const g = randn(y.shape, seed + 4);
  sum(mul(y, g)).backward();
  return [arr(y), arr(x.grad!), arr(weight.grad!), arr(bias.grad!), arr(runningMean), arr(runningVar)];
}

const isas = (['avx512', 'avx2', 'base'] as const).filter((name) => testing.selectSimd(name));
const startSimd = getSimd();
afterAll(() => setSimd(startSimd as 'avx512' | 'avx2' | 'base'));

describe('batchNorm2d with a fused ReLU6', () => {
  for (const isa of isas)
    for (const training of [true, false]) {
      it(`matches batchNorm2d then relu6 (${training ? 'training' : 'evaluation'}, ${isa})`, () => {
        setSimd(isa);
        const seen = { zero: false, six: false, between: false };
        for (const [i, shape] of [
          [4, 3, 5, 7],
          [1, 16, 8, 8],
          [2, 33, 9, 3],
        ].entries()) {
          const a = bnRun(true, training, shape, 10 * i);
          const b = bnRun(false, training, shape, 10 * i);
          ['y', 'dx', 'dweight', 'dbias', 'runningMean', 'runningVar'].forEach((name, k) =>
            expectClose(a[k]!, b[k]!, `${name} ${shape}`),
          );
          seen.zero ||= a[0]!.some((v) => v === 0);
          seen.six ||= a[0]!.some((v) => v === 6);
          seen.between ||= a[0]!.some((v) => v > 0 && v < 6);
        }
        // Outputs were clipped at both ends, so both bounds of the mask mattered.
        expect(seen).toEqual({ zero: true, six: true, between: true });
      });
    }

  it('takes one fused activation, not both', () => {
    expect(() => batchNorm2d(randn([2, 3, 4, 4], 1), { relu: true, relu6: true })).toThrow(/relu6/);
  });

  // Conv -> BN -> ReLU6 -> conv, in training mode (the BN runs itself, fused with its ReLU6).
  let fusedCalls = 0;
  const layers = (seed: number) => {
    const bn = new BatchNorm2d(8);
    bn.weight!.write(arr(randn([8], seed + 2, 4)));
    bn.bias!.write(arr(randn([8], seed + 3, 3)));
    const forward = bn.forward.bind(bn);
    bn.forward = (x, options) => {
      if (options?.relu6) fusedCalls++;
      return forward(x, options);
    };
    const conv = (cin: number, cout: number, s: number) =>
      new Conv2d(cin, cout, 3, { padding: 1, bias: false, generator: new Generator(s) });
    return [conv(4, 8, seed), bn, new ReLU6(), conv(8, 4, seed + 1)] as const;
  };
  const compare = (build: () => Module & { fuse: boolean }, what: string) => {
    const results = [true, false].map((fuse) => {
      const model = build();
      model.fuse = fuse;
      fusedCalls = 0;
      const y = model.forward(randn([3, 4, 10, 10], 5));
      expect(fusedCalls, `${what}: fused BatchNorm2d + ReLU6 calls with fuse ${fuse}`).toBe(fuse ? 1 : 0);
      sum(mul(y, randn(y.shape, 6))).backward();
      return model.parameters().map((p) => arr(p.grad!));
    });
    results[0]!.forEach((v, k) => expectClose(v, results[1]![k]!, `${what} gradient ${k}`));
  };

  it('is what Sequential and GraphModule run for BatchNorm2d + ReLU6, matching the unfused models', () => {
    compare(() => new Sequential(...layers(21)), 'Sequential');
    compare(() => {
      const g = new GraphBuilder();
      const [c1, bn, act, c2] = layers(22);
      const h = g.node(act, g.node(bn, g.node(c1, g.input, 'c1'), 'bn'), 'act');
      return g.build(g.node(c2, h, 'c2'));
    }, 'GraphModule');
  });
});
