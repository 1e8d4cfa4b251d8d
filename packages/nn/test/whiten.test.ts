/**
 * Data-initialised layers: the eigen-solver, Whiten2d's fit (whitened output, frozen kernels, "same"
 * size), initFromData's forward-order fitting and early stop, BatchNorm2d with a frozen scale, and
 * identity kernels.
 */
import {
  BatchNorm2d,
  Conv2d,
  dataInitializedLayers,
  GraphBuilder,
  graphFromJSON,
  identityKernels_,
  initFromData,
  Module,
  ReLU,
  Scale,
  Sequential,
  sequentialFromJSON,
  symmetricEigen,
  Whiten2d,
} from '@dlf/nn';
import { Generator, randn, type Tensor, tensor } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

/** Images whose channels and neighbouring pixels are correlated (as natural images are). */
function correlatedImages(n: number, side: number, seed: number): Tensor {
  const base = randn([n, 1, side + 1, side + 1], 0, 1, {
    generator: new Generator(seed),
  }).toTypedArray() as Float32Array;
  const noise = randn([n, 3, side, side], 0, 0.3, {
    generator: new Generator(seed + 1),
  }).toTypedArray() as Float32Array;
  const out = new Float32Array(n * 3 * side * side);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < side; y++)
        for (let x = 0; x < side; x++) {
          const b = (i * (side + 1) + y) * (side + 1) + x;
          const smooth = base[b]! + base[b + 1]! + base[b + side + 1]!;
          out[((i * 3 + c) * side + y) * side + x] =
            (c + 1) * smooth + noise[((i * 3 + c) * side + y) * side + x]!;
        }
  return tensor(out, { shape: [n, 3, side, side] });
}

/** The uncentred covariance of channels [0, d) of an (N, C, H, W) tensor over every position. */
function channelCovariance(y: Tensor, d: number, bias: Float32Array): number[][] {
  const [n, c, h, w] = y.shape as [number, number, number, number];
  const a = y.toTypedArray() as Float32Array;
  const cov = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let i = 0; i < n; i++)
    for (let p = 0; p < h * w; p++)
      for (let u = 0; u < d; u++) {
        const yu = a[(i * c + u) * h * w + p]! - bias[u]!;
        for (let v = 0; v < d; v++) cov[u]![v]! += yu * (a[(i * c + v) * h * w + p]! - bias[v]!);
      }
  return cov.map((row) => row.map((x) => x / (n * h * w)));
}

describe('symmetricEigen', () => {
  it('returns descending eigenvalues and orthonormal eigenvectors that rebuild the matrix', () => {
    const d = 5;
    const g = randn([d, d], 0, 1, { generator: new Generator(4) }).toTypedArray() as Float32Array;
    const a = new Float64Array(d * d);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) a[i * d + j]! += g[i * d + k]! * g[j * d + k]!;
    const { values, vectors } = symmetricEigen(a, d);
    for (let i = 1; i < d; i++) expect(values[i - 1]!).toBeGreaterThanOrEqual(values[i]!);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        let dot = 0;
        let rebuilt = 0;
        for (let k = 0; k < d; k++) {
          dot += vectors[i * d + k]! * vectors[j * d + k]!;
          rebuilt += vectors[k * d + i]! * values[k]! * vectors[k * d + j]!;
        }
        expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-10);
        expect(Math.abs(rebuilt - a[i * d + j]!)).toBeLessThan(1e-9);
      }
  });
});

describe('Whiten2d', () => {
  it('fitted to images, its first half of channels is white and the second half their negation', () => {
    const x = correlatedImages(40, 12, 1);
    const layer = new Whiten2d(3, 2, { eps: 1e-6 });
    layer.fitToData(x);
    const y = layer.forward(x);
    expect(y.shape).toEqual([40, 24, 12, 12]);
    const bias = layer.bias!.toTypedArray() as Float32Array;
    // Over the interior (every patch the fit saw), the covariance is the identity.
    const [n, c] = [40, 24];
    const interior = new Float32Array(n * c * 11 * 11);
    const all = y.toTypedArray() as Float32Array;
    for (let i = 0; i < n * c; i++)
      for (let r = 0; r < 11; r++)
        for (let q = 0; q < 11; q++) interior[(i * 11 + r) * 11 + q] = all[(i * 12 + r) * 12 + q]!;
    const cov = channelCovariance(tensor(interior, { shape: [n, c, 11, 11] }), 12, bias);
    cov.forEach((row, u) =>
      row.forEach((v, k) => expect(Math.abs(v - (u === k ? 1 : 0))).toBeLessThan(2e-3)),
    );
    const w = layer.weight.toTypedArray() as Float32Array;
    for (let i = 0; i < 12 * 12; i++) expect(w[12 * 12 + i]).toBe(-w[i]!);
  });

  it('keeps the input size for even and odd kernels, as describe says', () => {
    for (const k of [2, 3, 4]) {
      const layer = new Whiten2d(3, k);
      const y = layer.forward(randn([2, 3, 9, 7]));
      expect(y.shape).toEqual([2, 6 * k * k, 9, 7]);
      expect(layer.describe([3, 9, 7]).outputShape).toEqual([6 * k * k, 9, 7]);
    }
  });

  it('trains its bias only, and round-trips through its JSON description', () => {
    const layer = new Whiten2d(3, 2);
    layer.fitToData(correlatedImages(4, 8, 2));
    const y = layer.forward(randn([2, 3, 8, 8]));
    y.sum().backward();
    expect(layer.weight.grad).toBeNull();
    expect(layer.bias!.grad?.shape).toEqual([24]);
    const spec = new Sequential(layer).toJSON();
    expect(spec.layers[0]).toEqual({ type: 'Whiten2d', inChannels: 3, kernelSize: 2, eps: 5e-4 });
    const copy = sequentialFromJSON(spec);
    expect(copy.parameters()[0]!.requiresGrad).toBe(false);
  });

  it('refuses data it cannot fit, naming the shapes', () => {
    const layer = new Whiten2d(3, 2);
    expect(() => layer.fitToData(randn([2, 1, 8, 8]))).toThrow(
      /Whiten2d\(3, 2\) cannot fit to data of shape \[2, 1, 8, 8\]/,
    );
    const bad = randn([2, 3, 4, 4]).toTypedArray() as Float32Array;
    bad[5] = Number.NaN;
    expect(() => layer.fitToData(tensor(bad, { shape: [2, 3, 4, 4] }))).toThrow(/NaN or Inf/);
    expect(() => new Whiten2d(3, 0)).toThrow(/kernel/);
  });
});

