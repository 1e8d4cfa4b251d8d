import { type ActivationOp, type UnaryOpAttributes, UnaryOpCode } from '@dlf/native';
import { nn as native } from '@dlf/native/nn';
import { checkFloatTensor, checkNumber, shapeMismatch, type Tensor } from '@dlf/tensor-core';
import { floatResult } from './common.js';

/** Applies an activation of the op table (`packages/native/src/ops.def`). */
function activation<Op extends ActivationOp>(op: Op, x: Tensor, attributes: UnaryOpAttributes[Op]): Tensor {
  checkFloatTensor(x, 'x');
  return floatResult(native.activation(UnaryOpCode[op], x.handle, attributes), x.shape);
}

/** x < 0 ? 0 : x, as PyTorch: a NaN stays NaN (it is not hidden as 0). @example `relu(x)` */
export const relu = (x: Tensor): Tensor => activation('relu', x, {});
/** min(max(x, 0), 6), MobileNetV2's activation (PyTorch's `relu6`). @example `relu6(x)` */
export const relu6 = (x: Tensor): Tensor => activation('relu6', x, {});
/** 1 / (1 + e^-x), computed stably. @example `sigmoid(x)` */
export const sigmoid = (x: Tensor): Tensor => activation('sigmoid', x, {});
/** Hyperbolic tangent. @example `tanh(x)` */
export const tanh = (x: Tensor): Tensor => activation('tanh', x, {});
/** x · Φ(x) with Φ the standard normal CDF (exact GELU, PyTorch's default). @example `gelu(x)` */
export const gelu = (x: Tensor): Tensor => activation('gelu', x, {});
/** x · sigmoid(x) (also called swish). @example `silu(x)` */
export const silu = (x: Tensor): Tensor => activation('silu', x, {});
/** x · relu6(x + 3) / 6, MobileNetV3's cheap swish. @example `hardswish(x)` */
export const hardswish = (x: Tensor): Tensor => activation('hardswish', x, {});

/** x for x > 0, `negativeSlope * x` otherwise. @example `leakyRelu(x, 0.1)` */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return activation('leakyRelu', x, { negativeSlope: checkNumber('negativeSlope', negativeSlope) });
}

/**
 * max(a + b, 0) for two float tensors of one shape, in one pass: the join of a residual block
 * (`relu(add(a, b))` reads and writes the block's output twice, forward and backward).
 *
 * @example
 * ```ts
 * const out = addRelu(branch, shortcut); // equals relu(add(branch, shortcut))
 * ```
 */
export function addRelu(a: Tensor, b: Tensor): Tensor {
  checkFloatTensor(a, 'a');
  checkFloatTensor(b, 'b');
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i]))
    throw shapeMismatch('addRelu', 'inputs of one shape', a.shape, b.shape);
  return floatResult(native.addRelu(a.handle, b.handle), a.shape);
}
