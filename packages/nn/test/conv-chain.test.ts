// Inference through runs of 1x1 and depthwise convs (each with an evaluation-mode BatchNorm2d and a
// ReLU, a ReLU6, a hardswish or nothing) as one op, image by image: Sequential and GraphModule models
// against the same models unfused, on every instruction set (the depthwise plane and channel-blocked
// kernels, odd channel counts, stride 2, 5x5, dilation, non-square planes); residual joins in a
// graph; NaN propagation; the same bits at any thread count; where the chain must not run; the
// native op's argument checks.

import { nn as native } from '@dlf/native/nn';
import { testing } from '@dlf/native/testing';
import {
  BatchNorm2d,
  Conv2d,
  GraphBuilder,
  type GraphModule,
  Hardswish,
  type Module,
  noGrad,
  ReLU,
  ReLU6,
  Sequential,
} from '@dlf/nn';
import { expectClose, sameBits } from '@dlf/testing';
import {
  Generator,
  getNumThreads,
  getSimd,
  rand,
  randn as randnDefault,
  setNumThreads,
  setSimd,
  type Tensor,
} from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd() as (typeof isas)[number];
const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
const startThreads = getNumThreads();
afterAll(() => {
  setSimd(startSimd);
  setNumThreads(startThreads);
});

const randn = (shape: readonly number[], seed: number, std = 1) =>
  randnDefault(shape, 0, std, { generator: new Generator(seed) });
const arr = (t: Tensor) => t.toTypedArray() as Float32Array;

// Fused and unfused round differently (the fold scales weights before the sums): 1e-4 relative.
const expectNear = (got: Float32Array, want: Float32Array, name: string) =>
  expectClose(got, want, { rtol: 1e-4, atol: 1e-4, name });

function walk(m: Module, f: (m: Module) => void): void {
  f(m);
  for (const c of m.children()) walk(c, f);
}

// Statistics and affine parameters far from the defaults, so every fold matters; wide enough that
// ReLU6 clips.
function evalWithRandomBn(model: Module, seed: number): void {
  let s = seed;
  noGrad(() =>
    walk(model, (m) => {
      if (!(m instanceof BatchNorm2d)) return;
      const c = m.numFeatures;
      m.runningMean!.data().set(arr(randn([c], s++, 0.3)));
      m.runningVar!.data().set(arr(rand([c], 0.5, 1.5, { generator: new Generator(s++) })));
      m.weight?.data().set(arr(randn([c], s++, 3)));
      m.bias?.data().set(arr(randn([c], s++, 2)));
    }),
  );
  model.eval();
}

// Forward passes under noGrad, and how many layers (or fused groups) reported to onLayer.
function run(model: Sequential | GraphModule, x: Tensor, fuse: boolean): { y: Float32Array; calls: number } {
  walk(model, (m) => {
    if (m instanceof Sequential) m.fuse = fuse;
  });
  (model as GraphModule).fuse = fuse;
  let calls = 0;
  model.onLayer = (_i, _l, phase) => {
    if (phase === 'start') calls++;
  };
  const y = noGrad(() => model.forward(x));
  const out = arr(y);
  y.dispose();
  model.onLayer = null;
  return { y: out, calls };
}

type Act = 'relu' | 'relu6' | 'hardswish' | 'none';
const actLayers: Record<Act, () => Module[]> = {
  relu: () => [new ReLU()],
  relu6: () => [new ReLU6()],
  hardswish: () => [new Hardswish()],
  none: () => [],
};
const actLayer = (a: Act): Module[] => actLayers[a]();

// [in, hidden, out, kernel, stride, padding, dilation, activation], planes of [h, w]
const blocks: [number, number, number, number, number, number, number, Act, number, number][] = [
  [5, 30, 7, 3, 1, 1, 1, 'relu', 16, 16],
  [16, 96, 24, 3, 1, 1, 1, 'relu6', 32, 32],
  [8, 48, 8, 3, 2, 1, 1, 'relu', 20, 20],
  [12, 36, 20, 5, 1, 2, 1, 'relu6', 9, 11],
  [6, 18, 6, 3, 1, 2, 2, 'none', 12, 12],
  [7, 42, 9, 5, 2, 2, 1, 'hardswish', 18, 18],
  [24, 144, 32, 3, 1, 1, 1, 'relu', 8, 8], // the channel-blocked depthwise kernels (AVX-512)
  [10, 40, 10, 3, 1, 1, 1, 'relu', 16, 4], // 4-wide rows: channel-blocked on AVX2 and NEON too
];