/** A layer that must never run: initFromData stops before it. */
class Unreachable extends Module {
  forward(): Tensor {
    throw new Error('ran past the last data-initialised layer');
  }
}

describe('initFromData', () => {
  it('fits each data-initialised layer to its own input, in forward order, and stops after the last', () => {
    const first = new Whiten2d(3, 2);
    const second = new Whiten2d(24, 1);
    const model = new Sequential(new Scale(3), first, new ReLU(), second, new Unreachable());
    const x = correlatedImages(8, 8, 3);
    expect(dataInitializedLayers(model)).toEqual([first, second]);
    expect(initFromData(model, x)).toBe(2);
    expect(model.training).toBe(true);
    // The first layer saw 3·x: its kernels are a third of those fitted to x.
    const direct = new Whiten2d(3, 2, { eps: 5e-4 / 9 });
    direct.fitToData(x);
    const got = first.weight.toTypedArray() as Float32Array;
    const want = direct.weight.toTypedArray() as Float32Array;
    got.forEach((v, i) => expect(Math.abs(v - want[i]! / 3)).toBeLessThan(1e-4));
    // The second layer's output is white too: it saw the first one's fitted output.
    const h = model.layers[2]!.forward(first.forward(model.layers[0]!.forward(x)));
    const cov = channelCovariance(second.forward(h), 24, second.bias!.toTypedArray() as Float32Array);
    expect(Math.abs(cov[0]![0]! - 1)).toBeLessThan(0.05);
  });

  it('works inside graph models, and does nothing for a model without such layers', () => {
    const g = new GraphBuilder();
    const w = g.node(new Whiten2d(3, 2), g.input, 'whiten');
    const model = g.build(g.node(new Conv2d(24, 4, 3, { padding: 1 }), w, 'conv'));
    const before = [...(model.parameters()[0]!.toTypedArray() as Float32Array)];
    expect(initFromData(model, correlatedImages(4, 8, 5))).toBe(1);
    expect([...(model.parameters()[0]!.toTypedArray() as Float32Array)]).not.toEqual(before);
    expect(graphFromJSON(model.toJSON()).toJSON()).toEqual(model.toJSON());
    expect(initFromData(new Sequential(new Unreachable()), randn([1, 3, 4, 4]))).toBe(0);
  });
});

describe('BatchNorm2d with scale: false', () => {
  it('keeps γ at 1 (no gradient), learns β, and says so in its description', () => {
    const bn = new BatchNorm2d(4, { scale: false });
    const y = bn.forward(randn([3, 4, 2, 2]));
    y.mul(randn([3, 4, 2, 2]))
      .sum()
      .backward();
    expect(bn.weight!.grad).toBeNull();
    expect(bn.bias!.grad?.shape).toEqual([4]);
    expect(bn.toSpec()).toMatchObject({ type: 'BatchNorm2d', scale: false });
    const copy = sequentialFromJSON(new Sequential(bn).toJSON());
    expect((copy.layers[0] as BatchNorm2d).weight!.requiresGrad).toBe(false);
    expect(new BatchNorm2d(4).toSpec()).not.toHaveProperty('scale');
  });
});

describe('identityKernels_', () => {
  it('makes the first min(out, in) kernels pass their channel through and leaves the rest', () => {
    const conv = new Conv2d(2, 3, 3, { padding: 1, bias: false });
    const third = [...(conv.weight.toTypedArray() as Float32Array).slice(36)];
    identityKernels_(conv.weight);
    const x = randn([1, 2, 5, 5]);
    const y = conv.forward(x).toTypedArray() as Float32Array;
    const xs = x.toTypedArray() as Float32Array;
    xs.forEach((v, i) => expect(Math.abs(y[i]! - v)).toBeLessThan(1e-5));
    expect([...(conv.weight.toTypedArray() as Float32Array).slice(36)]).toEqual(third);
    expect(() => identityKernels_(new Conv2d(2, 2, 2).weight)).toThrow(/odd kernel sides/);
  });
});
