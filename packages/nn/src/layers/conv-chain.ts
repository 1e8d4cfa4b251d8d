/**
 * Inference through runs of 1x1 and depthwise convolutions (each with an evaluation-mode BatchNorm2d
 * and an optional ReLU, ReLU6 or Hardswish) as one native op that takes the batch image by image: the blocks of
 * depthwise-separable nets (MobileNet's expand -> depthwise -> project) widen the channels several
 * times between their ends, and layer by layer every widened activation went to memory and back.
 */
import { isGradEnabled } from '@dlf/autograd';
import { nn as native } from '@dlf/native/nn';
import { getNumThreads, type Tensor, tidy } from '@dlf/tensor-core';
import { floatResult } from '../ops/common.js';
import { convOutputSize } from '../ops/conv.js';
import type { Module } from '../module.js';
import { Hardswish, ReLU, ReLU6 } from './activation.js';
import { Conv2d } from './conv.js';
import { foldNative, isFoldableBatchNorm } from './fusion.js';
import type { BatchNorm2d } from './normalization.js';

/** One stage: a conv, the BatchNorm2d folded into it, the activation code (0 none, 1 ReLU, 2 ReLU6, 3 hardswish). */
interface ChainUnit {
  conv: Conv2d;
  bn: BatchNorm2d;
  activation: 0 | 1 | 2 | 3;
}

/**
 * A run of units, the model positions (layer indices) of their layers in order, and of their convs,
 * and the shape of its output for the input it was planned for.
 */
export interface ConvChain {
  units: ChainUnit[];
  positions: number[];
  convs: number[];
  outputShape: number[];
}

// The depthwise kernels' tap limit (kDwMaxTaps in the native kernels).
const MAX_TAPS = 64;
// Each image's 1x1 conv is a GEMM as wide as its plane: below 8x8 its column panels are part empty
// (with chains through MobileNetV2's 4x4 stages, 160 -> 960 -> 160 channels, the preset's inference
// took 1.03x the time of layer by layer; stopping at 8x8, 0.80x), while a small plane's activations
// are small enough to stay in cache between layers anyway.
const MIN_PLANE = 64;

function isPointwise(c: Conv2d): boolean {
  return (
    c.groups === 1 &&
    c.kernelSize[0] === 1 &&
    c.kernelSize[1] === 1 &&
    c.stride[0] === 1 &&
    c.stride[1] === 1 &&
    c.padding[0] === 0 &&
    c.padding[1] === 0
  );
}

function isDepthwise(c: Conv2d): boolean {
  return (
    c.groups > 1 &&
    c.groups === c.inChannels &&
    c.outChannels === c.inChannels &&
    c.kernelSize[0] * c.kernelSize[1] <= MAX_TAPS
  );
}

/**
 * The chain of (Conv2d, evaluation-mode BatchNorm2d, optional ReLU / ReLU6 / Hardswish) units starting at
 * position p, following `next` (the position that alone reads a position's value, or -1), when
 * running it as one op pays: inference (grad mode off), at least two units of which one is
 * depthwise, each conv 1x1 or depthwise, and enough images in x to share among the threads (the op
 * parallelises over images only). `stop(conv)`: the unit at that conv position must be the last (or,
 * returning 'exclude', not be in the chain). Otherwise null.
 */
export function planConvChain(
  layers: readonly Module[],
  p: number,
  x: Tensor,
  next: (p: number) => number,
  stop: (conv: number) => 'last' | 'exclude' | null = () => null,
): ConvChain | null {
  if (!(layers[p] instanceof Conv2d) || isGradEnabled() || x.rank !== 4 || x.shape[0]! < 4 * getNumThreads())
    return null;
  const units: ChainUnit[] = [];
  const positions: number[] = [];
  const convs: number[] = [];
  let at = p;
  let channels = x.shape[1]!;
  let [h, w] = [x.shape[2]!, x.shape[3]!];
  while (at >= 0) {
    const conv = layers[at];
    const bnAt = next(at);
    const bn = layers[bnAt];
    if (!(conv instanceof Conv2d) || !isFoldableBatchNorm(bn) || conv.inChannels !== channels) break;
    if (!isPointwise(conv) && !isDepthwise(conv)) break;
    const oh = convOutputSize(h, conv.kernelSize[0], conv.stride[0], conv.padding[0], conv.dilation[0]);
    const ow = convOutputSize(w, conv.kernelSize[1], conv.stride[1], conv.padding[1], conv.dilation[1]);
    if (h * w < MIN_PLANE || !(oh * ow >= MIN_PLANE)) break;
    const ending = stop(at);
    if (ending === 'exclude') break;
    const actAt = next(bnAt);
    const act = layers[actAt];
    const activation = act instanceof ReLU ? 1 : act instanceof ReLU6 ? 2 : act instanceof Hardswish ? 3 : 0;
    units.push({ conv, bn, activation });
    positions.push(at, bnAt, ...(activation ? [actAt] : []));
    convs.push(at);
    channels = conv.outChannels;
    [h, w] = [oh, ow];
    if (ending === 'last') break;
    at = next(activation ? actAt : bnAt);
  }
  if (units.length < 2 || !units.some((u) => isDepthwise(u.conv))) return null;
  return { units, positions, convs, outputShape: [x.shape[0]!, channels, h, w] };
}

/**
 * Runs a chain planned for x on x (x itself is not disposed). With a residual (of the chain's
 * `outputShape`), the last unit adds it and then applies a ReLU when `residual.relu` (a residual
 * join's) in place of its own activation.
 */
export function forwardConvChain(
  chain: ConvChain,
  x: Tensor,
  residual?: { tensor: Tensor; relu: boolean },
): Tensor {
  return tidy(() => {
    const weights: Tensor[] = [];
    const biases: Tensor[] = [];
    const params: number[] = [];
    for (const { conv, bn } of chain.units) {
      const [w, b] = foldNative(conv, bn);
      weights.push(w);
      biases.push(b);
      params.push(...conv.stride, ...conv.padding, ...conv.dilation, conv.groups);
    }
    const activations = chain.units.map((u) => u.activation as number);
    if (residual) activations[activations.length - 1] = residual.relu ? 1 : 0;
    // Int32Arrays: a plain array argument is capped at 64 entries, 9 units' parameters.
    const handle = native.convChain(
      x.handle,
      weights.map((w) => w.handle),
      biases.map((b) => b.handle),
      Int32Array.from(params),
      Int32Array.from(activations),
      residual ? residual.tensor.handle : null,
    );
    return floatResult(handle, chain.outputShape);
  });
}
