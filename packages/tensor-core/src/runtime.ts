import { tensor as native } from '@dlf/native/tensor';
import { checkInt, invalidParam } from './errors.js';

/** Threads used by native kernels (the calling thread included). */
export function getNumThreads(): number {
  return native.numThreads();
}

/**
 * Sets the number of threads used by native kernels (default: `DLF_NUM_THREADS` or the machine's cores).
 *
 * @example
 * ```ts
 * setNumThreads(1); // single-threaded, e.g. inside a worker pool of your own
 * ```
 */
export function setNumThreads(n: number): void {
  native.setNumThreads(checkInt('threads', n, 1, 256));
}

/** The instruction set the kernels use: 'avx512', 'avx2' or 'base' on x86-64; 'neon' or 'base' on arm64. */
export function getSimd(): string {
  return native.simd();
}

/**
 * Switches the kernel instruction set, e.g. to compare paths. Throws when the CPU lacks it.
 * `DLF_SIMD=avx2` in the environment caps the choice at start-up.
 */
export function setSimd(name: 'avx512' | 'avx2' | 'neon' | 'base'): void {
  if (name !== 'avx512' && name !== 'avx2' && name !== 'neon' && name !== 'base') {
    throw invalidParam('simd', "'avx512', 'avx2', 'neon' or 'base'", name, 'type');
  }
  if (!native.selectSimd(name)) throw invalidParam('simd', 'an instruction set this CPU supports', name);
}

/** Frees memory the allocator keeps for reuse. */
export function releaseCachedMemory(): void {
  native.releaseCachedMemory();
}
