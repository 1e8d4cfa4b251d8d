/**
 * Training through BatchNorm2d (+ ReLU, ReLU6 or Hardswish) then a depthwise Conv2d as one native op
 * that goes channel by channel: in depthwise-separable nets (MobileNet) the pair sits on the widest
 * activations, and as two ops the normalised tensor and its gradient each went to memory and back.
 * The op gives the same bits as the two ops.
 */
import { nn as native } from '@dlf/native/nn';
import type { Tensor } from '@dlf/tensor-core';
import { floatResult } from '../ops/common.js';
import { convOutputSize } from '../ops/conv.js';
import type { Module } from '../module.js';
import { Hardswish, ReLU, ReLU6 } from './activation.js';
import { Conv2d } from './conv.js';
import { BatchNorm2d } from './normalization.js';

/** A planned pair: the layers, the activation code (0 none, 1 ReLU, 2 ReLU6, 3 hardswish), and the model positions they cover. */
export interface BnDepthwise {
  bn: BatchNorm2d;
  conv: Conv2d;
  activation: 0 | 1 | 2 | 3;
  positions: number[];
}

function activationCode(layer: Module | undefined): 1 | 2 | 3 | null {
  if (layer instanceof ReLU) return 1;
  if (layer instanceof ReLU6) return 2;
  if (layer instanceof Hardswish) return 3;
  return null;
}

function convAttributes(c: Conv2d) {
  return {
    strideH: c.stride[0],
    strideW: c.stride[1],
    padH: c.padding[0],
    padW: c.padding[1],
    dilationH: c.dilation[0],
    dilationW: c.dilation[1],
    groups: c.groups,
  };
}

/**
 * The pair starting at position p (a BatchNorm2d normalising with batch statistics, an optional
 * activation, then a depthwise Conv2d: groups = in = out channels), following `next` (the position
 * that alone reads a position's value, or -1), when the native op takes x's shape; otherwise null
 * (then the layers run as they are, with their own checks and errors).
 */
export function planBnDepthwise(
  layers: readonly Module[],
  p: number,
  x: Tensor,
  next: (p: number) => number,
): BnDepthwise | null {
  const bn = layers[p];
  if (!(bn instanceof BatchNorm2d) || !(bn.training || bn.runningMean === null)) return null;
  if (x.rank !== 4 || x.dtype !== 'float32' || x.shape[1] !== bn.numFeatures) return null;
  const positions = [p];
  let at = next(p);
  const activation = activationCode(layers[at]) ?? 0;
  if (activation !== 0) {
    positions.push(at);
    at = next(at);
  }
  const conv = layers[at];
  if (!(conv instanceof Conv2d) || conv.groups !== bn.numFeatures || conv.inChannels !== bn.numFeatures)
    return null;
  if (conv.outChannels !== conv.inChannels) return null;
  const [r, s] = conv.kernelSize;
  if (!native.batchNormDepthwiseApplies([...x.shape], [conv.outChannels, 1, r, s], convAttributes(conv)))
    return null;
  positions.push(at);
  return { bn, conv, activation, positions };
}

/** Runs a planned pair on x: conv(act(bn(x))), the BatchNorm's running statistics updated as its forward does. */
export function forwardBnDepthwise(pair: BnDepthwise, x: Tensor): Tensor {
  const { bn, conv } = pair;
  const h = (t: Tensor | null) => (t ? t.handle : null);
  const side = (d: 0 | 1) =>
    convOutputSize(x.shape[2 + d]!, conv.kernelSize[d], conv.stride[d], conv.padding[d], conv.dilation[d]);
  return floatResult(
    native.batchNormDepthwise(
      x.handle,
      h(bn.weight),
      h(bn.bias),
      h(bn.runningMean),
      h(bn.runningVar),
      bn.momentum,
      bn.eps,
      pair.activation,
      conv.weight.handle,
      h(conv.bias),
      convAttributes(conv),
    ),
    [x.shape[0]!, conv.outChannels, side(0), side(1)],
  );
}
