/**
 * `@dlf/native/nn`: neural-network ops (activations, linear, convolution, pooling, dropout, batch norm), wrapped by `@dlf/nn`.
 *
 * @packageDocumentation
 */
import type { Handle } from './binding.js';
import type { ActivationOp, UnaryOpAttributes, UnaryOpCode } from './generated/ops.js';
import { loadNative } from './load.js';

/** Resolved convolution attributes. */
export interface Conv2dAttributes {
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
  groups: number;
}

/** Resolved pooling attributes. */
export interface Pool2dAttributes {
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
}

/** The nn slice's entry points. */
export interface NnSlice {
  /** x @ w^T + b, ReLU fused when `relu`. */
  linear(x: Handle, w: Handle, b: Handle | null, relu: boolean): Handle;
  /** An activation of the op table (src/ops.def). */
  activation<Op extends ActivationOp>(
    op: (typeof UnaryOpCode)[Op],
    x: Handle,
    attributes: UnaryOpAttributes[Op],
  ): Handle;
  /** 2-D convolution, ReLU fused when `relu`. */
  conv2d(x: Handle, w: Handle, b: Handle | null, attributes: Conv2dAttributes, relu: boolean): Handle;
  /** conv2d(...) + residual (then ReLU when `relu`), the residual of the output's shape, as one op where the kernels can add it. */
  conv2dAdd(
    x: Handle,
    w: Handle,
    b: Handle | null,
    attributes: Conv2dAttributes,
    residual: Handle,
    relu: boolean,
  ): Handle;
  /** maxPool2d(relu(conv2d(...)), 2x2, stride 2) as one op where the fast kernels can pool. */
  conv2dReluMaxPool(x: Handle, w: Handle, b: Handle | null, attributes: Conv2dAttributes): Handle;
  maxPool2d(x: Handle, attributes: Pool2dAttributes): Handle;
  avgPool2d(x: Handle, attributes: Pool2dAttributes): Handle;
  adaptiveAvgPool2d(x: Handle, outH: number, outW: number): Handle;
  /** max(a + b, 0) for a and b of one shape, in one pass (a residual block's join). */
  addRelu(a: Handle, b: Handle): Handle;
  dropout(x: Handle, p: number, seed: number, offset: number): Handle;
  batchNorm2d(
    x: Handle,
    weight: Handle | null,
    bias: Handle | null,
    runningMean: Handle | null,
    runningVar: Handle | null,
    training: boolean,
    momentum: number,
    eps: number,
    relu?: boolean,
    residual?: Handle | null,
    /** The fused ReLU's upper bound (6 for ReLU6; +inf, the default, for ReLU). */
    reluClip?: number,
    /** Then a 2x2 / stride 2 max pool (with the ReLU, without a residual): output (N, C, H/2, W/2). */
    maxPool2x2?: boolean,
    /** A hardswish in place of the ReLU (without a residual or a pool). */
    hardswish?: boolean,
  ): Handle;
  /**
   * An evaluation-mode BatchNorm2d folded into the conv before it, in one call: [w * s, (b - mean) * s + beta]
   * per output channel, s = gamma / sqrt(var + eps). Records no graph (call it with grad mode off).
   */
  /**
   * x through convolutions in turn, image by image, each intermediate image kept in a thread's scratch:
   * stage i is conv2d with weights[i], biases[i] and attributes params[7i..7i+7) (strideH, strideW, padH,
   * padW, dilationH, dilationW, groups), a 1x1 conv (stride 1, no padding, one group) or a depthwise one
   * (groups = channels), then activation code activations[i] (0 none, 1 ReLU, 2 ReLU6, 3 hardswish). A residual (of
   * the output's shape) is added by the last stage before its activation. Inference only: records no graph.
   */
  convChain(
    x: Handle,
    weights: Handle[],
    biases: Handle[],
    params: Int32Array | number[],
    activations: Int32Array | number[],
    residual: Handle | null,
  ): Handle;
  /**
   * conv2d(act(batchNorm2d(x, ..., training: true)), convWeight, convBias) for a depthwise convWeight
   * (C, 1, R, S) with groups = C, then, given `post` (weight, bias, runningMean, runningVar, momentum,
   * eps, activation of a second batch norm; no convBias), that batch norm and its activation: channel by
   * channel without the normalised tensors; the same bits as the ops (which it runs where
   * batchNormDepthwiseApplies is false). Activation code: 0 none, 1 ReLU, 2 ReLU6, 3 hardswish.
   */
  batchNormDepthwise(
    x: Handle,
    weight: Handle | null,
    bias: Handle | null,
    runningMean: Handle | null,
    runningVar: Handle | null,
    momentum: number,
    eps: number,
    activation: number,
    convWeight: Handle,
    convBias: Handle | null,
    attributes: Conv2dAttributes,
    ...post: [] | [Handle | null, Handle | null, Handle | null, Handle | null, number, number, number]
  ): Handle;
  /** Whether batchNormDepthwise runs fused for these shapes (planes the depthwise plane kernels take). */
  batchNormDepthwiseApplies(xShape: number[], wShape: number[], attributes: Conv2dAttributes): boolean;
  foldBatchNorm(
    weight: Handle,
    bias: Handle | null,
    gamma: Handle | null,
    beta: Handle | null,
    runningMean: Handle,
    runningVar: Handle,
    eps: number,
  ): [Handle, Handle];
}

/** The nn slice of the loaded addon. */
export const nn: NnSlice = loadNative().nn;
