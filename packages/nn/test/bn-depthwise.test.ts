// Training through BatchNorm2d (+ ReLU / ReLU6 / Hardswish) then a depthwise conv as one native op
// (batchNormDepthwise, channel by channel): against the same layers run as their own ops (the op
// switched off), bit for bit — output, every gradient and the running statistics — on each
// instruction set, through each of the depthwise input-gradient paths (a forward conv at stride 1,
// the column-stride-2 gather, the scatter otherwise), in Sequential and GraphModule; where it does
// not apply (evaluation mode, planes the channel-blocked kernels take) nothing changes.

import { nn as native } from '@dlf/native/nn';
import { testing } from '@dlf/native/testing';
import {
  BatchNorm2d,
  Conv2d,
  GraphBuilder,
  Hardswish,
  type Module,
  mul,
  noGrad,
  ReLU,
  ReLU6,
  Sequential,
  sum,
} from '@dlf/nn';
import { sameBits } from '@dlf/testing';
import {
  Generator,
  getNumThreads,
  getSimd,
  randn as randnDefault,
  setNumThreads,
  setSimd,
  type Tensor,
} from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

const randn = (shape: readonly number[], seed: number, std = 1) =>
  randnDefault(shape, 0, std, { generator: new Generator(seed) });
// (selectSimd switches to the table it finds: read the starting one first)
const startSimd = getSimd() as 'avx512' | 'avx2' | 'neon' | 'base';
const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd);
const startThreads = getNumThreads();
afterAll(() => {
  setSimd(startSimd);
  setNumThreads(startThreads);
});

