import {
  checkInt,
  checkNumber,
  type Generator,
  invalidParam,
  ones,
  type Tensor,
  zeros,
} from '@dlf/tensor-core';
import * as F from './functional.js';
import { kaimingUniform_, uniform_ } from './init.js';
import { type LayerDescription, Module, Parameter } from './module.js';

/** The JSON form of one layer (see {@link Sequential.toJSON}). */
export type LayerSpec = { type: string } & Record<string, unknown>;

/** Options shared by layers with weights. */
export interface InitOptions {
  /** The stream their initial values come from (default: the global generator). */
  generator?: Generator;
}

function defaultBias(bias: Tensor, fanIn: number, generator?: Generator): void {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  uniform_(bias, -bound, bound, generator);
}

function prod(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * y = x Wᵀ + b, with PyTorch's default initialisation (Kaiming uniform, a = √5).
 *
 * @example
 * ```ts
 * const fc = new Linear(1024, 128);
 * fc.forward(randn([64, 1024])).shape; // [64, 128]
 * ```
 */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: InitOptions & { bias?: boolean } = {},
  ) {
    super();
    checkInt('inFeatures', inFeatures, 1);
    checkInt('outFeatures', outFeatures, 1);
    const w = zeros([outFeatures, inFeatures]);
    kaimingUniform_(w, { a: Math.sqrt(5), generator: options.generator });
    this.weight = this.registerParameter('weight', new Parameter(w));
    w.dispose();
    if (options.bias ?? true) {
      const b = zeros([outFeatures]);
      defaultBias(b, inFeatures, options.generator);
      this.bias = this.registerParameter('bias', new Parameter(b));
      b.dispose();
    } else {
      this.bias = this.registerParameter('bias', null);
    }
  }
  forward(x: Tensor, options: F.LinearOptions = {}): Tensor {
    return F.linear(x, this.weight, this.bias, options);
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    if (inputShape[inputShape.length - 1] !== this.inFeatures) {
      throw new RangeError(
        `Linear(${this.inFeatures}, ${this.outFeatures}) received input shape [${inputShape.join(', ')}]`,
      );
    }
    const rows = prod(inputShape.slice(0, -1));
    return {
      outputShape: [...inputShape.slice(0, -1), this.outFeatures],
      macs: rows * this.inFeatures * this.outFeatures,
    };
  }
  toSpec(): LayerSpec {
    return {
      type: 'Linear',
      inFeatures: this.inFeatures,
      outFeatures: this.outFeatures,
      bias: this.bias !== null,
    };
  }
}

/** Options for {@link Conv2d}. */
export interface Conv2dLayerOptions extends InitOptions {
  stride?: F.Size2;
  padding?: F.Size2;
  dilation?: F.Size2;
  groups?: number;
  bias?: boolean;
}

/**
 * 2-D convolution over (N, C, H, W) input, with PyTorch's default initialisation.
 *
 * @example
 * ```ts
 * const conv = new Conv2d(3, 8, 3, { padding: 1 });
 * conv.forward(randn([64, 3, 32, 32])).shape; // [64, 8, 32, 32]
 * ```
 */
