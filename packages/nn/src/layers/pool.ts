import { checkOptions, type Tensor } from '@dlf/tensor-core';
import * as F from '../functional.js';
import { type LayerDescription, Module } from '../module.js';
import { type LayerSpec, registerLayer, specSize2 } from './registry.js';

abstract class Pool extends Module {
  /** Window height and width. */
  readonly kernelSize: [number, number];
  /** Step between windows, vertical and horizontal (default: the window). */
  readonly stride: [number, number];
  /** Padding on each side, vertical and horizontal. */
  readonly padding: [number, number];
  /**
   * Creates the layer.
   *
   * @param kernelSize - Window side, or [height, width].
   * @param options - `stride` (default: the window) and `padding` (default 0).
   */
  constructor(kernelSize: F.Size2, options: { stride?: F.Size2; padding?: F.Size2 } = {}) {
    super();
    checkOptions(`${new.target.name} options`, options, ['stride', 'padding']);
    this.kernelSize = F.pair('kernelSize', kernelSize, 1);
    this.stride = F.pair('stride', options.stride ?? this.kernelSize, 1);
    this.padding = F.pair('padding', options.padding ?? 0, 0);
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    // What the pooling op itself refuses, refused when the model is described (loaded), not run.
    const name = `${this.constructor.name}(${this.kernelSize.join('×')})`;
    if (inputShape.length !== 3)
      throw new RangeError(`${name} received input shape [${inputShape.join(', ')}]`);
    if (this.padding[0] * 2 > this.kernelSize[0] || this.padding[1] * 2 > this.kernelSize[1])
      throw new RangeError(`${name} has padding ${this.padding.join('×')}, more than half its window`);
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
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return this.spec('MaxPool2d');
  }
}

/** 2-D average pooling. @example `new AvgPool2d(2)` */
export class AvgPool2d extends Pool {
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding });
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return this.spec('AvgPool2d');
  }
}

/** Adaptive average pooling to a fixed size (1: global average). @example `new AdaptiveAvgPool2d(1)` */
export class AdaptiveAvgPool2d extends Module {
  /** Output height and width. */
  readonly outputSize: [number, number];
  /**
   * Creates the layer.
   *
   * @param outputSize - Output side, or [height, width] (default 1: a global average).
   */
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
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'AdaptiveAvgPool2d', outputSize: this.outputSize };
  }
}

/**
 * Global average pooling: (N, C, H, W) to (N, C), the mean of each channel.
 *
 * @example
 * ```ts
 * new GlobalAvgPool2d().forward(randn([8, 64, 8, 8])).shape; // [8, 64]
 * ```
 */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    const pooled = F.adaptiveAvgPool2d(x, 1);
    const flat = F.flatten(pooled, 1);
    pooled.dispose();
    return flat;
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    if (inputShape.length !== 3) {
      throw new RangeError(`GlobalAvgPool2d received input shape [${inputShape.join(', ')}]`);
    }
    return { outputShape: [inputShape[0]!], macs: 0 };
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'GlobalAvgPool2d' };
  }
}

/** The options of a pooling layer's description (the stride defaults to the kernel size). */
function poolOptions(l: LayerSpec): { stride: F.Size2; padding: F.Size2 } {
  return { stride: specSize2(l, 'stride', specSize2(l, 'kernelSize')), padding: specSize2(l, 'padding', 0) };
}

registerLayer({
  type: 'MaxPool2d',
  fromJSON: (l) => new MaxPool2d(specSize2(l, 'kernelSize'), poolOptions(l)),
});
registerLayer({
  type: 'AvgPool2d',
  fromJSON: (l) => new AvgPool2d(specSize2(l, 'kernelSize'), poolOptions(l)),
});
registerLayer({
  type: 'AdaptiveAvgPool2d',
  fromJSON: (l) => new AdaptiveAvgPool2d(specSize2(l, 'outputSize', 1)),
});
registerLayer({ type: 'GlobalAvgPool2d', fromJSON: () => new GlobalAvgPool2d() });
