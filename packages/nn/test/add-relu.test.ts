// addRelu (a residual block's join as one pass) against relu(add(a, b)): outputs and both
// gradients, the shape check, and GraphModule running Add + ReLU as addRelu only where the Add's
// output has no other reader, with the same results as the unfused graph.

import { Generator, randn as randnDefault, type Tensor } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { add, addRelu, Conv2d, GraphBuilder, type GraphModule, mul, ReLU, relu, sum } from '@dlf/nn';

const randn = (shape: readonly number[], seed: number) =>
  randnDefault(shape, 0, 1, { generator: new Generator(seed) });
const arr = (t: Tensor) => t.toTypedArray() as Float32Array;

function expectSame(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) expect.fail(`${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

describe('addRelu', () => {
  for (const shape of [[2, 3, 5, 7], [1, 64, 8, 8], [100_003], [3, 4]]) {
    it(`equals relu(add(a, b)) with the same gradients, shape [${shape}]`, () => {
      const run = (fused: boolean) => {
        const a = randn(shape, 1).requiresGrad_();
        const b = randn(shape, 2).requiresGrad_();
        const y = fused ? addRelu(a, b) : relu(add(a, b));
        sum(mul(y, randn(shape, 3))).backward();
        return [arr(y), arr(a.grad!), arr(b.grad!)];
      };
      const [fused, plain] = [run(true), run(false)];
      ['y', 'da', 'db'].forEach((name, k) => expectSame(fused[k]!, plain[k]!, name));
      // Both signs occurred, so the mask mattered.
      expect(fused[0]!.some((v) => v === 0) && fused[0]!.some((v) => v > 0)).toBe(true);
    });
  }

  it('gives the gradient to a tensor added to itself twice', () => {
    const a = randn([4, 5], 4).requiresGrad_();
    const y = addRelu(a, a);
    sum(y).backward();
    const want = arr(a).map((v) => (v > 0 ? 2 : 0));
    expectSame(arr(a.grad!), want, 'da');
  });

  it('refuses inputs of different shapes, naming them', () => {
    expect(() => addRelu(randn([2, 3], 0), randn([3, 2], 0))).toThrow(/addRelu.*\[2, 3\] and \[3, 2\]/);
    expect(() => addRelu(randn([2, 3], 0), randn([2, 3, 1], 0))).toThrow(RangeError);
  });
});

describe('GraphModule residual join', () => {
  // conv -> (conv + input) -> relu; `shared` also reads the sum elsewhere, which keeps it unfused.
  const build = (shared: boolean): GraphModule => {
    const g = new GraphBuilder();
    const c = g.node(new Conv2d(4, 4, 3, { padding: 1, generator: new Generator(9) }), g.input, 'conv');
    const s = g.add([c, g.input], 'sum');
    const r = g.node(new ReLU(), s, 'out');
    return g.build(shared ? g.add([r, s], 'again') : r);
  };

  for (const shared of [false, true]) {
    it(`matches the unfused graph${shared ? ' when the sum has another reader (not fused)' : ''}`, () => {
      const results = [true, false].map((fuse) => {
        const model = build(shared);
        model.fuse = fuse;
        const started: string[] = [];
        model.onLayer = (p, _layer, phase) => {
          if (phase === 'start') started.push(model.nodeNames[p]!);
        };
        const x = randn([2, 4, 6, 6], 5).requiresGrad_();
        const y = model.forward(x);
        sum(mul(y, randn(y.shape, 6))).backward();
        return { started, tensors: [arr(y), arr(x.grad!), ...model.parameters().map((p) => arr(p.grad!))] };
      });
      // Fused, the ReLU node never runs on its own.
      expect(results[0]!.started.includes('out')).toBe(shared);
      expect(results[1]!.started.includes('out')).toBe(true);
      results[0]!.tensors.forEach((v, k) => expectSame(v, results[1]!.tensors[k]!, `tensor ${k}`));
    });
  }
});