export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: F.Size2,
    options: Conv2dLayerOptions = {},
  ) {
    super();
    checkInt('inChannels', inChannels, 1);
    checkInt('outChannels', outChannels, 1);
    this.kernelSize = F.pair('kernelSize', kernelSize, 1);
    this.stride = F.pair('stride', options.stride ?? 1, 1);
    this.padding = F.pair('padding', options.padding ?? 0, 0);
    this.dilation = F.pair('dilation', options.dilation ?? 1, 1);
    this.groups = checkInt('groups', options.groups ?? 1, 1);
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw invalidParam(
        'groups',
        `a divisor of inChannels (${inChannels}) and outChannels (${outChannels})`,
        this.groups,
      );
    }
    const w = zeros([outChannels, inChannels / this.groups, ...this.kernelSize]);
    kaimingUniform_(w, { a: Math.sqrt(5), generator: options.generator });
    this.weight = this.registerParameter('weight', new Parameter(w));
    w.dispose();
    if (options.bias ?? true) {
      const b = zeros([outChannels]);
      defaultBias(b, (inChannels / this.groups) * this.kernelSize[0] * this.kernelSize[1], options.generator);
      this.bias = this.registerParameter('bias', new Parameter(b));
      b.dispose();
    } else {
      this.bias = this.registerParameter('bias', null);
    }
  }
  forward(x: Tensor, options: { relu?: boolean; maxPool2x2?: boolean } = {}): Tensor {
    return F.conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
      relu: options.relu === true,
      maxPool2x2: options.maxPool2x2 === true,
    });
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    const [c, h, w] = inputShape as [number, number, number];
    if (inputShape.length !== 3 || c !== this.inChannels) {
      throw new RangeError(
        `Conv2d(${this.inChannels} -> ${this.outChannels}) received input shape [${inputShape.join(', ')}]`,
      );
    }
    const p = F.convOutputSize(h, this.kernelSize[0], this.stride[0], this.padding[0], this.dilation[0]);
    const q = F.convOutputSize(w, this.kernelSize[1], this.stride[1], this.padding[1], this.dilation[1]);
    const perOutput = (this.inChannels / this.groups) * this.kernelSize[0] * this.kernelSize[1];
    return { outputShape: [this.outChannels, p, q], macs: this.outChannels * p * q * perOutput };
  }
  toSpec(): LayerSpec {
    return {
      type: 'Conv2d',
      inChannels: this.inChannels,
      outChannels: this.outChannels,
      kernelSize: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
      bias: this.bias !== null,
    };
  }
}

abstract class Pool extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  constructor(kernelSize: F.Size2, options: { stride?: F.Size2; padding?: F.Size2 } = {}) {
    super();
    this.kernelSize = F.pair('kernelSize', kernelSize, 1);
    this.stride = F.pair('stride', options.stride ?? this.kernelSize, 1);
    this.padding = F.pair('padding', options.padding ?? 0, 0);
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    const [c, h, w] = inputShape as [number, number, number];
    const p = F.convOutputSize(h, this.kernelSize[0], this.stride[0], this.padding[0]);
    const q = F.convOutputSize(w, this.kernelSize[1], this.stride[1], this.padding[1]);
    return { outputShape: [c, p, q], macs: 0 };
  }
  protected spec(type: string): LayerSpec {
    return { type, kernelSize: this.kernelSize, stride: this.stride, padding: this.padding };
  }
}

/** 2-D max pooling. @example `new MaxPool2d(2)` */
export class MaxPool2d extends Pool {
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding });
  }
  toSpec(): LayerSpec {
    return this.spec('MaxPool2d');
  }
}

/** 2-D average pooling. @example `new AvgPool2d(2)` */
export class AvgPool2d extends Pool {
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding });
  }
  toSpec(): LayerSpec {
    return this.spec('AvgPool2d');
  }
}

/** Adaptive average pooling to a fixed size (1: global average). @example `new AdaptiveAvgPool2d(1)` */
export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: [number, number];
  constructor(outputSize: F.Size2 = 1) {
    super();
    this.outputSize = F.pair('outputSize', outputSize, 1);
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    return { outputShape: [inputShape[0]!, ...this.outputSize], macs: 0 };
  }
  toSpec(): LayerSpec {
    return { type: 'AdaptiveAvgPool2d', outputSize: this.outputSize };
  }
}

abstract class Elementwise extends Module {
  override describe(inputShape: readonly number[]): LayerDescription {
    return { outputShape: [...inputShape], macs: 0 };
  }
}

/** max(x, 0). @example `new ReLU()` */
export class ReLU extends Elementwise {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
  toSpec(): LayerSpec {
    return { type: 'ReLU' };
  }
}

