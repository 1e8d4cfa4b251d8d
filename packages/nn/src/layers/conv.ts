import { checkInt, checkOptions, invalidParam, type Tensor, zeros } from '@dlf/tensor-core';
import * as F from '../functional.js';
import { kaimingUniform_ } from '../init.js';
import { type LayerDescription, Module, Parameter } from '../module.js';
import {
  type InitOptions,
  type LayerSpec,
  registerLayer,
  specBool,
  specNumber,
  specSize2,
  stateSize,
  stateSizePair,
} from './registry.js';
import { defaultBias } from './shared.js';

/** Options for {@link Conv2d}. */
export interface Conv2dLayerOptions extends InitOptions {
  /** Step between kernel positions (default 1). */
  stride?: F.Size2;
  /** Zeros added on each side (default 0). */
  padding?: F.Size2;
  /** Spacing between kernel taps (default 1). */
  dilation?: F.Size2;
  /** Channel groups; must divide both channel counts (default 1). */
  groups?: number;
  /** Add a learned bias per output channel (default true). */
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
  /** The kernels, [outChannels, inChannels / groups, kH, kW]. */
  readonly weight: Parameter;
  /** One bias per output channel, or null with `bias: false`. */
  readonly bias: Parameter | null;
  /** Kernel height and width. */
  readonly kernelSize: [number, number];
  /** Step between kernel positions, vertical and horizontal. */
  readonly stride: [number, number];
  /** Zeros added on each side, vertical and horizontal. */
  readonly padding: [number, number];
  /** Spacing between kernel taps, vertical and horizontal. */
  readonly dilation: [number, number];
  /** Channel groups (1: every output sees every input channel). */
  readonly groups: number;
  /**
   * Creates the layer with freshly initialised weights.
   *
   * @param inChannels - Channels of the input (C of N, C, H, W).
   * @param outChannels - Channels of the output: the number of kernels.
   * @param kernelSize - Kernel side, or [height, width].
   * @param options - Stride, padding, dilation, groups, bias and the generator for initialisation.
   */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: F.Size2,
    options: Conv2dLayerOptions = {},
  ) {
    super();
    checkInt('inChannels', inChannels, 1);
    checkInt('outChannels', outChannels, 1);
    checkOptions('Conv2d options', options, ['stride', 'padding', 'dilation', 'groups', 'bias', 'generator']);
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
  forward(x: Tensor, options: { relu?: boolean; maxPool2x2?: boolean; residual?: Tensor } = {}): Tensor {
    return F.conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
      relu: options.relu === true,
      maxPool2x2: options.maxPool2x2 === true,
      ...(options.residual ? { residual: options.residual } : {}),
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
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
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

registerLayer({
  type: 'Conv2d',
  fromJSON: (l, { generator }) =>
    new Conv2d(specNumber(l, 'inChannels'), specNumber(l, 'outChannels'), specSize2(l, 'kernelSize'), {
      stride: specSize2(l, 'stride', 1),
      padding: specSize2(l, 'padding', 0),
      dilation: specSize2(l, 'dilation', 1),
      groups: specNumber(l, 'groups', 1),
      bias: specBool(l, 'bias', true),
      generator,
    }),
  stateShapes: (l): Record<string, number[]> => {
    const inC = stateSize(l, 'inChannels');
    const outC = stateSize(l, 'outChannels');
    const groups = stateSize(l, 'groups', 1);
    const [kh, kw] = stateSizePair(l, 'kernelSize');
    if (inC % groups !== 0) throw new Error('groups that do not divide inChannels');
    const weight = [outC, inC / groups, kh, kw];
    return (l.bias ?? true) ? { weight, bias: [outC] } : { weight };
  },
});
