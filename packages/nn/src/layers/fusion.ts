/** When consecutive layers run as one fused native op (shared by Sequential and GraphModule). */
import { isGradEnabled } from '@dlf/autograd';
import { nn as native } from '@dlf/native/nn';
import { add, mul, pow, reshape, sub, type Tensor, tidy } from '@dlf/tensor-core';
import * as F from '../functional.js';
import { floatResult } from '../ops/common.js';
import type { Module } from '../module.js';
import type { Conv2d } from './conv.js';
import type { Linear } from './linear.js';
import { BatchNorm2d } from './normalization.js';
import { MaxPool2d } from './pool.js';

/** A 2x2 max pool with stride 2 and no padding (the fused conv op can apply it). */
export function isMaxPool2x2(layer: Module | undefined): boolean {
  if (!(layer instanceof MaxPool2d)) return false;
  const { kernelSize: k, stride: s, padding: p } = layer;
  return k[0] === 2 && k[1] === 2 && s[0] === 2 && s[1] === 2 && p[0] === 0 && p[1] === 0;
}

/**
 * Whether a Conv2d, or a BatchNorm2d running itself, can pool its ReLU'd output of `x` fused: an
 * output of at least 2x2 (smaller inputs keep the separate ops and their errors).
 */
export function fusedPoolFits(layer: Conv2d | BatchNorm2d, x: Tensor): boolean {
  const shape = layer instanceof BatchNorm2d ? (x.rank === 4 ? x.shape : null) : convOutputShape(layer, x);
  return shape !== null && shape[2]! >= 2 && shape[3]! >= 2;
}

/** A BatchNorm2d that normalises with its running statistics now (evaluation mode): foldable into the conv before it. */
export function isFoldableBatchNorm(layer: Module | undefined): layer is BatchNorm2d {
  return (
    layer instanceof BatchNorm2d && !layer.training && layer.runningMean !== null && layer.runningVar !== null
  );
}

/**
 * `bn(conv(x))` in evaluation mode as one convolution: the normalisation folded into the weights
 * (w * s per output channel, s = gamma / sqrt(var + eps)) and the bias ((b - mean) * s + beta), so
 * inference skips a pass over the activations; `relu` and `maxPool2x2` fuse as in `Conv2d.forward`.
 * Without gradients, a layer with more weights than output values (a wide layer on small planes)
 * normalises its output instead: folding would pass over more floats than it saves.
 */
export function convWithFoldedBatchNorm(
  conv: Conv2d,
  bn: BatchNorm2d,
  x: Tensor,
  options: { relu: boolean; maxPool2x2: boolean; residual?: Tensor | undefined },
): Tensor {
  const out = convOutputShape(conv, x);
  if (!isGradEnabled() && out !== null && conv.weight.size > out.reduce((a, b) => a * b, 1)) {
    return tidy(() => {
      const y = bn.forward(conv.forward(x), {
        relu: options.relu,
        ...(options.residual ? { residual: options.residual } : {}),
      });
      return options.maxPool2x2 ? F.maxPool2d(y, { kernelSize: 2 }) : y;
    });
  }
  return tidy(() => {
    const [weight, bias] = isGradEnabled() ? foldComposed(conv, bn) : foldNative(conv, bn);
    return F.conv2d(x, weight, bias, {
      stride: conv.stride,
      padding: conv.padding,
      dilation: conv.dilation,
      groups: conv.groups,
      relu: options.relu,
      maxPool2x2: options.maxPool2x2,
      ...(options.residual ? { residual: options.residual } : {}),
    });
  });
}

// With grad mode on, gradients reach the conv's weight and the BatchNorm's affine parameters through
// the fold (a frozen-statistics fine-tune), so it is composed of differentiable ops.
function foldComposed(conv: Conv2d, bn: BatchNorm2d): [Tensor, Tensor] {
  const invStd = pow(add(bn.runningVar!, bn.eps), -0.5);
  const scale = bn.weight ? mul(bn.weight, invStd) : invStd;
  const weight = mul(conv.weight, reshape(scale, [conv.outChannels, 1, 1, 1]));
  const shifted = conv.bias ? sub(conv.bias, bn.runningMean!) : mul(bn.runningMean!, -1);
  const scaledBias = mul(shifted, scale);
  return [weight, bn.bias ? add(scaledBias, bn.bias) : scaledBias];
}

/**
 * Inference: one native call instead of eight small ops a layer (at batch 8 the ops took a fifth of
 * a ResNet-20 forward).
 */
export function foldNative(conv: Conv2d, bn: BatchNorm2d): [Tensor, Tensor] {
  const h = (t: Tensor | null) => (t ? t.handle : null);
  const [w, b] = native.foldBatchNorm(
    conv.weight.handle,
    h(conv.bias),
    h(bn.weight),
    h(bn.bias),
    bn.runningMean!.handle,
    bn.runningVar!.handle,
    bn.eps,
  );
  return [floatResult(w, conv.weight.shape), floatResult(b, [conv.outChannels])];
}

/**
 * What runs fused with a layer: a folded evaluation-mode BatchNorm2d, then (a conv's) residual
 * added, then a ReLU, then a 2x2 max pool (not with a residual).
 */
export interface FusedFollowers {
  bn: BatchNorm2d | null;
  relu: boolean;
  /** The ReLU is a ReLU6 (fused only into a BatchNorm2d that runs itself). */
  relu6?: boolean;
  /** The ReLU is a Hardswish (fused only into a BatchNorm2d that runs itself). */
  hardswish?: boolean;
  maxPool2x2: boolean;
  residual?: Tensor;
}

/** Runs a Conv2d, Linear or BatchNorm2d and its fused followers as one op (shared by Sequential and GraphModule). */
export function forwardFused(layer: Conv2d | Linear | BatchNorm2d, x: Tensor, f: FusedFollowers): Tensor {
  if (f.bn)
    return convWithFoldedBatchNorm(layer as Conv2d, f.bn, x, {
      relu: f.relu,
      maxPool2x2: f.maxPool2x2,
      residual: f.residual,
    });
  if (f.relu6) return (layer as BatchNorm2d).forward(x, { relu6: true });
  if (f.hardswish) return (layer as BatchNorm2d).forward(x, { hardswish: true });
  if (f.residual) return (layer as Conv2d).forward(x, { relu: f.relu, residual: f.residual });
  if (f.maxPool2x2) return (layer as Conv2d | BatchNorm2d).forward(x, { relu: true, maxPool2x2: true });
  return f.relu ? layer.forward(x, { relu: true }) : layer.forward(x);
}

/** The output shape of `conv` on `x` (null when x is not 4-D): whether a residual fits it. */
export function convOutputShape(conv: Conv2d, x: Tensor): number[] | null {
  if (x.rank !== 4) return null;
  const side = (d: 0 | 1): number =>
    F.convOutputSize(x.shape[2 + d]!, conv.kernelSize[d], conv.stride[d], conv.padding[d], conv.dilation[d]);
  return [x.shape[0]!, conv.outChannels, side(0), side(1)];
}
