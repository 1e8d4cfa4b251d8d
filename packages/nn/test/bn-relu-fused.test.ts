// Batch norm with a fused ReLU (one native pass; its backward recomputes the ReLU mask from the saved
// normalised input) against batchNorm2d followed by relu: outputs, all gradients and running
// statistics, in training and evaluation mode; and Sequential's BatchNorm2d + ReLU fusion against
// the same model unfused.

import { Generator, randn as randnDefault, type Tensor, tensor } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { BatchNorm2d, batchNorm2d, Conv2d, mul, ReLU, relu, Sequential, sum } from '@dlf/nn';

const randn = (shape: readonly number[], seed: number) =>
  randnDefault(shape, 0, 1, { generator: new Generator(seed) });
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
  const weight = randn([c], seed + 1).requiresGrad_();
  const bias = randn([c], seed + 2).requiresGrad_();
  const runningMean = randn([c], seed + 3);
  const runningVar = tensor(new Float32Array(c).fill(1.5));
  const opts = { weight, bias, runningMean, runningVar, training };
  const y = fused ? batchNorm2d(x, { ...opts, relu: true }) : relu(batchNorm2d(x, opts));
  const g = randn(y.shape, seed + 4);
  sum(mul(y, g)).backward();
  return [arr(y), arr(x.grad!), arr(weight.grad!), arr(bias.grad!), arr(runningMean), arr(runningVar)];
}

describe('batchNorm2d with a fused ReLU', () => {
  for (const training of [true, false]) {
    it(`matches batchNorm2d then relu (${training ? 'training' : 'evaluation'})`, () => {
      for (const [i, shape] of [
        [4, 3, 5, 7],
        [1, 16, 8, 8],
        [3, 5, 1, 1],
        [2, 33, 9, 3],
      ].entries()) {
        const a = bnRun(true, training, shape, 10 * i);
        const b = bnRun(false, training, shape, 10 * i);
        ['y', 'dx', 'dweight', 'dbias', 'runningMean', 'runningVar'].forEach((name, k) =>
          expectClose(a[k]!, b[k]!, `${name} ${shape}`),
        );
        // Some outputs were clipped, so the mask mattered.
        expect(a[0]!.some((v) => v === 0)).toBe(true);
      }
    });
  }

  it('is what Sequential runs for BatchNorm2d + ReLU in evaluation mode, matching the unfused model', () => {
    const build = () =>
      new Sequential(
        new Conv2d(3, 8, 3, { padding: 1, bias: false, generator: new Generator(7) }),
        new BatchNorm2d(8),
        new ReLU(),
      );
    const results = [true, false].map((fuse) => {
      const model = build().eval();
      model.fuse = fuse;
      const x = randn([4, 3, 6, 6], 3);
      const y = model.forward(x);
      sum(mul(y, randn(y.shape, 4))).backward();
      return [arr(y), ...model.parameters().map((p) => arr(p.grad!))];
    });
    results[0]!.forEach((v, k) => expectClose(v, results[1]![k]!, `tensor ${k}`));
  });
});