function block(b: (typeof blocks)[number], seed: number): Sequential {
  const [cin, hid, cout, k, stride, padding, dilation, act] = b;
  const generator = new Generator(seed);
  const opts = { bias: false, generator };
  return new Sequential(
    new Conv2d(cin, hid, 1, opts),
    new BatchNorm2d(hid),
    ...actLayer(act),
    new Conv2d(hid, hid, k, { ...opts, stride, padding, dilation, groups: hid }),
    new BatchNorm2d(hid),
    ...actLayer(act),
    new Conv2d(hid, cout, 1, { ...opts, bias: true }),
    new BatchNorm2d(cout),
  );
}

describe('Sequential: 1x1 and depthwise convs run as one op in inference', () => {
  for (const [i, b] of blocks.entries()) {
    const [cin, hid, cout, k, stride, , dilation, act, h, w] = b;
    const tag = `${cin}->${hid}->${cout} ${k}x${k}/${stride} dil ${dilation} ${act} on ${h}x${w}`;
    it(`matches the layers unfused on every instruction set (${tag})`, () => {
      const model = block(b, 10 + i);
      evalWithRandomBn(model, 100 + i);
      const x = randn([8, cin, h, w], 200 + i);
      setNumThreads(1);
      for (const isa of isas) {
        setSimd(isa);
        const fused = run(model, x, true);
        const plain = run(model, x, false);
        expect(fused.calls, `${isa}: the whole block reports once`).toBe(1);
        expectNear(fused.y, plain.y, `${isa} ${tag}`);
        if (act !== 'none') expect(plain.y.some((v) => v < 0)).toBe(true); // the last unit has no activation
      }
      setSimd(startSimd);
      setNumThreads(startThreads);
    });
  }

  it('runs long chains (MobileNetV1-style: ten depthwise and 1x1 units, two of stride 2)', () => {
    const generator = new Generator(50);
    const opts = { bias: false, generator };
    const dwPw = (cin: number, cout: number, stride: number): Module[] => [
      new Conv2d(cin, cin, 3, { ...opts, stride, padding: 1, groups: cin }),
      new BatchNorm2d(cin),
      new ReLU6(),
      new Conv2d(cin, cout, 1, opts),
      new BatchNorm2d(cout),
      new ReLU6(),
    ];
    const model = new Sequential(
      ...dwPw(8, 16, 1),
      ...dwPw(16, 24, 2),
      ...dwPw(24, 24, 1),
      ...dwPw(24, 32, 2),
      ...dwPw(32, 32, 1),
    );
    evalWithRandomBn(model, 51);
    const x = randn([4, 8, 40, 40], 52);
    setNumThreads(1);
    const fused = run(model, x, true);
    const plain = run(model, x, false);
    setNumThreads(startThreads);
    expect(fused.calls).toBe(1);
    expectNear(fused.y, plain.y, 'ten units');
  });

  it('gives the same bits at 1, 2 and 3 threads', () => {
    const model = block(blocks[1]!, 3);
    evalWithRandomBn(model, 4);
    const x = randn([12, 16, 32, 32], 5);
    setNumThreads(1);
    const one = run(model, x, true).y;
    for (const t of [2, 3]) {
      setNumThreads(t);
      expect(sameBits(run(model, x, true).y, one), `${t} threads`).toBe(true);
    }
    setNumThreads(startThreads);
  });

  it('lets a NaN in one image reach that image’s output, and no other', () => {
    const model = block(blocks[0]!, 6);
    evalWithRandomBn(model, 7);
    const x = randn([4, 5, 16, 16], 8);
    x.data()[2 * 16 + 3] = Number.NaN; // image 0, channel 0
    setNumThreads(1);
    const { y, calls } = run(model, x, true);
    setNumThreads(startThreads);
    expect(calls).toBe(1);
    const per = y.length / 4;
    expect(y.subarray(0, per).some(Number.isNaN)).toBe(true);
    expect(y.subarray(per).every(Number.isFinite)).toBe(true);
  });

  it('does not run in training mode, with gradients, or with fewer than 4 images a thread', () => {
    const model = block(blocks[0]!, 9);
    evalWithRandomBn(model, 10);
    setNumThreads(1);
    const x = randn([4, 5, 16, 16], 11);
    const reference = run(model, x, false).y;
    // grad mode on (an evaluation-mode fine-tune): the layers run one by one
    let calls = 0;
    model.onLayer = (_i, _l, phase) => {
      if (phase === 'start') calls++;
    };
    const y = model.forward(x);
    expect(calls).toBeGreaterThan(1);
    expectNear(arr(y), reference, 'grad mode');
    model.onLayer = null;
    expect(run(model, randn([3, 5, 16, 16], 12), true).calls).toBeGreaterThan(1);
    setNumThreads(2);
    expect(run(model, randn([7, 5, 16, 16], 13), true).calls).toBeGreaterThan(1);
    setNumThreads(startThreads);
    model.train();
    expect(run(model, x, true).calls).toBeGreaterThan(1);
  });

  it('stops at layers it cannot run: a 3x3 dense conv, a BatchNorm2d-less conv, planes under 8x8', () => {
    const generator = new Generator(14);
    const opts = { bias: false, generator };
    const model = new Sequential(
      new Conv2d(8, 16, 3, { ...opts, padding: 1 }),
      new BatchNorm2d(16),
      new ReLU(),
      new Conv2d(16, 32, 1, opts),
      new BatchNorm2d(32),
      new ReLU6(),
      new Conv2d(32, 32, 3, { ...opts, padding: 1, groups: 32 }),
      new BatchNorm2d(32),
      new Conv2d(32, 16, 1, opts), // no BatchNorm2d after it: the chain ends before
      new ReLU(),
      new Conv2d(16, 16, 3, { ...opts, stride: 2, padding: 1, groups: 16 }), // to 5x5: below 8x8
      new BatchNorm2d(16),
      new Conv2d(16, 8, 1, opts),
      new BatchNorm2d(8),
    );
    evalWithRandomBn(model, 15);
    const x = randn([8, 8, 10, 10], 16);
    setNumThreads(1);
    const fused = run(model, x, true);
    const plain = run(model, x, false);
    setNumThreads(startThreads);
    // conv+BN+ReLU, [1x1, dw] chain, conv+ReLU, dw+BN (folded), conv+BN (folded)
    expect(fused.calls).toBe(5);
    expectNear(fused.y, plain.y, 'partial chain');
  });
});