/** Leaky ReLU. @example `new LeakyReLU(0.1)` */
export class LeakyReLU extends Elementwise {
  constructor(readonly negativeSlope = 0.01) {
    super();
    checkNumber('negativeSlope', negativeSlope);
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
  toSpec(): LayerSpec {
    return { type: 'LeakyReLU', negativeSlope: this.negativeSlope };
  }
}

/** Sigmoid. @example `new Sigmoid()` */
export class Sigmoid extends Elementwise {
  forward(x: Tensor): Tensor {
    return F.sigmoid(x);
  }
  toSpec(): LayerSpec {
    return { type: 'Sigmoid' };
  }
}

/** Tanh. @example `new Tanh()` */
export class Tanh extends Elementwise {
  forward(x: Tensor): Tensor {
    return F.tanh(x);
  }
  toSpec(): LayerSpec {
    return { type: 'Tanh' };
  }
}

/** Flattens all dims from `startDim` (default 1: keep the batch). @example `new Flatten()` */
export class Flatten extends Module {
  constructor(readonly startDim = 1) {
    super();
    checkInt('startDim', startDim, 0);
  }
  forward(x: Tensor): Tensor {
    return F.flatten(x, this.startDim);
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    const s = Math.max(this.startDim - 1, 0);
    return { outputShape: [...inputShape.slice(0, s), prod(inputShape.slice(s))], macs: 0 };
  }
  toSpec(): LayerSpec {
    return { type: 'Flatten', startDim: this.startDim };
  }
}

/**
 * Inverted dropout, active only in training mode; masks come from a seeded generator.
 *
 * @example
 * ```ts
 * const drop = new Dropout(0.5);
 * drop.eval(); // now the identity
 * ```
 */
export class Dropout extends Module {
  readonly generator: Generator | undefined;
  constructor(
    readonly p = 0.5,
    options: InitOptions = {},
  ) {
    super();
    checkNumber('p', p, 0, 1);
    this.generator = options.generator;
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, { training: this.training, generator: this.generator });
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    return { outputShape: [...inputShape], macs: 0 };
  }
  toSpec(): LayerSpec {
    return { type: 'Dropout', p: this.p };
  }
}

/** Options for {@link BatchNorm2d}. */
export interface BatchNormLayerOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation per channel: batch statistics in training (running statistics updated),
 * running statistics in evaluation.
 *
 * @example
 * ```ts
 * const bn = new BatchNorm2d(16);
 * bn.forward(randn([8, 16, 4, 4]));
 * ```
 */
export class BatchNorm2d extends Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly eps: number;
  readonly momentum: number;
  constructor(
    readonly numFeatures: number,
    options: BatchNormLayerOptions = {},
  ) {
    super();
    checkInt('numFeatures', numFeatures, 1);
    this.eps = checkNumber('eps', options.eps ?? 1e-5, 0);
    this.momentum = checkNumber('momentum', options.momentum ?? 0.1, 0, 1);
    const affine = options.affine ?? true;
    const track = options.trackRunningStats ?? true;
    const mk = (t: Tensor): Parameter => {
      const p = new Parameter(t);
      t.dispose();
      return p;
    };
    this.weight = this.registerParameter('weight', affine ? mk(ones([numFeatures])) : null);
    this.bias = this.registerParameter('bias', affine ? mk(zeros([numFeatures])) : null);
    this.runningMean = this.registerBuffer('runningMean', track ? zeros([numFeatures]) : null);
    this.runningVar = this.registerBuffer('runningVar', track ? ones([numFeatures]) : null);
  }
  forward(x: Tensor): Tensor {
    return F.batchNorm2d(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training: this.training || this.runningMean === null,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    return { outputShape: [...inputShape], macs: 0 };
  }
  toSpec(): LayerSpec {
    return {
      type: 'BatchNorm2d',
      numFeatures: this.numFeatures,
      eps: this.eps,
      momentum: this.momentum,
      affine: this.weight !== null,
      trackRunningStats: this.runningMean !== null,
    };
  }
}

