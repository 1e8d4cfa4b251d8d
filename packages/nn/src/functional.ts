/**
 * The functional API: neural-network ops (activations, linear, convolution, pooling, dropout, batch
 * norm), each validating its arguments and resolving shapes here, then making one native call that
 * runs the forward kernel and records the backward node. Tensor arithmetic (add, matmul, sum, softmax,
 * ...) belongs to `@dlf/tensor-core` and is re-exported here so `F.add` keeps working.
 */
import '@dlf/autograd';

export {
  abs,
  add,
  concat,
  div,
  exp,
  flatten,
  log,
  logSoftmax,
  matmul,
  max,
  mean,
  mul,
  neg,
  normalizeAxis,
  permute,
  pow,
  reshape,
  softmax,
  sqrt,
  sub,
  sum,
  transpose,
} from '@dlf/tensor-core';
export * from './ops/activations.js';
export { type Conv2dOptions, conv2d, convOutputSize, pair, type Size2 } from './ops/conv.js';
export { type DropoutOptions, dropout } from './ops/dropout.js';
export { type LinearOptions, linear } from './ops/linear.js';
export { type BatchNormOptions, batchNorm2d } from './ops/norm.js';
export { adaptiveAvgPool2d, avgPool2d, maxPool2d, type Pool2dOptions } from './ops/pool.js';