// MobileNetV2-style blocks in a graph: expand, depthwise, project, then an Add with the block input
// (and, in the second variant, a ReLU after the Add).
function graphModel(reluAfterAdd: boolean, seed: number): GraphModule {
  const generator = new Generator(seed);
  const g = new GraphBuilder();
  const convBn = (
    input: string,
    name: string,
    cin: number,
    cout: number,
    k: number,
    groups = 1,
    act = true,
  ) => {
    const conv = g.node(
      new Conv2d(cin, cout, k, { padding: (k - 1) >> 1, groups, bias: false, generator }),
      input,
      `${name}_conv`,
    );
    const bn = g.node(new BatchNorm2d(cout), conv, `${name}_bn`);
    return act ? g.node(new ReLU6(), bn, `${name}_act`) : bn;
  };
  let h = convBn(g.input, 'stem', 3, 12, 3);
  for (const b of [0, 1]) {
    const e = convBn(h, `b${b}_expand`, 12, 72, 1);
    const d = convBn(e, `b${b}_dw`, 72, 72, 3, 72);
    const p = convBn(d, `b${b}_project`, 72, 12, 1, 1, false);
    h = g.add([h, p], `b${b}_add`);
    if (reluAfterAdd) h = g.node(new ReLU(), h, `b${b}_relu`);
  }
  return g.build(h);
}

describe('GraphModule: chains, ending in residual joins', () => {
  for (const reluAfterAdd of [false, true]) {
    it(`matches the graph unfused, the join's add${reluAfterAdd ? ' and ReLU' : ''} in the chain`, () => {
      const model = graphModel(reluAfterAdd, 20);
      evalWithRandomBn(model, 21);
      const x = randn([8, 3, 16, 16], 22);
      let chains = 0;
      let joins = 0;
      const original = native.convChain;
      native.convChain = (...args: Parameters<typeof original>) => {
        chains++;
        if (args[5]) joins++;
        return original(...args);
      };
      try {
        setNumThreads(1);
        for (const isa of isas) {
          setSimd(isa);
          chains = joins = 0;
          const fused = run(model, x, true);
          expect([chains, joins], isa).toEqual([2, 2]);
          expectNear(fused.y, run(model, x, false).y, `${isa} graph`);
        }
      } finally {
        native.convChain = original;
        setSimd(startSimd);
        setNumThreads(startThreads);
      }
    });
  }
});

