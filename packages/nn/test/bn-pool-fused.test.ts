// Batch norm with a fused ReLU and 2x2 max pool (one native pass over each plane: normalised into a
// scratch and pooled from there, so the full-size output is never written; the backward unpools
// each channel's gradient just before its passes) against the separate ops: outputs, every
// gradient and the running statistics, bit for bit, in training and evaluation mode, on every
// instruction set at 1 and 2 threads; Sequential's and GraphModule's BatchNorm2d + ReLU +
// MaxPool2d(2) fusion in training against the same models unfused; the errors of bad options.

import { testing } from '@dlf/native/testing';
import { sameBits } from '@dlf/testing';
import {
  Generator,
  getNumThreads,
  getSimd,
  randn as randnDefault,
  setNumThreads,
  setSimd,
  type Tensor,
  tensor,
} from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BatchNorm2d,
  batchNorm2d,
  Conv2d,
  GraphBuilder,
  MaxPool2d,
  maxPool2d,
  type Module,
  mul,
  ReLU,
  relu,
  relu6,
  Sequential,
  sum,
} from '@dlf/nn';

const randn = (shape: readonly number[], seed: number, std = 1) =>
  randnDefault(shape, 0, std, { generator: new Generator(seed) });
const arr = (t: Tensor) => t.toTypedArray() as Float32Array;
// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd();
const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
const startThreads = getNumThreads();
afterAll(() => {
  setSimd(startSimd as 'avx512' | 'avx2' | 'neon' | 'base');
  setNumThreads(startThreads);
});

// Odd planes (the pool drops the last row / column), 2x2 planes, planes past a vector, channel
// counts off any block; ReLU6's scale and shift are wide, so outputs lie past both kinks.
const shapes = [
  [3, 5, 9, 7],
  [2, 16, 32, 32],
  [4, 3, 2, 2],
  [2, 33, 7, 3],
  [5, 8, 14, 14],
];

function run(fused: boolean, training: boolean, shape: number[], seed: number, six = false) {
  const x = randn(shape, seed).requiresGrad_();
  const c = shape[1]!;
  const weight = randn([c], seed + 1, six ? 8 : 1).requiresGrad_();
  const bias = randn([c], seed + 2, six ? 3 : 1).requiresGrad_();
  const runningMean = randn([c], seed + 3);
  const runningVar = tensor(new Float32Array(c).fill(1.5));
  const opts = { weight, bias, runningMean, runningVar, training };
  const act = six ? relu6 : relu;
  const y = fused
    ? batchNorm2d(x, { ...opts, [six ? 'relu6' : 'relu']: true, maxPool2x2: true })
    : maxPool2d(act(batchNorm2d(x, opts)), { kernelSize: 2 });
  const g = randn(y.shape, seed + 4);
  sum(mul(y, g)).backward();
  return {
    shape: y.shape,
    gradFn: y.gradFn,
    tensors: [arr(y), arr(x.grad!), arr(weight.grad!), arr(bias.grad!), arr(runningMean), arr(runningVar)],
  };
}

const names = ['y', 'dx', 'dweight', 'dbias', 'runningMean', 'runningVar'];

