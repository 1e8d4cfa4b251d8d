import { noGrad } from '@dlf/autograd';
import { checkInt, checkNumber, concat, type Tensor, tidy, zeros } from '@dlf/tensor-core';
import type { LayerDescription, Module } from '../module.js';
import { Conv2d } from './conv.js';
import { type InitOptions, type LayerSpec, registerLayer, specNumber, stateSize } from './registry.js';

/** Options for {@link Whiten2d}. */
export interface Whiten2dOptions extends InitOptions {
  /** Added to each eigenvalue before the inverse square root (default 5e-4). */
  eps?: number;
}

/**
 * Eigenvalues (descending) and eigenvectors (rows, same order) of a symmetric d×d matrix (row-major,
 * float64), by cyclic Jacobi rotations: exact to rounding for the small matrices a patch covariance
 * gives (d = channels · kernel²), and deterministic.
 */
export function symmetricEigen(a: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += m[p * d + q]! ** 2;
    if (!(off > 1e-30)) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = m[p * d + q]!;
        if (apq === 0) continue;
        const theta = (m[q * d + q]! - m[p * d + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          // columns p and q of m, then rows p and q: m ← Jᵀ m J
          const mkp = m[k * d + p]!;
          const mkq = m[k * d + q]!;
          m[k * d + p] = c * mkp - s * mkq;
          m[k * d + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < d; k++) {
          const mpk = m[p * d + k]!;
          const mqk = m[q * d + k]!;
          m[p * d + k] = c * mpk - s * mqk;
          m[q * d + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p]!;
          const vkq = v[k * d + q]!;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => m[j * d + j]! - m[i * d + i]! || i - j);
  const values = new Float64Array(d);
  const vectors = new Float64Array(d * d);
  order.forEach((col, r) => {
    values[r] = m[col * d + col]!;
    for (let k = 0; k < d; k++) vectors[r * d + k] = v[k * d + col]!;
  });
  return { values, vectors };
}

/**
 * A frozen patch-whitening convolution (the first layer of Jordan's airbench, after tysam's
 * hlb-CIFAR10): a k×k convolution whose 2·C·k² kernels are the eigenvectors of the training images'
 * k×k patch covariance, scaled by 1/√(eigenvalue + eps), each with its negation. The output keeps
 * the input's size ("same" padding with zeros: for an even k the extra row and column go below and
 * to the right, as in PyTorch), so the planes below stay even-sized for 2x2 pooling.
 * Its output channels are decorrelated and of equal variance, which the layers above learn from
 * faster than from raw pixels. The kernels are set from data by {@link Whiten2d.fitToData} (the
 * trainer does it before the first step of a fresh run) and never trained; the bias is trained.
 *
 * @example
 * ```ts
 * const whiten = new Whiten2d(3, 2);
 * whiten.fitToData(sampleImages); // (N, 3, H, W), normalised as in training
 * whiten.forward(sampleImages).shape; // [N, 24, H, W]
 * ```
 */
export class Whiten2d extends Conv2d {
  /** Added to each eigenvalue before the inverse square root. */
  readonly eps: number;
  /**
   * Creates the layer with random kernels (until {@link Whiten2d.fitToData}) and a zero bias.
   *
   * @param inChannels - Channels of the input (C).
   * @param kernel - Patch side k (the layer has 2·C·k² output channels).
   * @param options - `eps` and the generator for the provisional kernels.
   */
  constructor(inChannels: number, kernel: number, options: Whiten2dOptions = {}) {
    checkInt('kernel', kernel, 1, 8);
    checkInt('inChannels', inChannels, 1, 64);
    super(inChannels, 2 * inChannels * kernel * kernel, kernel, {
      bias: true,
      padding: (kernel - 1) >> 1,
      ...(options.generator ? { generator: options.generator } : {}),
    });
    this.eps = checkNumber('eps', options.eps ?? 5e-4, 0);
    this.weight.requiresGrad = false;
    this.bias!.write(new Float32Array(this.outChannels));
  }

  /** Zeros added after (below, right of) the input beyond the convolution's own symmetric padding. */
  get extraPadding(): number {
    const k = this.kernelSize[0];
    return k - 1 - 2 * ((k - 1) >> 1);
  }

  override forward(x: Tensor, options: { relu?: boolean; maxPool2x2?: boolean } = {}): Tensor {
    const extra = this.extraPadding;
    if (extra === 0 || x.rank !== 4) return super.forward(x, options); // conv2d refuses bad input clearly
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const below = zeros([n, c, extra, w]);
    const tall = concat([x, below], 2);
    const right = zeros([n, c, h + extra, extra]);
    const padded = concat([tall, right], 3);
    try {
      return super.forward(padded, options);
    } finally {
      for (const t of [below, tall, right, padded]) t.dispose();
    }
  }

  override describe(inputShape: readonly number[]): LayerDescription {
    const e = this.extraPadding;
    const [c, h, w] = inputShape as [number, number, number];
    return super.describe(inputShape.length === 3 ? [c, h + e, w + e] : inputShape);
  }

  /**
   * Sets the kernels from a sample of (normalised) input images: the uncentred covariance of every
   * k×k patch, its eigenvectors in order of decreasing eigenvalue, scaled, then their negations.
   *
   * @param x - Sample images, (N, C, H, W) with H, W >= k.
   */
  fitToData(x: Tensor): void {
    const [k] = this.kernelSize;
    const c = this.inChannels;
    if (x.rank !== 4 || x.shape[1] !== c || x.shape[2]! < k || x.shape[3]! < k) {
      throw new RangeError(`Whiten2d(${c}, ${k}) cannot fit to data of shape [${x.shape.join(', ')}]`);
    }
    const [n, , h, w] = x.shape as [number, number, number, number];
    const src = x.toTypedArray() as Float32Array;
    const d = c * k * k;
    const cov = new Float64Array(d * d);
    const patch = new Float64Array(d);
    let count = 0;
    for (let img = 0; img < n; img++) {
      const base = img * c * h * w;
      for (let i = 0; i + k <= h; i++) {
        for (let j = 0; j + k <= w; j++) {
          let t = 0;
          for (let ch = 0; ch < c; ch++)
            for (let di = 0; di < k; di++)
              for (let dj = 0; dj < k; dj++) patch[t++] = src[base + (ch * h + i + di) * w + j + dj]!;
          for (let a = 0; a < d; a++) {
            const pa = patch[a]!;
            for (let b = a; b < d; b++) cov[a * d + b]! += pa * patch[b]!;
          }
          count++;
        }
      }
    }
    for (let a = 0; a < d; a++) {
      for (let b = a; b < d; b++) {
        cov[a * d + b]! /= count;
        cov[b * d + a] = cov[a * d + b]!;
      }
    }
    if (!cov.every(Number.isFinite))
      throw new RangeError('Whiten2d cannot fit to data with NaN or Inf values');
    const { values, vectors } = symmetricEigen(cov, d);
    const kernels = new Float32Array(2 * d * d);
    for (let r = 0; r < d; r++) {
      const scale = 1 / Math.sqrt(Math.max(0, values[r]!) + this.eps);
      for (let t = 0; t < d; t++) {
        kernels[r * d + t] = vectors[r * d + t]! * scale;
        kernels[(d + r) * d + t] = -vectors[r * d + t]! * scale;
      }
    }
    this.weight.write(kernels);
  }

  /** This layer as a JSON layer description. */
  override toSpec(): LayerSpec {
    return { type: 'Whiten2d', inChannels: this.inChannels, kernelSize: this.kernelSize[0], eps: this.eps };
  }
}

/**
 * A layer whose initial weights come from data: {@link initFromData} calls `fitToData` with the
 * layer's input for a sample of training data.
 */
export interface DataInitializedLayer extends Module {
  fitToData(x: Tensor): void;
}

function isDataInitialized(m: Module): m is DataInitializedLayer {
  return typeof (m as unknown as Partial<DataInitializedLayer>).fitToData === 'function';
}

/**
 * The model's layers whose weights come from data ({@link initFromData} fits them), in module order.
 *
 * @example
 * ```ts
 * dataInitializedLayers(fastCifarNet()).length; // 1: the whitening stem
 * ```
 */
export function dataInitializedLayers(model: Module): DataInitializedLayer[] {
  return model.modules().filter(isDataInitialized);
}

/** Thrown inside a forward pass once every data-initialised layer has seen its input. */
const DONE = Symbol('initFromData.done');

/**
 * Fits every data-initialised layer of `model` (such as {@link Whiten2d}) to a sample of inputs, in
 * forward order, so a layer later in the model sees the output of already fitted layers before it.
 * Runs in evaluation mode without gradients and stops the forward pass after the last such layer.
 * Returns how many layers were fitted (0: the model has none, and nothing ran).
 *
 * @example
 * ```ts
 * initFromData(model, sampleImages); // before training a fresh model
 * ```
 */
export function initFromData(model: Module, x: Tensor): number {
  const layers = dataInitializedLayers(model);
  if (layers.length === 0) return 0;
  const pending = new Set<DataInitializedLayer>(layers);
  const wasTraining = model.training;
  const originals = layers.map((layer) => layer.forward);
  layers.forEach((layer, i) => {
    layer.forward = (input: Tensor, ...rest: unknown[]): Tensor => {
      if (pending.delete(layer)) layer.fitToData(input);
      if (pending.size === 0) throw DONE;
      return (originals[i] as (t: Tensor, ...r: unknown[]) => Tensor).call(layer, input, ...rest);
    };
  });
  model.eval();
  try {
    tidy(() => noGrad(() => model.forward(x)));
  } catch (e) {
    if (e !== DONE) throw e;
  } finally {
    layers.forEach((layer) => {
      delete (layer as { forward?: unknown }).forward;
    });
    model.train(wasTraining);
  }
  return layers.length - pending.size;
}

registerLayer({
  type: 'Whiten2d',
  fromJSON: (l, { generator }) =>
    new Whiten2d(specNumber(l, 'inChannels'), specNumber(l, 'kernelSize'), {
      eps: specNumber(l, 'eps', 5e-4),
      generator,
    }),
  stateShapes: (l) => {
    const c = stateSize(l, 'inChannels');
    const k = stateSize(l, 'kernelSize');
    return { weight: [2 * c * k * k, c, k, k], bias: [2 * c * k * k] };
  },
});