describe('GraphModule: where chains stop', () => {
  it('ends a chain at the model output and where a value has a second reader', () => {
    const generator = new Generator(40);
    const opts = { bias: false, generator };
    const g = new GraphBuilder();
    const node = (m: Module, input: string, name: string) => g.node(m, input, name);
    const e = node(new Conv2d(6, 24, 1, opts), g.input, 'e');
    const eb = node(new BatchNorm2d(24), e, 'eb');
    const ea = node(new ReLU(), eb, 'ea');
    const d = node(new Conv2d(24, 24, 3, { ...opts, padding: 1, groups: 24 }), ea, 'd');
    const db = node(new BatchNorm2d(24), d, 'db'); // read by 'p' and by the Add: the first chain ends here
    const p = node(new Conv2d(24, 24, 1, opts), db, 'p');
    const pb = node(new BatchNorm2d(24), p, 'pb');
    const d2 = node(new Conv2d(24, 24, 3, { ...opts, padding: 1, groups: 24 }), pb, 'd2');
    const d2b = node(new BatchNorm2d(24), d2, 'd2b');
    const sum = g.add([db, d2b], 'sum');
    const q = node(new Conv2d(24, 12, 1, opts), sum, 'q');
    const qb = node(new BatchNorm2d(12), q, 'qb');
    const w = node(new Conv2d(12, 12, 3, { ...opts, padding: 1, groups: 12 }), qb, 'w');
    const model = g.build(node(new BatchNorm2d(12), w, 'wb')); // the second-to-last chain ends at the output
    evalWithRandomBn(model, 41);
    const x = randn([8, 6, 12, 12], 42);
    const lengths: number[] = [];
    const original = native.convChain;
    native.convChain = (...args: Parameters<typeof original>) => {
      lengths.push(args[1].length + (args[5] ? 100 : 0));
      return original(...args);
    };
    try {
      setNumThreads(1);
      const fused = run(model, x, true);
      // [e, d] (db has two readers), [p, d2] ending in the join with db, [q, w] ending at the output
      expect(lengths).toEqual([2, 102, 2]);
      expectNear(fused.y, run(model, x, false).y, 'graph with stops');
    } finally {
      native.convChain = original;
      setNumThreads(startThreads);
    }
  });
});

describe('convChain (native) checks its arguments', () => {
  const x = randn([2, 4, 8, 8], 30);
  const w1 = randn([8, 4, 1, 1], 31);
  const b8 = randn([8], 32);
  const dw = randn([8, 1, 3, 3], 33);
  const one = [1, 1, 0, 0, 1, 1, 1];
  const depth = [1, 1, 1, 1, 1, 1, 8];
  const call = (
    weights: Tensor[],
    biases: Tensor[],
    params: number[],
    acts: number[],
    residual: Tensor | null = null,
  ) =>
    noGrad(() =>
      native.convChain(
        x.handle,
        weights.map((t) => t.handle),
        biases.map((t) => t.handle),
        params,
        acts,
        residual ? residual.handle : null,
      ),
    );

  it('refuses a stage that is neither 1x1 nor depthwise, naming it', () => {
    expect(() =>
      call([w1, randn([8, 8, 3, 3], 34)], [b8, b8], [...one, 1, 1, 1, 1, 1, 1, 1], [1, 1]),
    ).toThrow(/stage 1/);
    expect(() =>
      call([w1, randn([8, 1, 3, 3], 35)], [b8, b8], [...one, 1, 1, 1, 1, 1, 1, 4], [1, 1]),
    ).toThrow(/stage 1/);
  });
  it('refuses mismatched channels, biases, parameters, activation codes and residuals', () => {
    expect(() => call([randn([8, 3, 1, 1], 36), dw], [b8, b8], [...one, ...depth], [1, 1])).toThrow(
      /stage 0/,
    );
    expect(() => call([w1, dw], [b8, randn([7], 37)], [...one, ...depth], [1, 1])).toThrow(/bias/);
    expect(() => call([w1, dw], [b8, b8], [...one], [1, 1])).toThrow(/7 parameters/);
    expect(() => call([w1, dw], [b8, b8], [...one, ...depth], [1, 4])).toThrow(/activation/);
    expect(() => call([w1, dw], [b8, b8], [...one, ...depth], [1, 1], randn([2, 8, 8, 7], 38))).toThrow(
      /residual/,
    );
    expect(() => call([], [], [], [])).toThrow(/at least one stage/);
  });
  it('refuses to record a graph', () => {
    const wg = randn([8, 4, 1, 1], 39).requiresGrad_();
    expect(() =>
      native.convChain(
        x.handle,
        [wg.handle, dw.handle],
        [b8.handle, b8.handle],
        [...one, ...depth],
        [1, 1],
        null,
      ),
    ).toThrow(/noGrad/);
  });
});
