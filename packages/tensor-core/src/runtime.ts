import { tensor as native } from '@dlf/native/tensor';
import { testing } from '@dlf/native/testing';
import { checkInt, invalidParam } from './errors.js';

/** Threads this thread's native kernels use (itself included). Each worker thread has its own count. */
export function getNumThreads(): number {
  return native.numThreads();
}

/**
 * Sets the number of threads this thread's native kernels use (default: `DLF_NUM_THREADS` or the
 * machine's cores). Other worker threads keep their own count; all share one pool of native threads.
 *
 * @example
 * ```ts
 * setNumThreads(1); // single-threaded, e.g. inside a worker pool of your own
 * ```
 */
export function setNumThreads(n: number): void {
  native.setNumThreads(checkInt('threads', n, 1, 256));
}

/** The instruction set this thread's kernels use: 'avx512', 'avx2' or 'base'. */
export function getSimd(): string {
  return native.simd();
}

/**
 * Switches the kernel instruction set of this thread (other worker threads keep theirs), e.g. to
 * compare paths or to check a result on the portable baseline. Throws when the CPU lacks it.
 * `DLF_SIMD=avx2` in the environment caps the choice every thread starts with. A diagnostic switch:
 * it rests on the addon's test-only entry point (`@dlf/native/testing`).
 *
 * @example
 * ```ts
 * const previous = getSimd();
 * setSimd('base');
 * // ... compute on the baseline kernels ...
 * setSimd(previous as 'avx512' | 'avx2' | 'base');
 * ```
 */
export function setSimd(name: 'avx512' | 'avx2' | 'base'): void {
  if (name !== 'avx512' && name !== 'avx2' && name !== 'base') {
    throw invalidParam('simd', "'avx512', 'avx2' or 'base'", name, 'type');
  }
  if (!testing.selectSimd(name)) throw invalidParam('simd', 'an instruction set this CPU supports', name);
}

/** Frees memory the allocator keeps for reuse. */
export function releaseCachedMemory(): void {
  native.releaseCachedMemory();
}
