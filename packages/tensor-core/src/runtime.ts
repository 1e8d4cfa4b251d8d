import { tensor as native } from '@dlf/native/tensor';
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
 * compare paths. Throws when the CPU lacks it. `DLF_SIMD=avx2` in the environment caps the choice
 * at start-up.
 */
export function setSimd(name: 'avx512' | 'avx2' | 'base'): void {
  if (name !== 'avx512' && name !== 'avx2' && name !== 'base') {
    throw invalidParam('simd', "'avx512', 'avx2' or 'base'", name, 'type');
  }
  if (!native.selectSimd(name)) throw invalidParam('simd', 'an instruction set this CPU supports', name);
}

/** Frees memory the allocator keeps for reuse. */
export function releaseCachedMemory(): void {
  native.releaseCachedMemory();
}
