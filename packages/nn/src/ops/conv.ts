import { nn as native } from '@dlf/native/nn';
import {
  checkFloatTensor,
  checkInt,
  checkOptions,
  invalidParam,
  shapeMismatch,
  type Tensor,
} from '@dlf/tensor-core';
import { checkResidual, floatResult } from './common.js';

/** A size given as one number for both spatial dims, or as [height, width]. */
export type Size2 = number | readonly [number, number];

/** Resolves a {@link Size2} argument to a pair, validating it. */
export function pair(name: string, v: Size2, min: number): [number, number] {
  if (typeof v === 'number') {
    checkInt(name, v, min);
    return [v, v];
  }
  if (!Array.isArray(v) || v.length !== 2) throw invalidParam(name, 'a number or a pair [h, w]', v, 'type');
  checkInt(`${name}[0]`, v[0], min);
  checkInt(`${name}[1]`, v[1], min);
  return [v[0], v[1]];
}

/** Options for {@link conv2d}. */
export interface Conv2dOptions {
  /** Step between kernel positions (default 1). */
  stride?: Size2;
  /** Zeros added on each side (default 0). */
  padding?: Size2;
  /** Spacing between kernel taps (default 1). */
  dilation?: Size2;
  /** Channel groups; must divide both channel counts (default 1). */
  groups?: number;
  /** Fuse a ReLU into the op. */
  relu?: boolean;
  /**
   * Also fuse a 2×2 max pooling with stride 2 after the ReLU (needs `relu`): the result is
   * `maxPool2d(relu(conv2d(...)), { kernelSize: 2 })`, computed without the full-size activation.
   */
  maxPool2x2?: boolean;
  /**
   * Add this tensor, of the output's shape, to the convolution before the ReLU (a residual join):
   * the result is `relu(add(conv2d(...), residual))` with `relu`, else `add(conv2d(...), residual)`.
   * Where the kernels can (Winograd layers, inference) it is added as the output is written.
   */
  residual?: Tensor;
}

/** The output size of a convolution or pooling window along one dim. */
export function convOutputSize(
  input: number,
  kernel: number,
  stride: number,
  padding: number,
  dilation = 1,
): number {
  return Math.floor((input + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

const CONV2D_OPTIONS = ['stride', 'padding', 'dilation', 'groups', 'relu', 'maxPool2x2', 'residual'];

/**
 * 2-D convolution (cross-correlation, as in PyTorch). x: (N, C, H, W), weight: (K, C/groups, R, S),
 * bias: (K) -> (N, K, P, Q).
 *
 * @example
 * ```ts
 * conv2d(randn([64, 3, 32, 32]), w, b, { padding: 1 }).shape; // [64, 8, 32, 32] for w [8, 3, 3, 3]
 * ```
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  checkFloatTensor(x, 'input');
  checkFloatTensor(weight, 'weight');
  checkOptions('conv2d options', options, CONV2D_OPTIONS);
  if (x.rank !== 4) throw invalidParam('input', 'a 4-D tensor (N, C, H, W)', `shape [${x.shape.join(', ')}]`);
  if (weight.rank !== 4)
    throw invalidParam('weight', 'a 4-D tensor (K, C/groups, R, S)', `shape [${weight.shape.join(', ')}]`);
  const [sh, sw] = pair('stride', options.stride ?? 1, 1);
  const [ph, pw] = pair('padding', options.padding ?? 0, 0);
  const [dh, dw] = pair('dilation', options.dilation ?? 1, 1);
  const groups = checkInt('groups', options.groups ?? 1, 1);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [k, cg, r, s] = weight.shape as [number, number, number, number];
  if (c % groups !== 0 || k % groups !== 0 || cg * groups !== c) {
    throw shapeMismatch(
      'conv2d',
      `input channels = weight.shape[1] × groups (${groups})`,
      x.shape,
      weight.shape,
    );
  }
  if (bias) {
    checkFloatTensor(bias, 'bias');
    if (bias.rank !== 1 || bias.shape[0] !== k)
      throw shapeMismatch('conv2d', 'bias (K) to match weight (K, ...)', bias.shape, weight.shape);
  }
  const p = convOutputSize(h, r, sh, ph, dh);
  const q = convOutputSize(w, s, sw, pw, dw);
  if (p < 1 || q < 1)
    throw shapeMismatch(
      'conv2d',
      'an input at least as large as the (dilated) kernel',
      x.shape,
      weight.shape,
    );
  const attributes = { strideH: sh, strideW: sw, padH: ph, padW: pw, dilationH: dh, dilationW: dw, groups };
  if (options.residual !== undefined) {
    const r = options.residual;
    if (options.maxPool2x2 === true)
      throw invalidParam('options.residual', 'not to come with maxPool2x2', 'both given');
    checkResidual(r, [n, k, p, q], "the output's");
    return floatResult(
      native.conv2dAdd(
        x.handle,
        weight.handle,
        bias ? bias.handle : null,
        attributes,
        r.handle,
        options.relu === true,
      ),
      [n, k, p, q],
    );
  }
  if (options.maxPool2x2 === true) {
    if (options.relu !== true)
      throw invalidParam('options.maxPool2x2', 'to come with relu: true', options.maxPool2x2);
    if (p < 2 || q < 2) {
      throw shapeMismatch('conv2d', 'an output of at least 2×2 to pool', x.shape, weight.shape);
    }
    return floatResult(
      native.conv2dReluMaxPool(x.handle, weight.handle, bias ? bias.handle : null, attributes),
      [n, k, Math.floor(p / 2), Math.floor(q / 2)],
    );
  }
  return floatResult(
    native.conv2d(x.handle, weight.handle, bias ? bias.handle : null, attributes, options.relu === true),
    [n, k, p, q],
  );
}
