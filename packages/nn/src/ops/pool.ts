import type { Pool2dAttributes } from '@dlf/native/nn';
import { nn as native } from '@dlf/native/nn';
import { checkFloatTensor, checkOptions, invalidParam, type Tensor } from '@dlf/tensor-core';
import { convOutputSize, pair, type Size2 } from './conv.js';
import { floatResult } from './common.js';

/** Options for {@link maxPool2d} and {@link avgPool2d}. */
export interface Pool2dOptions {
  /** Window side, or [height, width]. */
  kernelSize: Size2;
  /** Defaults to the kernel size. */
  stride?: Size2;
  /** Padding on each side (default 0). */
  padding?: Size2;
}

function poolAttributes(
  x: Tensor,
  options: Pool2dOptions,
  op: string,
): { attributes: Pool2dAttributes; shape: number[] } {
  checkFloatTensor(x, 'input');
  if (x.rank !== 4)
    throw invalidParam('input', `a 4-D tensor (N, C, H, W) for ${op}`, `shape [${x.shape.join(', ')}]`);
  if (typeof options !== 'object' || options === null)
    throw invalidParam('options', 'an object with kernelSize', options, 'type');
  checkOptions(`${op} options`, options, ['kernelSize', 'stride', 'padding']);
  const [kh, kw] = pair('kernelSize', options.kernelSize, 1);
  const [sh, sw] = pair('stride', options.stride ?? [kh, kw], 1);
  const [ph, pw] = pair('padding', options.padding ?? 0, 0);
  if (ph * 2 > kh || pw * 2 > kw)
    throw invalidParam('padding', 'at most half the kernel size', options.padding);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const p = convOutputSize(h, kh, sh, ph);
  const q = convOutputSize(w, kw, sw, pw);
  if (p < 1 || q < 1)
    throw invalidParam(
      'input',
      `spatial size at least the kernel size for ${op}`,
      `shape [${x.shape.join(', ')}]`,
    );
  return {
    attributes: { kernelH: kh, kernelW: kw, strideH: sh, strideW: sw, padH: ph, padW: pw },
    shape: [n, c, p, q],
  };
}

/**
 * 2-D max pooling; the gradient is routed through the saved argmax.
 *
 * @example
 * ```ts
 * maxPool2d(x, { kernelSize: 2 }).shape; // halves H and W
 * ```
 */
export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const { attributes, shape } = poolAttributes(x, options, 'maxPool2d');
  return floatResult(native.maxPool2d(x.handle, attributes), shape);
}

/** 2-D average pooling (padding counts as zeros in the average, as PyTorch's default). @example `avgPool2d(x, { kernelSize: 2 })` */
export function avgPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const { attributes, shape } = poolAttributes(x, options, 'avgPool2d');
  return floatResult(native.avgPool2d(x.handle, attributes), shape);
}

/** Adaptive average pooling to a fixed output size (1 for global average pooling). @example `adaptiveAvgPool2d(x, 1)` */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Size2 = 1): Tensor {
  checkFloatTensor(x, 'input');
  if (x.rank !== 4) throw invalidParam('input', 'a 4-D tensor (N, C, H, W)', `shape [${x.shape.join(', ')}]`);
  const [oh, ow] = pair('outputSize', outputSize, 1);
  return floatResult(native.adaptiveAvgPool2d(x.handle, oh, ow), [x.shape[0]!, x.shape[1]!, oh, ow]);
}
