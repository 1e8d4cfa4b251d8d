// Elementwise ops where one operand holds one value per row of the other (a squeeze-and-excitation
// gate (N,C,1,1) on (N,C,H,W)) run on their own path, and mul's gradient for the gate sums each
// row's products without writing them out. Against float64 references, on shapes large enough to
// be split over threads, with NaN reaching both the output and the gate's gradient.
import { add, div, mul, sub, sum, type Tensor, tensor } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import '@dlf/autograd';

function data(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 4 - 2;
  });
}

describe('per-row broadcast', () => {
  const [N, C, H, W] = [3, 400, 4, 4]; // 1200 rows of 16: more than one parallel chunk
  const full = data(N * C * H * W, 1);
  const gate = data(N * C, 2);
  full[5] = Number.NaN; // row 0
  gate[7] = Number.POSITIVE_INFINITY; // row 7

  const ops: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [
    ['mul', mul, (a, b) => Math.fround(a * b)],
    ['add', add, (a, b) => Math.fround(a + b)],
    ['sub', sub, (a, b) => Math.fround(a - b)],
    ['div', div, (a, b) => Math.fround(a / b)],
  ];
  for (const [name, op, f] of ops) {
    it(`${name}: either operand per row gives the float32 result of each pair`, () => {
      const x = tensor(full, { shape: [N, C, H, W] });
      const s = tensor(gate, { shape: [N, C, 1, 1] });
      const right = op(x, s).toTypedArray() as Float32Array;
      const left = op(s, x).toTypedArray() as Float32Array;
      for (let i = 0; i < full.length; i++) {
        const r = Math.floor(i / (H * W));
        expect(right[i], `${name}(x, gate) at ${i}`).toBe(f(full[i]!, gate[r]!));
        expect(left[i], `${name}(gate, x) at ${i}`).toBe(f(gate[r]!, full[i]!));
      }
    });
  }

  it("mul's gradients: g * gate for x, each row's sum of g * x for the gate", () => {
    const g = data(full.length, 3);
    for (const gateFirst of [false, true]) {
      const x = tensor(full, { shape: [N, C, H, W] }).requiresGrad_();
      const s = tensor(gate, { shape: [N, C, 1, 1] }).requiresGrad_();
      const y = gateFirst ? mul(s, x) : mul(x, s);
      sum(mul(y, tensor(g, { shape: [N, C, H, W] }))).backward();
      const dx = x.grad!.toTypedArray() as Float32Array;
      const ds = s.grad!.toTypedArray() as Float32Array;
      for (let r = 0; r < N * C; r++) {
        let want = 0;
        let size = 0;
        for (let i = r * H * W; i < (r + 1) * H * W; i++) {
          want += Math.fround(g[i]! * full[i]!);
          size += Math.abs(g[i]! * full[i]!);
          expect(dx[i], `dx at ${i}`).toBe(Math.fround(g[i]! * gate[r]!));
        }
        if (r === 0) expect(ds[r], 'a NaN in x reaches its row of the gate gradient').toBeNaN();
        else expect(Math.abs(ds[r]! - want), `gate gradient of row ${r}`).toBeLessThanOrEqual(1e-7 * size);
      }
    }
  });

  it('leaves other broadcasts to the general path (a gate missing the batch dim)', () => {
    const x = tensor(full, { shape: [N, C, H, W] });
    const s = tensor(gate.subarray(0, C), { shape: [C, 1, 1] });
    const y = mul(x, s).toTypedArray() as Float32Array;
    for (let i = 0; i < full.length; i++) {
      const c = Math.floor(i / (H * W)) % C;
      expect(y[i], `at ${i}`).toBe(Math.fround(full[i]! * gate[c]!));
    }
  });
});
