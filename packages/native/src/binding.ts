/**
 * The typed surface of the native addon, shared by its slices. Every entry point is synchronous unless marked otherwise and
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
/** The addon as loaded: one object of entry points per slice (see `@dlf/native/<slice>`). */
export interface NativeBinding {
  /** The package version the binary was built from. */
  readonly version: string;
  readonly tensor: import('./tensor.js').TensorSlice;
  readonly math: import('./math.js').MathSlice;
  readonly autograd: import('./autograd.js').AutogradSlice;
  readonly nn: import('./nn.js').NnSlice;
  readonly loss: import('./loss.js').LossSlice;
  readonly optim: import('./optim.js').OptimSlice;
  readonly testing: import('./testing.js').TestingSlice;
}
