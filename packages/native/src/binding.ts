/**
 * The typed surface of the native addon. Every entry point is synchronous unless marked otherwise and
 * throws `TypeError` for arguments of the wrong kind, `RangeError` for out-of-range values and shape
 * mismatches, and `Error` for everything else (a disposed tensor, a second backward without
 * `retainGraph`). Native code never aborts: every failure arrives as one of these JS errors.
 *
 * @packageDocumentation
 */

/** An opaque reference to a native tensor. Only the addon creates or reads these. */
export type Handle = { readonly __dlfHandle: unique symbol };

/** Element type codes shared with the addon. */
export const DTypeCode = { F32: 0, I32: 1, U8: 2 } as const;
/** One of the values of {@link DTypeCode}. */
export type DTypeCode = (typeof DTypeCode)[keyof typeof DTypeCode];

/**
 * Native allocator statistics. Live blocks, bytes and system allocations count the tensors this
 * thread (main thread or worker) created, wherever they are freed; the reuse cache is the process's.
 */
export interface NativeMemoryStats {
  /** Blocks of tensor memory alive, created by this thread. */
  liveBlocks: number;
  /** Bytes of tensor memory alive, created by this thread (rounded up to 64-byte blocks). */
  liveBytes: number;
  /** Bytes held in the process-wide reuse cache, ready for the next allocation of the same size. */
  cachedBytes: number;
  /** This thread's allocations that reached the system allocator since it loaded the addon. */
  systemAllocations: number;
}

/** The layout of a native tensor, for tests and debugging. */
export interface NativeLayout {
  shape: number[];
  strides: number[];
  offset: number;
  dtype: DTypeCode;
  contiguous: boolean;
  sharesStorageWith: number;
}

/** Typed arrays the addon accepts and returns. */
export type NativeTypedArray = Float32Array | Int32Array | Uint8Array;

/** The addon's entry points, grouped by the slice that owns them. */
export interface NativeBinding {
  /** The package version the binary was built from. */
  readonly version: string;

  // tensor/
  /** Uninitialised contiguous tensor. */
  empty(shape: readonly number[], dtype: DTypeCode): Handle;
  /** Tensor filled with one value. */
  full(shape: readonly number[], dtype: DTypeCode, value: number): Handle;
  /** Copies a typed array of the dtype's kind; RangeError if its length is not the shape's size. */
  fromTypedArray(data: NativeTypedArray, shape: readonly number[], dtype: DTypeCode): Handle;
  /** Copies a typed array into a contiguous tensor of the same dtype and size. */
  write(h: Handle, data: NativeTypedArray): void;
  /** `start + step * i` for i in [0, length). */
  arange(start: number, step: number, length: number, dtype: DTypeCode): Handle;
  /** Fills from the Philox stream: kind 0 uniform [a,b), 1 normal(a, b), 2 integer [a,b), 3 Bernoulli(a). */
  randomFill(h: Handle, kind: 0 | 1 | 2 | 3, a: number, b: number, seed: number, offset: number): void;
  /** Differentiable reshape (a view when contiguous). */
  reshape(h: Handle, shape: readonly number[]): Handle;
  /** Differentiable view of rows [start, start + length) along axis 0. */
  narrow(h: Handle, start: number, length: number): Handle;
  /** Differentiable axis permutation (a view). */
  permute(h: Handle, dims: readonly number[]): Handle;
  /** Differentiable contiguous copy (the same tensor when already contiguous). */
  contiguous(h: Handle): Handle;
  /** Differentiable copy that owns its memory. */
  clone(h: Handle): Handle;
  /** Converts dtype, multiplying by `scale`; differentiable for float32 to float32. */
  cast(h: Handle, dtype: DTypeCode, scale: number): Handle;
  /** A copy of the elements in row-major order. */
  toTypedArray(h: Handle): NativeTypedArray;
  /** A zero-copy view of a contiguous tensor's memory; keeps that memory alive while referenced. */
  dataView(h: Handle): NativeTypedArray;
  /** The value of a one-element tensor. */
  item(h: Handle): number;
  /** Layout facts for tests. */
  layout(h: Handle): NativeLayout;
  /** Drops the handle's reference to its tensor; idempotent. */
  release(h: Handle): void;
  /** Allocator statistics. */
  memoryStats(): NativeMemoryStats;
  /** Frees the allocator's reuse cache. */
  releaseCachedMemory(): void;
  /** Threads this thread's parallel ops use, itself included. */
  numThreads(): number;
  /** Sets this thread's count (1..256); other worker threads keep theirs. */
  setNumThreads(n: number): void;
  /** This thread's kernel table: "avx512", "avx2" or "base". */
  simd(): string;
  /** Switches this thread's kernel table; false when the CPU lacks the instructions. */
  selectSimd(name: string): boolean;

  // autograd/
  setRequiresGrad(h: Handle, flag: boolean): void;
  requiresGrad(h: Handle): boolean;
  isLeaf(h: Handle): boolean;
  gradFnName(h: Handle): string | null;
  grad(h: Handle): Handle | null;
  setGrad(h: Handle, grad: Handle | null): void;
  /** Runs backward from `h` in one call; `grad` may be null for one-element tensors. */
  backward(h: Handle, grad: Handle | null, retainGraph: boolean): void;
  detach(h: Handle): Handle;
  /** Sets grad mode and returns the previous mode. */
  setGradEnabled(enabled: boolean): boolean;
  isGradEnabled(): boolean;

