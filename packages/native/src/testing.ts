/**
 * `@dlf/native/testing`: test-only switches that change how the calling thread computes, never
 * what, so tests can check one kernel path against another. Each applies to the calling thread
 * (the main thread or one worker thread) only; other threads keep their own settings.
 *
 * @example
 * ```ts
 * import { testing } from '@dlf/native/testing';
 * const previous = testing.setConvFastPath(false); // the general im2col + GEMM convolution
 * try {
 *   // ... compute the reference ...
 * } finally {
 *   testing.setConvFastPath(previous);
 * }
 * ```
 *
 * @packageDocumentation
 */
import type { Handle } from './binding.js';
import { loadNative } from './load.js';
import type { Conv2dAttributes } from './nn.js';

/** A convolution algorithm of the native chooser (see `TestingSlice.convPlan`). */
export type ConvAlgorithm =
  | 'dense'
  | 'depthwise'
  | 'grouped'
  | 'winograd'
  | 'direct'
  | 'channel-vectorised'
  | 'gemm';

/** The testing slice's entry points. */
export interface TestingSlice {
  /** Enables or disables the direct-convolution fast path; returns the previous setting. */
  setConvFastPath(enabled: boolean): boolean;
  /**
   * Enables or disables Winograd F(4x4,3x3) for stride-1 3x3 layers of 16 or more channels (off: they
   * take the direct or general path); returns the previous setting. Off also when the fast path is off.
   */
  setConvWinograd(enabled: boolean): boolean;
  /**
   * Enables or disables the depthwise kernels with channels in the vector lanes, taken by depthwise
   * layers (one output channel per input channel) whose output rows are narrower than a vector (off:
   * the per-plane kernels); returns the previous setting.
   */
  setConvDepthwiseBlocked(enabled: boolean): boolean;
  /**
   * The algorithm `conv2d` runs for each pass of a layer (input and weight tensors, the native
   * conv attributes) with the calling thread's settings: "dense", "depthwise", "grouped",
   * "winograd", "direct", "channel-vectorised" or "gemm".
   */
  convPlan(
    input: Handle,
    weight: Handle,
    attributes: Conv2dAttributes,
  ): { forward: ConvAlgorithm; inputGrad: ConvAlgorithm; weightGrad: ConvAlgorithm };
  /**
   * GFLOP/s one thread reaches running chained fused multiply-adds with the current kernel table for
   * about 50 ms: the machine's practical FMA peak per core (the benchmark's "% of peak").
   */
  measureFmaPeak(): number;
  /**
   * Switches the kernel table to "avx512", "avx2" or "base" (x86-64), "neon" or "base" (arm64);
   * false (and no change) when the CPU lacks the instructions. `DLF_SIMD` caps the table every thread starts with.
   */
  selectSimd(name: string): boolean;
}

/** The testing slice of the loaded addon. */
export const testing: TestingSlice = loadNative().testing;
