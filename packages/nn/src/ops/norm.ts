import { nn as native } from '@dlf/native/nn';
import {
  checkFloatTensor,
  checkNumber,
  checkOptions,
  invalidParam,
  shapeMismatch,
  type Tensor,
} from '@dlf/tensor-core';
import { checkResidual, floatResult } from './common.js';

/** Options for {@link batchNorm2d}. */
export interface BatchNormOptions {
  /** Per-channel scale (γ); none when null or omitted. */
  weight?: Tensor | null;
  /** Per-channel shift (β); none when null or omitted. */
  bias?: Tensor | null;
  /** Running mean: updated in training, used in evaluation. */
  runningMean?: Tensor | null;
  /** Running variance: updated in training, used in evaluation. */
  runningVar?: Tensor | null;
  /** Batch statistics (and running-stat updates) when true; running statistics when false. */
  training?: boolean;
  /** Weight of the batch in the running statistics (default 0.1). */
  momentum?: number;
  /** Added to the variance for numerical stability (default 1e-5). */
  eps?: number;
  /** Fuse a ReLU into the same pass: `relu(batchNorm2d(x, ...))` without the intermediate tensor. */
  relu?: boolean;
  /** Fuse a ReLU6 instead (MobileNetV2's activation): `relu6(batchNorm2d(x, ...))` in one pass. */
  relu6?: boolean;
  /**
   * Fuse a hardswish instead (MobileNetV3's activation): `hardswish(batchNorm2d(x, ...))` in one pass,
   * with the same values and gradients (no residual or pool with it).
   */
  hardswish?: boolean;
  /**
   * Add this tensor, of x's shape, after the normalisation and before the ReLU (a residual join):
   * `relu(add(batchNorm2d(x, ...), residual))` in one pass.
   */
  residual?: Tensor;
  /**
   * Then a 2x2 max pool with stride 2, in the same pass (needs `relu` or `relu6`, and no
   * residual): `maxPool2d(relu(batchNorm2d(x, ...)), { kernelSize: 2 })`, output (N, C, H/2, W/2).
   */
  maxPool2x2?: boolean;
}

const BATCH_NORM_OPTIONS = [
  'weight',
  'bias',
  'runningMean',
  'runningVar',
  'training',
  'momentum',
  'eps',
  'relu',
  'relu6',
  'hardswish',
  'residual',
  'maxPool2x2',
];

/**
 * Batch normalisation over (N, H, W) per channel. In training, running statistics (if given) are
 * updated in place with the unbiased batch variance, as in PyTorch.
 *
 * @example
 * ```ts
 * batchNorm2d(x, { weight: gamma, bias: beta, runningMean: rm, runningVar: rv, training: true });
 * ```
 */
export function batchNorm2d(x: Tensor, options: BatchNormOptions = {}): Tensor {
  checkFloatTensor(x, 'input');
  checkOptions('batchNorm2d options', options, BATCH_NORM_OPTIONS);
  if (x.rank !== 4) throw invalidParam('input', 'a 4-D tensor (N, C, H, W)', `shape [${x.shape.join(', ')}]`);
  const c = x.shape[1]!;
  const check = (name: string, v: Tensor | null | undefined): Tensor | null => {
    if (v === undefined || v === null) return null;
    checkFloatTensor(v, name);
    if (v.rank !== 1 || v.shape[0] !== c)
      throw shapeMismatch('batchNorm2d', `${name} of shape [${c}]`, x.shape, v.shape);
    return v;
  };
  const weight = check('weight', options.weight);
  const bias = check('bias', options.bias);
  const rm = check('runningMean', options.runningMean);
  const rv = check('runningVar', options.runningVar);
  const training = options.training ?? true;
  if (!training && (!rm || !rv))
    throw invalidParam('runningMean', 'running statistics in evaluation mode', null);
  const momentum = checkNumber('momentum', options.momentum ?? 0.1, 0, 1);
  const eps = checkNumber('eps', options.eps ?? 1e-5, 0);
  const residual = options.residual;
  if (residual !== undefined) checkResidual(residual, x.shape, "the input's");
  const activations = [options.relu, options.relu6, options.hardswish].filter((on) => on === true).length;
  if (activations > 1)
    throw invalidParam(
      'options',
      'one fused activation (relu, relu6 or hardswish)',
      `${activations} of them`,
    );
  if (options.hardswish === true && residual !== undefined)
    throw invalidParam('options.residual', 'not to come with hardswish', 'both given');
  const pool = options.maxPool2x2 === true;
  if (pool) {
    if (options.relu !== true && options.relu6 !== true)
      throw invalidParam('options.maxPool2x2', 'to come with relu: true (or relu6)', options.maxPool2x2);
    if (residual !== undefined)
      throw invalidParam('options.residual', 'not to come with maxPool2x2', 'both given');
    if (x.shape[2]! < 2 || x.shape[3]! < 2)
      throw invalidParam(
        'input',
        'planes of at least 2×2 to pool (maxPool2x2)',
        `shape [${x.shape.join(', ')}]`,
      );
  }
  const outShape = pool ? [x.shape[0]!, c, x.shape[2]! >> 1, x.shape[3]! >> 1] : x.shape;
  return floatResult(
    native.batchNorm2d(
      x.handle,
      weight?.handle ?? null,
      bias?.handle ?? null,
      rm?.handle ?? null,
      rv?.handle ?? null,
      training,
      momentum,
      eps,
      options.relu === true || options.relu6 === true,
      residual?.handle ?? null,
      options.relu6 === true ? 6 : Number.POSITIVE_INFINITY,
      pool,
      options.hardswish === true,
    ),
    outShape,
  );
}
