import { nn as native } from '@dlf/native/nn';
import { checkFloatTensor, checkOptions, invalidParam, shapeMismatch, type Tensor } from '@dlf/tensor-core';
import { floatResult } from './common.js';

/** Options for {@link linear}. */
export interface LinearOptions {
  /** Fuse a ReLU into the op (one pass over memory). */
  relu?: boolean;
}

/**
 * x @ weight^T + bias, fused. weight is (out, in) as in PyTorch.
 *
 * @example
 * ```ts
 * linear(randn([64, 1024]), w, b).shape; // [64, 128] for w of shape [128, 1024]
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, options: LinearOptions = {}): Tensor {
  checkFloatTensor(x, 'input');
  checkFloatTensor(weight, 'weight');
  checkOptions('linear options', options, ['relu']);
  if (weight.rank !== 2)
    throw invalidParam('weight', 'a 2-D tensor (out, in)', `shape [${weight.shape.join(', ')}]`);
  if (x.rank < 1 || x.shape[x.rank - 1] !== weight.shape[1]) {
    throw shapeMismatch('linear', 'input (..., in) and weight (out, in)', x.shape, weight.shape);
  }
  if (bias) {
    checkFloatTensor(bias, 'bias');
    if (bias.rank !== 1 || bias.shape[0] !== weight.shape[0]) {
      throw shapeMismatch('linear', 'bias (out) to match weight (out, in)', bias.shape, weight.shape);
    }
  }
  const shape = [...x.shape.slice(0, -1), weight.shape[0]!];
  return floatResult(
    native.linear(x.handle, weight.handle, bias ? bias.handle : null, options.relu === true),
    shape,
  );
}
