/**
 * Training through BatchNorm2d (+ ReLU, ReLU6 or Hardswish) then a depthwise Conv2d as one native op
 * that goes channel by channel: in depthwise-separable nets (MobileNet) the pair sits on the widest
 * activations, and as two ops the normalised tensor and its gradient each went to memory and back.
 * The op gives the same bits as the two ops.
 */
import { nn as native } from '@dlf/native/nn';
import type { Tensor } from '@dlf/tensor-core';
import { floatResult } from '../ops/common.js';
import type { Module } from '../module.js';
import { Hardswish, ReLU, ReLU6 } from './activation.js';
import { Conv2d } from './conv.js';
import { convOutputShape } from './fusion.js';
import { BatchNorm2d } from './normalization.js';

/** A batch norm of the fused op and its activation code (0 none, 1 ReLU, 2 ReLU6, 3 hardswish). */
interface NormUnit {
  bn: BatchNorm2d;
  activation: 0 | 1 | 2 | 3;
}

/** A planned op: the batch norm before the conv, the conv, the one after it (or null), and the model positions they cover. */
export interface BnDepthwise {
  pre: NormUnit;
  conv: Conv2d;
  post: NormUnit | null;
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

// A BatchNorm2d that normalises with batch statistics (training, or no running statistics) over `channels`.
function trainingNorm(layer: Module | undefined, channels: number): layer is BatchNorm2d {
  return (
    layer instanceof BatchNorm2d &&
    (layer.training || layer.runningMean === null) &&
    layer.numFeatures === channels
  );
}

/**
 * The op starting at position p: a BatchNorm2d normalising with batch statistics, an optional
 * activation, a depthwise Conv2d (groups = in = out channels), and, when they follow and the conv has
 * no bias, a second such BatchNorm2d and activation; following `next` (the position that alone reads
 * a position's value, or -1), when the native op takes x's shape. Otherwise null (then the layers run
 * as they are, with their own checks and errors).
 */
export function planBnDepthwise(
  layers: readonly Module[],
  p: number,
  x: Tensor,
  next: (p: number) => number,
): BnDepthwise | null {
  if (x.rank !== 4 || x.dtype !== 'float32') return null;
  const channels = x.shape[1]!;
  const bn = layers[p];
  if (!trainingNorm(bn, channels)) return null;
  const positions = [p];
  // The activation after position `at`, if any: its code, its position added.
  const unit = (norm: BatchNorm2d, at: number): [NormUnit, number] => {
    const after = next(at);
    const activation = activationCode(layers[after]);
    if (activation === null) return [{ bn: norm, activation: 0 }, at];
    positions.push(after);
    return [{ bn: norm, activation }, after];
  };
  const [pre, preEnd] = unit(bn, p);
  const at = next(preEnd);
  const conv = layers[at];
  if (!(conv instanceof Conv2d) || conv.groups !== channels || conv.inChannels !== channels) return null;
  if (conv.outChannels !== channels) return null;
  const [r, s] = conv.kernelSize;
  if (!native.batchNormDepthwiseApplies([...x.shape], [channels, 1, r, s], convAttributes(conv))) return null;
  positions.push(at);
  const bn2 = layers[next(at)];
  if (conv.bias !== null || !trainingNorm(bn2, channels)) return { pre, conv, post: null, positions };
  positions.push(next(at));
  const [post] = unit(bn2, next(at));
  return { pre, conv, post, positions };
}

/** Runs a planned op on x: its layers' forward, the BatchNorms' running statistics updated as theirs do. */
export function forwardBnDepthwise(plan: BnDepthwise, x: Tensor): Tensor {
  const { conv } = plan;
  const h = (t: Tensor | null) => (t ? t.handle : null);
  const norm = ({ bn, activation }: NormUnit) =>
    [h(bn.weight), h(bn.bias), h(bn.runningMean), h(bn.runningVar), bn.momentum, bn.eps, activation] as const;
  return floatResult(
    native.batchNormDepthwise(
      x.handle,
      ...norm(plan.pre),
      conv.weight.handle,
      h(conv.bias),
      convAttributes(conv),
      ...(plan.post ? norm(plan.post) : ([] as const)),
    ),
    convOutputShape(conv, x)!,
  );
}
