// Batch norm with a fused ReLU (one native pass; its backward recomputes the ReLU mask from the saved
// normalised input) against batchNorm2d followed by relu: outputs, all gradients and running
// statistics, in training and evaluation mode; Sequential's and GraphModule's BatchNorm2d + ReLU
// fusion, and their evaluation-mode folding of BatchNorm2d into the conv before it, against the
// same models unfused. The same for a fused ReLU6 (the gradient passes where 0 < output < 6, as
// PyTorch's hardtanh) and a fused hardswish (the gradient times its derivative), on every
// instruction set.

import { nn as native } from '@dlf/native/nn';
import { testing } from '@dlf/native/testing';
import { Generator, getSimd, randn as randnDefault, setSimd, type Tensor, tensor } from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BatchNorm2d,
  batchNorm2d,
  Conv2d,
  GraphBuilder,
  Hardswish,
  hardswish,
  MaxPool2d,
  type Module,
  mul,
  noGrad,
  ReLU,
  ReLU6,
  relu,
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

// With ReLU6 and hardswish the scale and shift are wide: outputs on both sides of both kinks (0 and
// 6; -3 and 3).
function bnRun(
  fused: boolean,
  training: boolean,
  shape: number[],
  seed: number,
  activation: 'relu' | 'relu6' | 'hardswish' = 'relu',
) {
  const six = activation !== 'relu';
  const x = randn(shape, seed).requiresGrad_();
  const c = shape[1]!;
  const weight = randn([c], seed + 1, six ? 8 : 1).requiresGrad_();
  const bias = randn([c], seed + 2, six ? 3 : 1).requiresGrad_();
  const runningMean = randn([c], seed + 3);
  const runningVar = tensor(new Float32Array(c).fill(1.5));
  const opts = { weight, bias, runningMean, runningVar, training };
  const act = { relu, relu6, hardswish }[activation];
  const y = fused ? batchNorm2d(x, { ...opts, [activation]: true }) : act(batchNorm2d(x, opts));
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

  let bnCalls = 0;
  // Conv (with and without bias) -> BN (affine or not, non-trivial running statistics) -> ReLU -> pool.
  const convBn = (seed: number, bias: boolean, affine: boolean, groups = 1) => {
    const conv = new Conv2d(4, 8, 3, { padding: 1, bias, groups, generator: new Generator(seed) });
    const bn = new BatchNorm2d(8, { affine });
    const forward = bn.forward.bind(bn);
    bn.forward = (x, options) => {
      bnCalls++;
      return forward(x, options);
    };
    bn.runningMean!.write(arr(randn([8], seed + 1)));
    bn.runningVar!.write(Float32Array.from({ length: 8 }, (_, i) => 0.5 + 0.25 * i));
    if (affine) {
      bn.weight!.write(arr(randn([8], seed + 2)));
      bn.bias!.write(arr(randn([8], seed + 3)));
    }
    return [conv, bn] as const;
  };
  const compare = (build: () => Module & { fuse: boolean }, what: string, clipped = true, folds = true) => {
    const results = [true, false].map((fuse) => {
      const model = build().eval();
      model.fuse = fuse;
      const x = randn([3, 4, 10, 10], 5);
      bnCalls = 0;
      const y = model.forward(x);
      // Folded: the BatchNorm2d layer itself never ran.
      expect(bnCalls, `${what}: BatchNorm2d calls with fuse ${fuse}`).toBe(fuse && folds ? 0 : 1);
      sum(mul(y, randn(y.shape, 6))).backward();
      return [arr(y), ...model.parameters().map((p) => arr(p.grad!))];
    });
    results[0]!.forEach((v, k) => expectClose(v, results[1]![k]!, `${what} tensor ${k}`));
    // With a ReLU some outputs were clipped, so the fused mask mattered.
    if (clipped) expect(results[0]![0]!.some((v) => v === 0)).toBe(true);
    // Under noGrad the fold is one native call (foldBatchNorm): the composed fold's outputs.
    const model = build().eval();
    bnCalls = 0;
    const y = noGrad(() => model.forward(randn([3, 4, 10, 10], 5)));
    expect(bnCalls, `${what}: BatchNorm2d calls under noGrad`).toBe(folds ? 0 : 1);
    expectClose(arr(y), results[0]![0]!, `${what} under noGrad`);
  };

  for (const [bias, affine, groups] of [
    [true, true, 1],
    [false, true, 1],
    [true, false, 1],
    [false, true, 2],
  ] as const) {
    const tag = `bias ${bias}, affine ${affine}, groups ${groups}`;
    it(`folds an eval-mode BatchNorm2d into the conv before it, matching the unfused model (${tag})`, () => {
      compare(
        () => new Sequential(...convBn(11, bias, affine, groups), new ReLU(), new MaxPool2d(2)),
        `Sequential ${tag}`,
      );
      compare(
        () => new Sequential(...convBn(12, bias, affine, groups)),
        `Sequential without ReLU ${tag}`,
        false,
      );
      compare(() => {
        const g = new GraphBuilder();
        const [conv, bn] = convBn(13, bias, affine, groups);
        const c = g.node(conv, g.input, 'conv');
        const b = g.node(bn, c, 'bn');
        return g.build(g.node(new MaxPool2d(2), g.node(new ReLU(), b, 'relu'), 'pool'));
      }, `GraphModule ${tag}`);
    });
  }

  it('does not fold a BatchNorm2d whose conv output is also read elsewhere, or in training mode', () => {
    compare(
      () => {
        const g = new GraphBuilder();
        const [conv, bn] = convBn(14, true, true);
        const c = g.node(conv, g.input, 'conv');
        const b = g.node(new ReLU(), g.node(bn, c, 'bn'), 'relu');
        return g.build(g.add([b, c], 'sum'));
      },
      'shared conv output',
      false,
      false,
    );
    const [conv, bn] = convBn(15, true, true);
    const model = new Sequential(conv, bn, new ReLU());
    const before = arr(bn.runningMean!);
    model.forward(randn([3, 4, 10, 10], 5));
    // In training mode the BN layer ran itself: its running statistics moved.
    expect(arr(bn.runningMean!)).not.toEqual(before);
  });

  it('normalises the output of a layer with more weights than output values instead of folding (noGrad)', () => {
    // 4 -> 8 channels, 3x3: 288 weights; a 2x2 input gives 3 x 8 x 2 x 2 = 96 output values.
    for (const [pool, shape] of [
      [true, [3, 4, 2, 2]],
      [false, [3, 4, 2, 2]],
      [true, [3, 4, 10, 10]],
    ] as const) {
      const [conv, bn] = convBn(16, true, true);
      const layers = pool ? [conv, bn, new ReLU(), new MaxPool2d(2)] : [conv, bn, new ReLU()];
      const run = (fuse: boolean) => {
        const model = new Sequential(...layers).eval();
        model.fuse = fuse;
        bnCalls = 0;
        const y = noGrad(() => model.forward(randn([...shape], 17)));
        return { y: arr(y), calls: bnCalls };
      };
      const fused = run(true);
      const plain = run(false);
      const folds = shape[2] === 10; // 3 x 8 x 10 x 10 output values: more than the weights
      expect(fused.calls, `${shape}`).toBe(folds ? 0 : 1);
      expectClose(fused.y, plain.y, `${shape} pool ${pool}`);
      expect(fused.y.some((v) => v === 0)).toBe(true);
    }
  });

  it('foldBatchNorm rejects vectors of another length, and a graph it cannot record', () => {
    const w = randn([4, 2, 3, 3], 20);
    const v4 = tensor(new Float32Array(4).fill(1));
    const v3 = tensor(new Float32Array(3).fill(1));
    expect(() =>
      noGrad(() => native.foldBatchNorm(w.handle, null, null, null, v3.handle, v4.handle, 1e-5)),
    ).toThrow(/does not match 4 output channels/);
    w.requiresGrad = true;
    expect(() => native.foldBatchNorm(w.handle, null, null, null, v4.handle, v4.handle, 1e-5)).toThrow(
      /noGrad/,
    );
  });
});

// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd();
const isas = (['avx512', 'avx2', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
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
          const a = bnRun(true, training, shape, 10 * i, 'relu6');
          const b = bnRun(false, training, shape, 10 * i, 'relu6');
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

  it('is what Sequential and GraphModule run for BatchNorm2d + ReLU6, matching the unfused models', () => {
    compareFusedModels('relu6', 21);
  });
});

describe('batchNorm2d with a fused hardswish', () => {
  for (const isa of isas)
    for (const training of [true, false]) {
      it(`matches batchNorm2d then hardswish (${training ? 'training' : 'evaluation'}, ${isa})`, () => {
        setSimd(isa);
        const seen = { zero: false, mid: false, above: false };
        for (const [i, shape] of [
          [4, 3, 5, 7],
          [1, 16, 8, 8],
          [2, 33, 9, 3],
        ].entries()) {
          const a = bnRun(true, training, shape, 10 * i, 'hardswish');
          const b = bnRun(false, training, shape, 10 * i, 'hardswish');
          ['y', 'dx', 'dweight', 'dbias', 'runningMean', 'runningVar'].forEach((name, k) =>
            expectClose(a[k]!, b[k]!, `${name} ${shape}`),
          );
          // Below -3 (0), between -3 and 3 (the curve), above 3 (the identity): every piece of the derivative.
          seen.zero ||= a[0]!.some((v) => v === 0);
          seen.mid ||= a[0]!.some((v) => v < 0);
          seen.above ||= a[0]!.some((v) => v > 3);
        }
        expect(seen).toEqual({ zero: true, mid: true, above: true });
      });
    }

  it('refuses a second activation, a residual or a pool with it', () => {
    const x = randn([2, 3, 4, 4], 1);
    expect(() => batchNorm2d(x, { relu: true, hardswish: true })).toThrow(/one fused activation/);
    expect(() => batchNorm2d(x, { hardswish: true, residual: x })).toThrow(/residual/);
    expect(() => batchNorm2d(x, { hardswish: true, maxPool2x2: true })).toThrow(/maxPool2x2/);
  });

  it('passes NaN through, as the ops apart do', () => {
    const data = arr(randn([2, 3, 4, 4], 2));
    data[5] = Number.NaN;
    const x = tensor(data, { shape: [2, 3, 4, 4] });
    const opts = { runningMean: randn([3], 3), runningVar: tensor([1, 2, 3]), training: false };
    const fused = arr(batchNorm2d(x, { ...opts, hardswish: true }));
    const apart = arr(hardswish(batchNorm2d(x, opts)));
    expect(Number.isNaN(fused[5]!) && Number.isNaN(apart[5]!)).toBe(true);
    fused[5] = apart[5] = 0;
    expectClose(fused, apart, 'y');
  });

  it('is what Sequential and GraphModule run for BatchNorm2d + Hardswish, matching the unfused models', () => {
    compareFusedModels('hardswish', 31);
  });
});