type Act = 'relu' | 'relu6' | 'hardswish' | null;
interface Case {
  shape: [number, number, number, number];
  kernel: number | [number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number;
  act: Act;
  bias?: boolean;
  affine?: boolean;
  track?: boolean;
  /** A second BatchNorm2d after the conv, with this activation (fused too when the conv has no bias). */
  post?: Act;
}

function activation(act: Act): Module[] {
  if (act === 'relu') return [new ReLU()];
  if (act === 'relu6') return [new ReLU6()];
  if (act === 'hardswish') return [new Hardswish()];
  return [];
}

function pairModel(c: Case, seed: number): Sequential {
  const ch = c.shape[1];
  const bn = new BatchNorm2d(ch, { affine: c.affine ?? true, trackRunningStats: c.track ?? true });
  // Scales and shifts wide enough that the activations' kinks (0 and 6; -3 and 3) are crossed.
  bn.weight?.write(randn([ch], seed, 3).toTypedArray());
  bn.bias?.write(randn([ch], seed + 1, 2).toTypedArray());
  const conv = new Conv2d(ch, ch, c.kernel, {
    stride: c.stride ?? 1,
    padding:
      c.padding ?? (typeof c.kernel === 'number' ? c.kernel >> 1 : [c.kernel[0] >> 1, c.kernel[1] >> 1]),
    dilation: c.dilation ?? 1,
    groups: ch,
    bias: c.bias ?? false,
    generator: new Generator(seed + 2),
  });
  const after: Module[] = [];
  if (c.post !== undefined) {
    const bn2 = new BatchNorm2d(ch);
    bn2.weight?.write(randn([ch], seed + 3, 3).toTypedArray());
    bn2.bias?.write(randn([ch], seed + 4, 2).toTypedArray());
    after.push(bn2, ...activation(c.post));
  }
  return new Sequential(bn, ...activation(c.act), conv, ...after);
}

/** Runs forward + backward of `model` on x; counts the fused op's calls. fused false: the op is off. */
function trainStep(model: Module, x0: Tensor, fused: boolean, xGrad = true) {
  const applies = native.batchNormDepthwiseApplies;
  const op = native.batchNormDepthwise;
  let calls = 0;
  let posts = 0;
  native.batchNormDepthwiseApplies = fused ? applies : () => false;
  native.batchNormDepthwise = (...args: Parameters<typeof op>) => {
    calls++;
    if (args.length > 11) posts++;
    return op(...args);
  };
  try {
    const x = x0.clone();
    if (xGrad) x.requiresGrad_();
    const y = model.forward(x);
    // A weighted sum: every output's gradient differs.
    sum(mul(y, randn(y.shape, 99))).backward();
    const out = {
      calls,
      posts,
      y: y.toTypedArray() as Float32Array,
      gx: xGrad ? (x.grad!.toTypedArray() as Float32Array) : null,
      grads: model.parameters().map((p) => (p.grad ? (p.grad.toTypedArray() as Float32Array) : null)),
      buffers: model.namedBuffers().map(([, b]) => b.toTypedArray() as Float32Array),
    };
    model.zeroGrad();
    return out;
  } finally {
    native.batchNormDepthwiseApplies = applies;
    native.batchNormDepthwise = op;
  }
}

type Step = ReturnType<typeof trainStep>;
function expectSameBits(got: Step, want: Step, what: string): void {
  expect(sameBits(got.y, want.y), `${what}: output`).toBe(true);
  if (want.gx) expect(sameBits(got.gx!, want.gx), `${what}: input gradient`).toBe(true);
  expect(got.grads.length, what).toBe(want.grads.length);
  got.grads.forEach((g, i) => {
    expect(g === null, `${what}: parameter ${i} gradient present`).toBe(want.grads[i] === null);
    if (g) expect(sameBits(g, want.grads[i]!), `${what}: parameter ${i} gradient`).toBe(true);
  });
  got.buffers.forEach((b, i) => expect(sameBits(b, want.buffers[i]!), `${what}: buffer ${i}`).toBe(true));
}

// Each runs fused: planes wider than half a vector (the channel-blocked kernels take the others).
const CASES: Case[] = [
  { shape: [4, 12, 32, 32], kernel: 3, act: 'relu6' }, // input gradient as a forward conv
  { shape: [3, 8, 33, 33], kernel: 3, stride: 2, act: 'relu', bias: true }, // column stride 2: gather
  { shape: [2, 5, 20, 19], kernel: 3, stride: [2, 1], act: 'hardswish' }, // row stride only: scatter
  { shape: [2, 6, 18, 18], kernel: 5, padding: 2, act: null, bias: true }, // 5x5, no activation
  { shape: [2, 7, 16, 23], kernel: 3, padding: 0, dilation: 2, act: 'relu' }, // valid, dilated
  { shape: [1, 16, 24, 24], kernel: 3, act: 'relu', affine: false, track: false }, // batch 1, no affine
  // with the BatchNorm2d (+ activation) after the conv
  { shape: [4, 12, 32, 32], kernel: 3, act: 'relu6', post: 'relu6' },
  { shape: [3, 8, 33, 33], kernel: 3, stride: 2, act: 'relu', post: null },
  { shape: [2, 5, 20, 19], kernel: 3, stride: [2, 1], act: 'hardswish', post: 'hardswish' },
  { shape: [2, 6, 18, 18], kernel: 5, padding: 2, act: null, post: 'relu', affine: false, track: false },
  { shape: [2, 6, 18, 18], kernel: 3, act: 'relu', post: 'relu', bias: true }, // (a conv bias: not the second)
  { shape: [2, 6, 21, 26], kernel: [3, 5], padding: [1, 2], act: 'relu6', post: 'relu6' }, // 3x5 taps
  { shape: [2, 6, 26, 41], kernel: [1, 7], stride: 2, padding: [0, 3], act: 'relu', post: null }, // 1x7, stride 2
];

function label(c: Case): string {
  const post = c.post === undefined ? '' : ` then BN ${c.post ?? 'none'}`;
  return `${c.shape.join('x')} k${JSON.stringify(c.kernel)} s${JSON.stringify(c.stride ?? 1)} p${JSON.stringify(c.padding ?? 'same')} d${c.dilation ?? 1} ${c.act ?? 'none'}${c.bias ? ' +bias' : ''}${c.affine === false ? ' no-affine' : ''}${post}`;
}

describe('BatchNorm2d + activation + depthwise conv fused in training', () => {
  for (const [i, c] of CASES.entries()) {
    it(`${label(c)}: the same bits as the layers one by one, on every instruction set`, () => {
      const x = randn(c.shape, 10 + i);
      try {
        for (const isa of isas) {
          setSimd(isa);
          const fused = trainStep(pairModel(c, 20 + i), x, true);
          const alone = trainStep(pairModel(c, 20 + i), x, false);
          expect(fused.calls, `${isa}: the fused op ran`).toBe(1);
          expect(fused.posts, `${isa}: with the second batch norm`).toBe(
            c.post !== undefined && !c.bias ? 1 : 0,
          );
          expect(alone.calls, isa).toBe(0);
          expectSameBits(fused, alone, isa);
        }
      } finally {
        setSimd(startSimd);
      }
    });
  }

  it('gives the same bits at 1 and 2 threads, and with gradients for the parameters alone', () => {
    for (const c of [CASES[1]!, CASES[7]!]) {
      const x = randn(c.shape, 30);
      try {
        setNumThreads(1);
        const one = trainStep(pairModel(c, 31), x, true);
        setNumThreads(2);
        const two = trainStep(pairModel(c, 31), x, true);
        expectSameBits(two, one, `${label(c)}: 2 threads`);
        const paramsOnly = trainStep(pairModel(c, 31), x, true, false);
        expect(paramsOnly.calls).toBe(1);
        expectSameBits(
          paramsOnly,
          trainStep(pairModel(c, 31), x, false, false),
          `${label(c)}: parameters only`,
        );
      } finally {
        setNumThreads(startThreads);
      }
    }
  });

  it('without gradients (grad mode off, training mode), the same output and running statistics', () => {
    const c = CASES[6]!;
    const x = randn(c.shape, 70);
    const run = (fused: boolean) => {
      const model = pairModel(c, 71);
      const applies = native.batchNormDepthwiseApplies;
      native.batchNormDepthwiseApplies = fused ? applies : () => false;
      try {
        const y = noGrad(() => model.forward(x));
        return {
          y: y.toTypedArray() as Float32Array,
          buffers: model.namedBuffers().map(([, b]) => b.toTypedArray()),
        };
      } finally {
        native.batchNormDepthwiseApplies = applies;
      }
    };
    const fused = run(true);
    const alone = run(false);
    expect(sameBits(fused.y, alone.y)).toBe(true);
    fused.buffers.forEach((b, i) =>
      expect(sameBits(b as Float32Array, alone.buffers[i] as Float32Array)).toBe(true),
    );
  });

  it('passes a NaN in the input through to the output and the gradients, as the layers do', () => {
    const c = CASES[0]!;
    const data = randn(c.shape, 40).toTypedArray() as Float32Array;
    data[5 * 32 * 32 + 77] = Number.NaN; // image 0, channel 5
    const xn = randn(c.shape, 40);
    xn.write(data);
    const fused = trainStep(pairModel(c, 41), xn, true);
    const alone = trainStep(pairModel(c, 41), xn, false);
    expect(fused.y.some(Number.isNaN)).toBe(true);
    expectSameBits(fused, alone, 'NaN input');
  });

  it('leaves evaluation mode and small planes to the layers', () => {
    // 2x2 planes: at most half a vector wide on every instruction set
    const small: Case = { shape: [4, 16, 2, 2], kernel: 3, act: 'relu' };
    const x = randn(small.shape, 51);
    const blocked = trainStep(pairModel(small, 50), x, true);
    expect(blocked.calls, 'small planes').toBe(0);
    expectSameBits(blocked, trainStep(pairModel(small, 50), x, false), 'small planes');
    // A kernel larger than the padded input: the conv's own error, not a crash.
    const tiny: Case = { shape: [2, 4, 3, 3], kernel: 5, padding: 0, act: null };
    expect(() => trainStep(pairModel(tiny, 54), randn(tiny.shape, 55), true)).toThrow(/conv2d/);
    const c = CASES[0]!;
    const model = pairModel(c, 52);
    model.eval();
    const fused = trainStep(model, randn(c.shape, 53), true);
    expect(fused.calls, 'evaluation mode').toBe(0);
  });

  it('fuses in a GraphModule where each value has one reader', () => {
    const build = () => {
      const generator = new Generator(60);
      const g = new GraphBuilder();
      const stem = g.node(new Conv2d(3, 24, 3, { padding: 1, bias: false, generator }), g.input, 'stem');
      const bn = g.node(new BatchNorm2d(24), stem, 'bn');
      const act = g.node(new ReLU6(), bn, 'act');
      const dw = g.node(new Conv2d(24, 24, 3, { padding: 1, groups: 24, bias: false, generator }), act, 'dw');
      // bn2 has a second reader: it ends the op (with it, as the value of bn2), and starts none.
      const bn2 = g.node(new BatchNorm2d(24), dw, 'bn2');
      const dw2 = g.node(new Conv2d(24, 24, 3, { padding: 1, groups: 24, generator }), bn2, 'dw2');
      return g.build(g.add([dw2, bn2], 'join'));
    };
    const x = randn([4, 3, 16, 16], 61);
    const fused = trainStep(build(), x, true);
    const alone = trainStep(build(), x, false);
    expect([fused.calls, fused.posts]).toEqual([1, 1]);
    expectSameBits(fused, alone, 'graph');
  });
});
