/**
 * `@dlf/native/tensor`: storage, creation, views, random numbers and the runtime (threads, SIMD, memory), wrapped by `@dlf/tensor-core`.
 *
 * @packageDocumentation
 */
import type { DTypeCode, Handle, NativeLayout, NativeMemoryStats, NativeTypedArray } from './binding.js';
import { loadNative } from './load.js';

/** The tensor slice's entry points. */
export interface TensorSlice {
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
  /** This thread's kernel table: "avx512", "avx2" or "base" (`@dlf/native/testing` switches it). */
  simd(): string;
}

/** The tensor slice of the loaded addon. */
export const tensor: TensorSlice = loadNative().tensor;