// Conv -> BN -> activation -> conv in training mode (the BN runs itself, fused with its ReLU6 or
// Hardswish), as a Sequential and as a GraphModule: the fused BatchNorm2d call happens once with
// fuse on and never with it off, and outputs and gradients match the unfused model's.
function compareFusedModels(activation: 'relu6' | 'hardswish', seed: number): void {
  let calls = 0;
  const layers = (s: number) => {
    const bn = new BatchNorm2d(8);
    bn.weight!.write(arr(randn([8], s + 2, 4)));
    bn.bias!.write(arr(randn([8], s + 3, 3)));
    const forward = bn.forward.bind(bn);
    bn.forward = (x, options) => {
      if (options?.[activation]) calls++;
      return forward(x, options);
    };
    const conv = (cin: number, cout: number, k: number) =>
      new Conv2d(cin, cout, 3, { padding: 1, bias: false, generator: new Generator(k) });
    const act = activation === 'relu6' ? new ReLU6() : new Hardswish();
    return [conv(4, 8, s), bn, act, conv(8, 4, s + 1)] as const;
  };
  const compare = (build: () => Module & { fuse: boolean }, what: string) => {
    const results = [true, false].map((fuse) => {
      const model = build();
      model.fuse = fuse;
      calls = 0;
      const y = model.forward(randn([3, 4, 10, 10], 5));
      expect(calls, `${what}: fused BatchNorm2d + ${activation} calls with fuse ${fuse}`).toBe(fuse ? 1 : 0);
      sum(mul(y, randn(y.shape, 6))).backward();
      return [arr(y), ...model.parameters().map((p) => arr(p.grad!))];
    });
    results[0]!.forEach((v, k) => expectClose(v, results[1]![k]!, `${what} output/gradient ${k}`));
  };
  compare(() => new Sequential(...layers(seed)), 'Sequential');
  compare(() => {
    const g = new GraphBuilder();
    const [c1, bn, act, c2] = layers(seed + 1);
    const h = g.node(act, g.node(bn, g.node(c1, g.input, 'c1'), 'bn'), 'act');
    return g.build(g.node(c2, h, 'c2'));
  }, 'GraphModule');
}