describe('batchNorm2d with a fused ReLU and 2x2 max pool', () => {
  for (const isa of isas)
    for (const threads of [1, 2])
      for (const training of [true, false])
        it(`matches the separate ops bit for bit (${isa}, ${threads} thread(s), ${training ? 'training' : 'evaluation'})`, () => {
          setSimd(isa);
          setNumThreads(threads);
          for (const six of [false, true])
            shapes.forEach((shape, i) => {
              const tag = `${shape} relu${six ? '6' : ''}`;
              const got = run(true, training, shape, 10 * i, six);
              const want = run(false, training, shape, 10 * i, six);
              expect(got.shape, tag).toEqual([shape[0], shape[1], shape[2]! >> 1, shape[3]! >> 1]);
              expect(got.gradFn, tag).toBe('BatchNorm2dReluMaxPoolBackward');
              names.forEach((name, k) =>
                expect(sameBits(got.tensors[k]!, want.tensors[k]!), `${name} ${tag}`).toBe(true),
              );
              // Some pooled outputs were clipped, so the ReLU mask behind the pool mattered.
              if (shape[2]! > 2)
                expect(
                  got.tensors[0]!.some((v) => v === 0),
                  tag,
                ).toBe(true);
            });
        });

  it('refuses a pool without a fused activation, with a residual, or over planes under 2x2', () => {
    const x = randn([2, 4, 6, 6], 1);
    expect(() => batchNorm2d(x, { maxPool2x2: true })).toThrow(/relu.*for options\.maxPool2x2/);
    expect(() => batchNorm2d(x, { relu: true, maxPool2x2: true, residual: randn([2, 4, 6, 6], 2) })).toThrow(
      /maxPool2x2 for options\.residual/,
    );
    expect(() => batchNorm2d(randn([2, 4, 1, 6], 3), { relu: true, maxPool2x2: true })).toThrow(
      /2×2.*for input/,
    );
  });
});

// Conv -> BN -> ReLU -> MaxPool2d(2) -> Conv, in training: the BN runs itself, fused with both.
const layers = (seed: number): Module[] => [
  new Conv2d(3, 8, 3, { padding: 1, bias: false, generator: new Generator(seed) }),
  new BatchNorm2d(8),
  new ReLU(),
  new MaxPool2d(2),
  new Conv2d(8, 4, 3, { padding: 1, generator: new Generator(seed + 1) }),
];

function compareModels(build: () => Module & { fuse: boolean }, what: string, inputShape: number[]): void {
  const results = [true, false].map((fuse) => {
    const model = build().train();
    model.fuse = fuse;
    const y = model.forward(randn(inputShape, 5));
    sum(mul(y, randn(y.shape, 6))).backward();
    return [arr(y), ...model.parameters().map((p) => arr(p.grad!))];
  });
  results[0]!.forEach((v, k) => expect(sameBits(v, results[1]![k]!), `${what} tensor ${k}`).toBe(true));
}

describe('BatchNorm2d + ReLU + MaxPool2d(2) in models', () => {
  it('is what Sequential runs in training, matching the unfused model', () => {
    compareModels(() => new Sequential(...layers(21)), 'Sequential', [3, 3, 11, 10]);
    const head = new Sequential(...layers(21).slice(0, 4));
    const y = head.train().forward(randn([2, 3, 8, 8], 1));
    expect(y.shape).toEqual([2, 8, 4, 4]);
    expect(y.gradFn).toBe('BatchNorm2dReluMaxPoolBackward');
  });

  it('is what GraphModule runs in training, matching the unfused model', () => {
    const graph = (seed: number, end = 5) => {
      const g = new GraphBuilder();
      const [c1, bn, act, pool, c2] = layers(seed);
      let h = g.node(pool!, g.node(act!, g.node(bn!, g.node(c1!, g.input, 'c1'), 'bn'), 'act'), 'pool');
      if (end > 4) h = g.node(c2!, h, 'c2');
      return g.build(h);
    };
    compareModels(() => graph(22), 'GraphModule', [3, 3, 11, 10]);
    const y = graph(22, 4)
      .train()
      .forward(randn([2, 3, 8, 8], 1));
    expect(y.gradFn).toBe('BatchNorm2dReluMaxPoolBackward');
  });

  it('keeps the separate ops, and their errors, for planes under 2x2', () => {
    const model = new Sequential(new BatchNorm2d(4), new ReLU(), new MaxPool2d(2)).train();
    const unfused = new Sequential(new BatchNorm2d(4), new ReLU(), new MaxPool2d(2)).train();
    unfused.fuse = false;
    const x = randn([3, 4, 1, 5], 2);
    let want = '';
    try {
      unfused.forward(x);
    } catch (e) {
      want = (e as Error).message;
    }
    expect(want).not.toBe('');
    expect(() => model.forward(x)).toThrow(want);
  });
});