function isMaxPool2x2(layer: Module | undefined): boolean {
  if (!(layer instanceof MaxPool2d)) return false;
  const { kernelSize: k, stride: s, padding: p } = layer;
  return k[0] === 2 && k[1] === 2 && s[0] === 2 && s[1] === 2 && p[0] === 0 && p[1] === 0;
}

// The fused op pools a conv output of at least 2x2 (smaller inputs keep the separate ops and their errors).
function convOutputAtLeast2x2(conv: Conv2d, x: Tensor): boolean {
  if (x.rank !== 4) return false;
  const p = F.convOutputSize(
    x.shape[2]!,
    conv.kernelSize[0],
    conv.stride[0],
    conv.padding[0],
    conv.dilation[0],
  );
  const q = F.convOutputSize(
    x.shape[3]!,
    conv.kernelSize[1],
    conv.stride[1],
    conv.padding[1],
    conv.dilation[1],
  );
  return p >= 2 && q >= 2;
}

/** Hooks a training loop can install to time each layer (see {@link Sequential.onLayer}). */
export type LayerHook = (index: number, layer: Module, phase: 'start' | 'end') => void;

/**
 * Layers applied in order. Conv2d or Linear followed by ReLU run as one fused op, and Conv2d + ReLU +
 * MaxPool2d(2) (stride 2, no padding) as one op too. Intermediate
 * outputs are released as soon as the next layer has consumed them (the recorded graph keeps what
 * backward needs).
 *
 * @example
 * ```ts
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * model.forward(randn([16, 4])).shape; // [16, 2]
 * ```
 */
export class Sequential extends Module {
  readonly layers: Module[];
  /** Set to time layers; called before and after each layer (fused pairs and triples report once). */
  onLayer: LayerHook | null = null;
  /** Fuse Conv2d/Linear + ReLU pairs and Conv2d + ReLU + MaxPool2d(2) triples (default true). */
  fuse = true;
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((l, i) => this.registerModule(String(i), l));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i]!;
      const next = this.layers[i + 1];
      const fused = this.fuse && next instanceof ReLU && (layer instanceof Conv2d || layer instanceof Linear);
      const pooled =
        fused &&
        layer instanceof Conv2d &&
        isMaxPool2x2(this.layers[i + 2]) &&
        convOutputAtLeast2x2(layer, h);
      this.onLayer?.(i, layer, 'start');
      const y = pooled
        ? (layer as Conv2d).forward(h, { relu: true, maxPool2x2: true })
        : fused
          ? (layer as Conv2d | Linear).forward(h, { relu: true })
          : layer.forward(h);
      this.onLayer?.(i, layer, 'end');
      if (fused) i++;
      if (pooled) i++;
      if (h !== x && h !== y) h.dispose();
      h = y;
    }
    return h === x ? x.clone() : h;
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    let shape = [...inputShape];
    let macs = 0;
    for (const l of this.layers) {
      const d = l.describe(shape);
      shape = d.outputShape;
      macs += d.macs;
    }
    return { outputShape: shape, macs };
  }
  /** The architecture as JSON-serialisable data (see {@link sequentialFromJSON}). */
  toJSON(): SequentialSpec {
    return {
      format: 'dlf.sequential',
      version: 1,
      layers: this.layers.map((l) => {
        const spec = (l as Module & { toSpec?: () => LayerSpec }).toSpec;
        if (typeof spec !== 'function')
          throw new TypeError(`Layer ${l.constructor.name} cannot be described as JSON`);
        return spec.call(l);
      }),
    };
  }
}

/** The JSON form of a {@link Sequential} model. */
export interface SequentialSpec {
  format: 'dlf.sequential';
  version: 1;
  layers: LayerSpec[];
}

function num(spec: LayerSpec, key: string, fallback?: number): number {
  const v = spec[key] ?? fallback;
  if (typeof v !== 'number') throw invalidParam(`${spec.type}.${key}`, 'a number', v, 'type');
  return v;
}