  // nn/ (differentiable ops; @dlf/nn validates arguments and documents each op)
  /** op: 0 add, 1 sub, 2 mul, 3 div; NumPy broadcasting. */
  binary(op: 0 | 1 | 2 | 3, a: Handle, b: Handle): Handle;
  /** op: 0 neg, 1 exp, 2 log, 3 sqrt, 4 relu, 5 sigmoid, 6 tanh, 7 leakyRelu(param), 8 pow(param), 9 abs. */
  unary(op: number, x: Handle, param: number): Handle;
  /** x * scale + shift. */
  affine(x: Handle, scale: number, shift: number): Handle;
  /** Sum (or mean) over sorted unique axes. */
  sum(x: Handle, axes: readonly number[], keepDims: boolean, mean: boolean): Handle;
  /** Max over one axis. */
  max(x: Handle, axis: number, keepDims: boolean): Handle;
  /** Softmax or log-softmax over one axis. */
  softmax(x: Handle, axis: number, log: boolean): Handle;
  concat(xs: readonly Handle[], axis: number): Handle;
  /** (..., M, K) @ (..., K, N) with broadcast batch dims. */
  matmul(a: Handle, b: Handle): Handle;
  /** x @ w^T + b, ReLU fused when `relu`. */
  linear(x: Handle, w: Handle, b: Handle | null, relu: boolean): Handle;
  /** params: [strideH, strideW, padH, padW, dilationH, dilationW, groups]. */
  conv2d(x: Handle, w: Handle, b: Handle | null, params: readonly number[], relu: boolean): Handle;
  /** maxPool2d(relu(conv2d(...)), 2x2, stride 2) as one op where the fast kernels can pool. */
  conv2dReluMaxPool(x: Handle, w: Handle, b: Handle | null, params: readonly number[]): Handle;
  /** Enables or disables this thread's direct-convolution fast path (tests only); returns the previous setting. */
  setConvFastPath(enabled: boolean): boolean;
  /** params: [kernelH, kernelW, strideH, strideW, padH, padW]. */
  maxPool2d(x: Handle, params: readonly number[]): Handle;
  avgPool2d(x: Handle, params: readonly number[]): Handle;
  adaptiveAvgPool2d(x: Handle, outH: number, outW: number): Handle;
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
  ): Handle;

  // loss/ (@dlf/loss validates arguments and documents each loss)
  /**
   * Fused log-softmax + NLL on logits (N, C) against int32 targets (N). reduction: 0 none (N), 1 mean
   * (weighted by the targets' class weights), 2 sum; differentiable in the logits.
   */
  crossEntropy(
    logits: Handle,
    targets: Handle,
    weight: Handle | null,
    reduction: 0 | 1 | 2,
    ignoreIndex: number,
    labelSmoothing: number,
  ): Handle;
  /** -weight[t] * logProbs[i, t] on log-probabilities (N, C); reductions as for crossEntropy. */
  nllLoss(
    logProbs: Handle,
    targets: Handle,
    weight: Handle | null,
    reduction: 0 | 1 | 2,
    ignoreIndex: number,
  ): Handle;
  /** (input - target)^2 for tensors of one shape; differentiable in both. */
  mseLoss(input: Handle, target: Handle, reduction: 0 | 1 | 2): Handle;
  /**
   * Stable sigmoid + binary cross-entropy; targets have the logits' shape, `weight` and `posWeight`
   * broadcast to it. Differentiable in logits and targets (not in the weights).
   */
  bceWithLogits(
    logits: Handle,
    targets: Handle,
    weight: Handle | null,
    posWeight: Handle | null,
    reduction: 0 | 1 | 2,
  ): Handle;
  /**
   * The k largest values along the last axis, largest first (NaN largest, ties to the lower index):
   * [values (..., k) float32, indices (..., k) int32]. Not differentiable.
   */
  topk(x: Handle, k: number): [Handle, Handle];
  /** Rows of logits (N, C) whose int32 target is among the k largest (in topk's order). */
  countCorrect(logits: Handle, targets: Handle, k: number): number;

  // optim/ (@dlf/optim owns the state; the parameters are updated in place)
  /**
   * One SGD step over every parameter with a gradient. `buffers` holds the momentum buffers (null:
   * none yet). Returns the buffers this call created (null elsewhere); the caller keeps them.
   */
  sgdStep(
    params: readonly Handle[],
    buffers: readonly (Handle | null)[],
    lr: number,
    momentum: number,
    dampening: number,
    nesterov: boolean,
    weightDecay: number,
  ): (Handle | null)[];
  /**
   * One Adam (`decoupled` false) or AdamW (`decoupled` true) step over every parameter with a gradient.
   * The moment arrays hold the state per parameter (null: none yet); `steps` holds each parameter's
   * step count and is incremented in place for every parameter updated. Returns, per parameter, the
   * state this call created (`[expAvg, expAvgSq, maxExpAvgSq | null]`) or null.
   */
  adamStep(
    params: readonly Handle[],
    expAvg: readonly (Handle | null)[],
    expAvgSq: readonly (Handle | null)[],
    maxExpAvgSq: readonly (Handle | null)[],
    steps: Float64Array,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    amsgrad: boolean,
    decoupled: boolean,
  ): ([Handle, Handle, Handle | null] | null)[];
}
