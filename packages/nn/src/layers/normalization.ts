import { checkInt, checkNumber, checkOptions, ones, type Tensor, zeros } from '@dlf/tensor-core';
import * as F from '../functional.js';
import { type LayerDescription, Module, Parameter } from '../module.js';
import { type LayerSpec, registerLayer, specBool, specNumber, stateSize } from './registry.js';

/** Options for {@link BatchNorm2d}. */
export interface BatchNormLayerOptions {
  /** Added to the variance for numerical stability (default 1e-5). */
  eps?: number;
  /** Weight of each new batch in the running statistics (default 0.1). */
  momentum?: number;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
  /** Keep running statistics for evaluation (default true). */
  trackRunningStats?: boolean;
  /**
   * Learn the scale γ (default true). False keeps γ at 1, frozen (Keras' `scale=False`): the
   * fast CIFAR-10 recipes learn only the shift β, at a raised rate.
   */
  scale?: boolean;
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
  /** Per-channel scale (γ), or null when not affine. */
  readonly weight: Parameter | null;
  /** Per-channel shift (β), or null when not affine. */
  readonly bias: Parameter | null;
  /** Running mean used in evaluation, or null without running statistics. */
  readonly runningMean: Tensor | null;
  /** Running variance used in evaluation, or null without running statistics. */
  readonly runningVar: Tensor | null;
  /** Added to the variance for numerical stability (default 1e-5). */
  readonly eps: number;
  /** Weight of the new batch in the running statistics (default 0.1). */
  readonly momentum: number;
  /**
   * Creates the layer: γ = 1, β = 0, running mean 0 and variance 1.
   *
   * @param numFeatures - Channels of the input (C of N, C, H, W).
   * @param options - `eps`, `momentum`, `affine` (learn γ and β), `scale` (learn γ) and `trackRunningStats`.
   */
  constructor(
    readonly numFeatures: number,
    options: BatchNormLayerOptions = {},
  ) {
    super();
    checkInt('numFeatures', numFeatures, 1);
    checkOptions('BatchNorm2d options', options, ['eps', 'momentum', 'affine', 'trackRunningStats', 'scale']);
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
    if (this.weight && options.scale === false) this.weight.requiresGrad = false;
    this.bias = this.registerParameter('bias', affine ? mk(zeros([numFeatures])) : null);
    this.runningMean = this.registerBuffer('runningMean', track ? zeros([numFeatures]) : null);
    this.runningVar = this.registerBuffer('runningVar', track ? ones([numFeatures]) : null);
  }
  /**
   * `options.relu` (or `relu6`, `hardswish`) fuses a following ReLU (ReLU6, Hardswish), and
   * `maxPool2x2` a 2x2 max pool after the ReLU: Sequential and GraphModule do this for BatchNorm2d +
   * ReLU (+ MaxPool2d(2)), BatchNorm2d + ReLU6 and BatchNorm2d + Hardswish when the BatchNorm is not
   * folded into a conv.
   */
  forward(
    x: Tensor,
    options: {
      relu?: boolean;
      relu6?: boolean;
      hardswish?: boolean;
      residual?: Tensor;
      maxPool2x2?: boolean;
    } = {},
  ): Tensor {
    return F.batchNorm2d(x, {
      relu: options.relu === true,
      relu6: options.relu6 === true,
      hardswish: options.hardswish === true,
      maxPool2x2: options.maxPool2x2 === true,
      ...(options.residual ? { residual: options.residual } : {}),
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
    // Checked here, as Conv2d and Linear check theirs, so that a model file or description whose
    // BatchNorm2d does not match its input is refused when loaded, not when it first runs.
    if (inputShape.length !== 3 || inputShape[0] !== this.numFeatures) {
      throw new RangeError(
        `BatchNorm2d(${this.numFeatures}) received input shape [${inputShape.join(', ')}]`,
      );
    }
    return { outputShape: [...inputShape], macs: 0 };
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return {
      type: 'BatchNorm2d',
      numFeatures: this.numFeatures,
      eps: this.eps,
      momentum: this.momentum,
      affine: this.weight !== null,
      trackRunningStats: this.runningMean !== null,
      ...(this.weight?.requiresGrad === false ? { scale: false } : {}),
    };
  }
}

registerLayer({
  type: 'BatchNorm2d',
  fromJSON: (l) =>
    new BatchNorm2d(specNumber(l, 'numFeatures'), {
      eps: specNumber(l, 'eps', 1e-5),
      momentum: specNumber(l, 'momentum', 0.1),
      affine: specBool(l, 'affine', true),
      trackRunningStats: specBool(l, 'trackRunningStats', true),
      scale: specBool(l, 'scale', true),
    }),
  stateShapes: (l) => {
    const n = stateSize(l, 'numFeatures');
    return {
      ...((l.affine ?? true) ? { weight: [n], bias: [n] } : {}),
      ...((l.trackRunningStats ?? true) ? { runningMean: [n], runningVar: [n] } : {}),
    };
  },
});
