// The vector activations (native isa/activation.h: LeakyReLU, sigmoid, tanh, SiLU, GELU, hardswish,
// ReLU, ReLU6) on every kernel table this CPU has, forward and backward, against float64 formulas
// over [-100, 100] (to a few float32 ulps), and PyTorch's results for NaN, infinities, zeros and
// extremes. The
// elementwise ops' goldens (ops.test.ts) cover only a handful of values each.

import { testing } from '@dlf/native/testing';
import { getSimd, setSimd, type Tensor, tensor } from '@dlf/tensor-core';
import '@dlf/autograd';
import { afterAll, describe, expect, it } from 'vitest';
import { gelu, hardswish, leakyRelu, relu, relu6, sigmoid, silu, tanh } from '@dlf/nn';

// The normal CDF in float64: erfc's continued fraction in the tails (the series of erf loses its
// digits there), else that series.
function normalCdf(x: number): number {
  const u = x / Math.SQRT2;
  if (Math.abs(u) > 2.5) {
    const t = Math.abs(u);
    let f = 0;
    for (let n = 80; n >= 1; n--) f = n / 2 / (t + f);
    const halfErfc = (0.5 * Math.exp(-t * t)) / Math.sqrt(Math.PI) / (t + f);
    return u < 0 ? halfErfc : 1 - halfErfc;
  }
  let sum = u;
  let term = u;
  for (let n = 1; n < 400; n++) {
    term *= (-u * u) / n;
    sum += term / (2 * n + 1);
  }
  return 0.5 * (1 + (2 / Math.sqrt(Math.PI)) * sum);
}
const sig = (x: number) => 1 / (1 + Math.exp(-x));

interface Op {
  run: (x: Tensor) => Tensor;
  f: (x: number) => number;
  df: (x: number) => number;
  // PyTorch 1.13 at NaN, +Inf, -Inf: outputs, then gradients of sum(y)
  special: [number[], number[]];
}
const ops: Record<string, Op> = {
  leakyRelu: {
    run: (x) => leakyRelu(x, 0.1),
    f: (x) => (x > 0 ? x : Math.fround(0.1) * x),
    df: (x) => (x > 0 ? 1 : Math.fround(0.1)),
    special: [
      [Number.NaN, Infinity, -Infinity],
      [Math.fround(0.1), 1, Math.fround(0.1)],
    ],
  },
  sigmoid: {
    run: sigmoid,
    f: sig,
    df: (x) => sig(x) * (1 - sig(x)),
    special: [
      [Number.NaN, 1, 0],
      [Number.NaN, 0, 0],
    ],
  },
  tanh: {
    run: tanh,
    f: Math.tanh,
    df: (x) => 1 - Math.tanh(x) ** 2,
    special: [
      [Number.NaN, 1, -1],
      [Number.NaN, 0, 0],
    ],
  },
  silu: {
    run: silu,
    f: (x) => x * sig(x),
    df: (x) => sig(x) * (1 + x * (1 - sig(x))),
    special: [
      [Number.NaN, Infinity, Number.NaN],
      [Number.NaN, Number.NaN, Number.NaN],
    ],
  },
  gelu: {
    run: gelu,
    f: (x) => x * normalCdf(x),
    df: (x) => normalCdf(x) + (x * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI),
    special: [
      [Number.NaN, Infinity, Number.NaN],
      [Number.NaN, Number.NaN, Number.NaN],
    ],
  },
  // The gradient is 0 at the kinks (0, and 6 for ReLU6), as PyTorch's threshold and hardtanh backward.
  relu: {
    run: relu,
    f: (x) => Math.max(x, 0),
    df: (x) => (x > 0 ? 1 : 0),
    special: [
      [Number.NaN, Infinity, 0],
      [1, 1, 0],
    ],
  },
  relu6: {
    run: relu6,
    f: (x) => Math.min(Math.max(x, 0), 6),
    df: (x) => (x <= 0 || x >= 6 ? 0 : 1),
    special: [
      [Number.NaN, 6, 0],
      [1, 0, 0],
    ],
  },
  hardswish: {
    run: hardswish,
    f: (x) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6,
    df: (x) => (x < -3 ? 0 : x <= 3 ? x / 3 + 0.5 : 1),
    // -Infinity: -Infinity * 0 is NaN in PyTorch too
    special: [
      [Number.NaN, Infinity, Number.NaN],
      [1, 1, 0],
    ],
  },
};

function forwardBackward(op: Op, values: Float32Array) {
  const x = tensor(values).requiresGrad_();
  const y = op.run(x);
  y.sum().backward();
  return { y: y.toTypedArray() as Float32Array, dx: x.grad!.toTypedArray() as Float32Array };
}

// (selectSimd switches to each table it finds: the starting one is read first, then restored)
const startSimd = getSimd();
const isas = (['avx512', 'avx2', 'neon', 'base'] as const).filter((name) => testing.selectSimd(name));
setSimd(startSimd as Parameters<typeof setSimd>[0]);
afterAll(() => setSimd(startSimd));

// 40001 points over [-100, 100] (every vector tail length comes up as well: 40001 is odd).
const grid = Float32Array.from({ length: 40001 }, (_, i) => -100 + i / 200);

describe('vector activations', () => {
  for (const isa of isas) {
    for (const [name, op] of Object.entries(ops)) {
      it(`${name} matches float64 over [-100, 100] (${isa})`, () => {
        setSimd(isa);
        const { y, dx } = forwardBackward(op, grid);
        for (let i = 0; i < grid.length; i++) {
          const x = grid[i]!;
          const want = op.f(x);
          // GELU's left tail is an exp of -x^2/2 rounded to float: relative error grows as x^2 ulps.
          const rel = name === 'gelu' && x < 0 ? 5e-7 + 1.5e-7 * x * x : 5e-7;
          if (!(Math.abs(y[i]! - want) <= rel * Math.abs(want) + 3e-37))
            expect.fail(`${name}(${x}) = ${y[i]}, want ${want} (${isa})`);
          // The derivatives' formulas cancel where they cross zero (SiLU near -1.28, GELU near
          // -0.75) and round 1 - s to 0 where s rounds to 1: an absolute bound on the O(1) values.
          const dwant = op.df(x);
          if (!(Math.abs(dx[i]! - dwant) <= 5e-7 * Math.abs(dwant) + 1e-6))
            expect.fail(`${name}'(${x}) = ${dx[i]}, want ${dwant} (${isa})`);
        }
      });
    }
    it(`pass NaN and infinities as PyTorch does (${isa})`, () => {
      setSimd(isa);
      for (const [name, op] of Object.entries(ops)) {
        // Every lane position of a vector: the specials in the body and in the masked tail.
        const values = new Float32Array(35);
        for (let i = 0; i < values.length; i++) values[i] = [Number.NaN, Infinity, -Infinity][i % 3]!;
        const { y, dx } = forwardBackward(op, values);
        for (let i = 0; i < values.length; i++) {
          expect(y[i], `${name}(${values[i]}) (${isa})`).toBe(op.special[0][i % 3]);
          expect(dx[i], `${name}'(${values[i]}) (${isa})`).toBe(op.special[1][i % 3]);
        }
      }
    });
  }
});