function size2(spec: LayerSpec, key: string, fallback?: F.Size2): F.Size2 {
  const v = spec[key] ?? fallback;
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.length === 2 && v.every((e) => typeof e === 'number'))
    return [v[0] as number, v[1] as number];
  throw invalidParam(`${spec.type}.${key}`, 'a number or [h, w]', v, 'type');
}

function bool(spec: LayerSpec, key: string, fallback: boolean): boolean {
  const v = spec[key] ?? fallback;
  if (typeof v !== 'boolean') throw invalidParam(`${spec.type}.${key}`, 'a boolean', v, 'type');
  return v;
}

/**
 * Builds a {@link Sequential} model from its JSON form. Weights are freshly initialised from the
 * generator; load trained weights with {@link Module.loadStateDict}.
 *
 * @example
 * ```ts
 * const copy = sequentialFromJSON(model.toJSON());
 * ```
 */
export function sequentialFromJSON(spec: unknown, options: InitOptions = {}): Sequential {
  const s = typeof spec === 'string' ? (JSON.parse(spec) as unknown) : spec;
  if (typeof s !== 'object' || s === null || (s as SequentialSpec).format !== 'dlf.sequential') {
    throw invalidParam('spec', "a model description with format 'dlf.sequential'", s, 'type');
  }
  const { version, layers } = s as SequentialSpec;
  if (version !== 1) throw invalidParam('spec.version', '1', version);
  if (!Array.isArray(layers)) throw invalidParam('spec.layers', 'an array of layers', layers, 'type');
  const g = options.generator;
  return new Sequential(
    ...layers.map((l, i): Module => {
      if (typeof l !== 'object' || l === null || typeof l.type !== 'string') {
        throw invalidParam(`spec.layers[${i}]`, 'a layer object with a type', l, 'type');
      }
      switch (l.type) {
        case 'Linear':
          return new Linear(num(l, 'inFeatures'), num(l, 'outFeatures'), {
            bias: bool(l, 'bias', true),
            generator: g,
          });
        case 'Conv2d':
          return new Conv2d(num(l, 'inChannels'), num(l, 'outChannels'), size2(l, 'kernelSize'), {
            stride: size2(l, 'stride', 1),
            padding: size2(l, 'padding', 0),
            dilation: size2(l, 'dilation', 1),
            groups: num(l, 'groups', 1),
            bias: bool(l, 'bias', true),
            generator: g,
          });
        case 'MaxPool2d':
          return new MaxPool2d(size2(l, 'kernelSize'), {
            stride: size2(l, 'stride', size2(l, 'kernelSize')),
            padding: size2(l, 'padding', 0),
          });
        case 'AvgPool2d':
          return new AvgPool2d(size2(l, 'kernelSize'), {
            stride: size2(l, 'stride', size2(l, 'kernelSize')),
            padding: size2(l, 'padding', 0),
          });
        case 'AdaptiveAvgPool2d':
          return new AdaptiveAvgPool2d(size2(l, 'outputSize', 1));
        case 'ReLU':
          return new ReLU();
        case 'LeakyReLU':
          return new LeakyReLU(num(l, 'negativeSlope', 0.01));
        case 'Sigmoid':
          return new Sigmoid();
        case 'Tanh':
          return new Tanh();
        case 'Flatten':
          return new Flatten(num(l, 'startDim', 1));
        case 'Dropout':
          return new Dropout(num(l, 'p', 0.5), { generator: g });
        case 'BatchNorm2d':
          return new BatchNorm2d(num(l, 'numFeatures'), {
            eps: num(l, 'eps', 1e-5),
            momentum: num(l, 'momentum', 0.1),
            affine: bool(l, 'affine', true),
            trackRunningStats: bool(l, 'trackRunningStats', true),
          });
        default:
          throw invalidParam(`spec.layers[${i}].type`, 'a known layer type', l.type);
      }
    }),
  );
}
