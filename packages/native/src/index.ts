/**
 * `@dlf/native`: the one C++ addon under every dlf package. Application code rarely imports it
 * directly; `@dlf/tensor-core` and the packages above it wrap its entry points.
 *
 * @example
 * ```ts
 * import { native } from '@dlf/native';
 * console.log(native.simd(), native.numThreads());
 * ```
 *
 * @packageDocumentation
 */
import { loadNative } from './load.js';

export type { Handle, NativeBinding, NativeLayout, NativeMemoryStats, NativeTypedArray } from './binding.js';
export { DTypeCode } from './binding.js';
export { loadNative } from './load.js';

/** The loaded addon (loaded on first import of this module). */
export const native = loadNative();
