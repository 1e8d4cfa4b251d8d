// A residual join as one op: conv2d's `residual` option (the Winograd kernels add it as they write;
// every other path and any graph to record use the ops it stands for) against add / addRelu after
// conv2d, bit for bit; and GraphModule running conv (+ eval-mode BatchNorm2d) + Add (+ ReLU) that
// way, against the same model unfused.

import {
  Add,
  BatchNorm2d,
  Conv2d,
  conv2d,
  GraphBuilder,
  type GraphModule,
  add,
  addRelu,
  mul,
  noGrad,
  ReLU,
  sum,
} from '@dlf/nn';
import { sameBits } from '@dlf/testing';
import { testing } from '@dlf/native/testing';
import {
  Generator,
  getSimd,
  permute,
  randn as randnDefault,
  setSimd,
  type Tensor,
  tensor,
} from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd() as (typeof isas)[number];
const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
afterAll(() => setSimd(startSimd));

const randn = (shape: readonly number[], seed: number) =>
  randnDefault(shape, 0, 1, { generator: new Generator(seed) });
const arr = (t: Tensor) => t.toTypedArray() as Float32Array;
function expectClose(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= 1e-4 * (1 + Math.abs(want[i]!)))) expect.fail(`${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

// [N, C, H, W, K, stride]: Winograd layers (odd sizes: tile rows and columns cut short; several tile
// blocks, so runs of tiles cross images), and a stride-2 layer (the GEMM path).
const cases = [
  [4, 16, 13, 11, 16, 1],
  [8, 16, 16, 16, 24, 1],
  [2, 20, 9, 30, 17, 1],
  [2, 16, 9, 28, 16, 1], // 7 tiles a row rounded up to 8 (AVX-512): the eighth past the plane
  [3, 8, 10, 10, 12, 2],
] as const;

describe('conv2d with a residual', () => {
  for (const [n, c, h, w, k, stride] of cases) {
    const tag = `${n}x${c}x${h}x${w} -> ${k}, stride ${stride}`;
    const x = randn([n, c, h, w], 1);
    const wt = randn([k, c, 3, 3], 2);
    const b = randn([k], 3);
    const opts = { padding: 1, stride };
    const y0 = noGrad(() => conv2d(x, wt, b, opts));
    const r = randn(y0.shape, 4);

    it(`equals conv2d then add / addRelu, bit for bit, on every instruction set (${tag})`, () => {
      for (const isa of isas) {
        setSimd(isa);
        for (const relu of [false, true]) {
          const fused = noGrad(() => conv2d(x, wt, b, { ...opts, relu, residual: r }));
          const composed = noGrad(() =>
            relu ? addRelu(conv2d(x, wt, b, opts), r) : add(conv2d(x, wt, b, opts), r),
          );
          expect(sameBits(arr(fused), arr(composed)), `${isa} relu ${relu}`).toBe(true);
          if (relu) expect(arr(fused).some((v) => v === 0)).toBe(true);
        }
      }
      setSimd(startSimd);
    });

    it(`passes gradients to the input, weight, bias and residual as the composed ops do (${tag})`, () => {
      const run = (fusedOp: boolean) => {
        const [xg, wg, bg, rg] = [x, wt, b, r].map((t) =>
          tensor(arr(t).slice(), { shape: t.shape }).requiresGrad_(),
        );
        const y = fusedOp
          ? conv2d(xg!, wg!, bg!, { ...opts, relu: true, residual: rg! })
          : addRelu(conv2d(xg!, wg!, bg!, opts), rg!);
        sum(mul(y, randn(y.shape, 5))).backward();
        return [y, xg!.grad!, wg!.grad!, bg!.grad!, rg!.grad!].map(arr);
      };
      const [a, e] = [run(true), run(false)];
      a.forEach((v, i) => expect(sameBits(v, e[i]!), `tensor ${i}`).toBe(true));
    });
  }

  it('lets a NaN in the residual reach exactly its own output', () => {
    const x = randn([4, 16, 12, 12], 6);
    const wt = randn([16, 16, 3, 3], 7);
    const data = arr(randn([4, 16, 12, 12], 8)).slice();
    const at = ((2 * 16 + 5) * 12 + 11) * 12 + 7;
    data[at] = Number.NaN;
    const y = arr(
      noGrad(() => conv2d(x, wt, null, { padding: 1, residual: tensor(data, { shape: [4, 16, 12, 12] }) })),
    );
    for (let i = 0; i < y.length; i++) expect(Number.isNaN(y[i]!), `${i}`).toBe(i === at);
  });

  it('reads a non-contiguous residual like its contiguous copy (conv2d and batchNorm2d)', () => {
    const x = randn([4, 16, 12, 12], 13);
    const wt = randn([16, 16, 3, 3], 14);
    const strided = permute(randn([4, 12, 16, 12], 15), [0, 2, 1, 3]);
    const copy = strided.contiguous();
    const run = (r: Tensor) => noGrad(() => conv2d(x, wt, null, { padding: 1, relu: true, residual: r }));
    expect(sameBits(arr(run(strided)), arr(run(copy)))).toBe(true);
    const bn = new BatchNorm2d(16);
    const norm = (r: Tensor) => noGrad(() => bn.forward(x, { relu: true, residual: r }));
    expect(sameBits(arr(norm(strided)), arr(norm(copy)))).toBe(true);
  });

  it('rejects a residual of another shape, and a residual with maxPool2x2', () => {
    const x = randn([2, 16, 8, 8], 9);
    const wt = randn([16, 16, 3, 3], 10);
    const wrong = () => conv2d(x, wt, null, { padding: 1, residual: randn([2, 16, 8, 7], 11) });
    expect(wrong).toThrow(/options\.residual/);
    expect(wrong).toThrow(/\[2, 16, 8, 8\]/);
    expect(() =>
      conv2d(x, wt, null, { padding: 1, relu: true, maxPool2x2: true, residual: randn([2, 16, 8, 8], 12) }),
    ).toThrow(/maxPool2x2/);
  });
});

describe('GraphModule residual joins', () => {
  let addCalls = 0;
  let bnCalls = 0;
  const counted = <T extends Add | BatchNorm2d>(m: T): T => {
    if (m instanceof Add) {
      const f = m.forwardMany.bind(m);
      m.forwardMany = (xs) => {
        addCalls++;
        return f(xs);
      };
    } else {
      const f = m.forward.bind(m);
      m.forward = (x, o) => {
        bnCalls++;
        return f(x, o);
      };
    }
    return m;
  };
  const bn = (c: number, seed: number) => {
    const layer = counted(new BatchNorm2d(c));
    layer.runningMean!.write(arr(randn([c], seed)));
    layer.runningVar!.write(Float32Array.from({ length: c }, (_, i) => 0.5 + 0.1 * i));
    layer.weight!.write(arr(randn([c], seed + 1)));
    layer.bias!.write(arr(randn([c], seed + 2)));
    return layer;
  };
  const conv = (cin: number, cout: number, seed: number, stride = 1, kernel = 3) =>
    new Conv2d(cin, cout, kernel, { padding: kernel >> 1, stride, generator: new Generator(seed) });

  // A basic block with identity shortcut, then one whose projection shortcut (conv + BN) comes after
  // the main path: both joins fold; and a join without BatchNorm2d that also runs in training.
  const resnetish = (): GraphModule => {
    const g = new GraphBuilder();
    const stem = g.node(new ReLU(), g.node(conv(3, 16, 1), g.input, 'stem'), 'stem_relu');
    const a1 = g.node(new ReLU(), g.node(bn(16, 10), g.node(conv(16, 16, 2), stem, 'c1'), 'b1'), 'r1');
    const b2 = g.node(bn(16, 20), g.node(conv(16, 16, 3), a1, 'c2'), 'b2');
    const j1 = g.node(new ReLU(), g.node(counted(new Add()), [stem, b2], 'add1'), 'j1');
    const a3 = g.node(new ReLU(), g.node(bn(24, 30), g.node(conv(16, 24, 4, 2), j1, 'c3'), 'b3'), 'r3');
    const b4 = g.node(bn(24, 40), g.node(conv(24, 24, 5), a3, 'c4'), 'b4');
    const sc = g.node(bn(24, 50), g.node(conv(16, 24, 6, 2, 1), j1, 'sc'), 'bsc');
    const j2 = g.node(counted(new Add()), [b4, sc], 'add2');
    const c5 = g.node(conv(24, 24, 7), j2, 'c5');
    return g.build(g.node(new ReLU(), g.node(counted(new Add()), [j2, c5], 'add3'), 'out'));
  };

  const run = (fuse: boolean, training: boolean, graph = false) => {
    const model = resnetish();
    model.fuse = fuse;
    if (!training) model.eval();
    addCalls = 0;
    bnCalls = 0;
    const x = randn([8, 3, 12, 12], 60); // more output values than weights in each layer: every BN folds
    const y = graph ? model.forward(x) : noGrad(() => model.forward(x));
    const calls = { add: addCalls, bn: bnCalls };
    if (graph) sum(mul(y, randn(y.shape, 61))).backward();
    return { y: arr(y), calls, grads: graph ? model.parameters().map((p) => arr(p.grad!)) : [] };
  };

  it('run conv + eval-mode BatchNorm2d + Add + ReLU as one op, matching the unfused model', () => {
    const fused = run(true, false);
    const plain = run(false, false);
    expect(fused.calls).toEqual({ add: 0, bn: 0 });
    expect(plain.calls).toEqual({ add: 3, bn: 5 });
    expectClose(fused.y, plain.y, 'eval output');
    // With a graph to record (a frozen-statistics fine-tune) the joins compose differentiable ops.
    const g1 = run(true, false, true);
    const g0 = run(false, false, true);
    expectClose(g1.y, g0.y, 'eval output with grad');
    g1.grads.forEach((v, i) => expectClose(v, g0.grads[i]!, `grad ${i}`));
  });

  it('in training mode join each BatchNorm2d with its Add, with the same bits as unfused', () => {
    const fused = run(true, true, true);
    const plain = run(false, true, true);
    // add1 and add2 ran inside their training-mode BatchNorm2d layers, add3 inside conv c5.
    expect(fused.calls).toEqual({ add: 0, bn: 5 });
    expect(plain.calls).toEqual({ add: 3, bn: 5 });
    expect(sameBits(fused.y, plain.y)).toBe(true);
    fused.grads.forEach((v, i) => expect(sameBits(v, plain.grads[i]!), `grad ${i}`).toBe(true));
  });

  it('join a BatchNorm2d that reads no conv of its own, in training and evaluation', () => {
    const build = (fuse: boolean, training: boolean) => {
      const g = new GraphBuilder();
      const r = g.node(new ReLU(), g.node(conv(3, 8, 80), g.input, 'c'), 'r');
      const m = g.build(
        g.node(new ReLU(), g.node(counted(new Add()), [g.node(bn(8, 81), r, 'b'), r], 'add'), 'out'),
      );
      m.fuse = fuse;
      if (!training) m.eval();
      return m;
    };
    for (const training of [true, false]) {
      const [a, b] = [true, false].map((fuse) => {
        const m = build(fuse, training);
        addCalls = 0;
        const y = m.forward(randn([2, 3, 7, 9], 82));
        const calls = addCalls;
        sum(mul(y, randn(y.shape, 83))).backward();
        return { y: arr(y), calls, grads: m.parameters().map((p) => arr(p.grad!)) };
      });
      expect([a!.calls, b!.calls], `training ${training}`).toEqual([0, 1]);
      expect(sameBits(a!.y, b!.y), `training ${training}`).toBe(true);
      a!.grads.forEach((v, i) =>
        expect(sameBits(v, b!.grads[i]!), `training ${training} grad ${i}`).toBe(true),
      );
    }
  });

  it('batchNorm2d rejects a residual of another shape', () => {
    expect(() =>
      new BatchNorm2d(4).forward(randn([2, 4, 3, 3], 90), { residual: randn([2, 4, 3, 1], 91) }),
    ).toThrow(/options\.residual.*\[2, 4, 3, 3\]|\[2, 4, 3, 3\].*options\.residual/);
  });

  it('fall back to the separate ops when the residual broadcasts', () => {
    const build = (fuse: boolean) => {
      const g = new GraphBuilder();
      const c = g.node(conv(3, 8, 70), g.input, 'c');
      const r = g.node(conv(3, 1, 71), g.input, 'r');
      const m = g.build(g.node(new ReLU(), g.node(new Add(), [c, r], 'add'), 'out'));
      m.fuse = fuse;
      return m;
    };
    const x = randn([2, 3, 6, 6], 72);
    const y1 = noGrad(() => build(true).forward(x));
    const y0 = noGrad(() => build(false).forward(x));
    expect(y1.shape).toEqual([2, 8, 6, 6]);
    expect(sameBits(arr(y1), arr(y0))).toBe(true);
  });
});
