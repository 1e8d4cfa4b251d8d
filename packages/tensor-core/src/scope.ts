import { tensor as native } from '@dlf/native/tensor';
import type { Tensor } from './tensor.js';

/**
 * Ownership bookkeeping: the stack of `tidy` scopes and the count of live tensors. Explicit
 * disposal is the rule; a FinalizationRegistry is only a backstop that keeps the count honest for
 * tensors the garbage collector reclaimed.
 */

const scopes: Set<Tensor>[] = [];
let liveTensors = 0;

const backstop = new FinalizationRegistry<{ counted: boolean }>((token) => {
  if (token.counted) {
    token.counted = false;
    liveTensors--;
  }
});

/** @internal Called by the Tensor constructor. */
export function track(t: Tensor, token: { counted: boolean }): void {
  liveTensors++;
  backstop.register(t, token, token);
  scopes[scopes.length - 1]?.add(t);
}

/** @internal Called by dispose(). */
export function untrack(t: Tensor, token: { counted: boolean }): void {
  if (token.counted) {
    token.counted = false;
    liveTensors--;
  }
  backstop.unregister(token);
  for (let i = scopes.length - 1; i >= 0; i--) {
    if (scopes[i]!.delete(t)) break;
  }
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && (x as { __isDlfTensor?: boolean }).__isDlfTensor === true;
}

function collect(value: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, seen);
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it, except the tensors it returns (directly,
 * or inside arrays, Maps and plain objects) and tensors passed to {@link keep}. Scopes nest: returned
 * tensors belong to the enclosing scope. `fn` must be synchronous.
 *
 * @example
 * ```ts
 * const y = tidy(() => {
 *   const a = ones([2, 2]);
 *   return a.reshape([4]); // kept; `a` itself is disposed
 * });
 * ```
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('Expected a function for fn but received ' + typeof fn);
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new TypeError(
        'tidy(fn) needs a synchronous function: tensors made after an await would escape the scope. Use tidy inside the async function instead.',
      );
    }
  } catch (error) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw error;
  }
  scopes.pop();
  const returned = new Set<Tensor>();
  collect(result, returned, new Set());
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (returned.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/**
 * Takes a tensor out of every enclosing `tidy` scope, so the scope's end does not dispose it.
 * Returns the tensor.
 *
 * @example
 * ```ts
 * let total!: Tensor;
 * tidy(() => { total = keep(zeros([3])); });
 * ```
 */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** Disposes every tensor found in `value` (a tensor, or arrays, Maps and plain objects of them). */
export function dispose(value: unknown): void {
  const found = new Set<Tensor>();
  collect(value, found, new Set());
  for (const t of found) t.dispose();
}

/** Memory facts, from {@link memory}. */
export interface MemoryInfo {
  /** Tensor objects created and neither disposed nor garbage collected. */
  numTensors: number;
  /** Bytes of native tensor memory in use, created by this thread (views share memory; graph nodes may hold some). */
  numBytes: number;
  /** Native memory blocks in use, created by this thread. */
  numBlocks: number;
  /** Bytes kept by the allocator's reuse cache (shared by all threads). */
  cachedBytes: number;
  /** This thread's allocations that reached the system allocator since it loaded dlf. */
  systemAllocations: number;
}

/**
 * Reports live tensors and native memory of this thread (the main thread or one worker thread).
 *
 * @example
 * ```ts
 * const before = memory().numTensors;
 * tidy(() => ones([1000]));
 * memory().numTensors === before; // true
 * ```
 */
export function memory(): MemoryInfo {
  const s = native.memoryStats();
  return {
    numTensors: liveTensors,
    numBytes: s.liveBytes,
    numBlocks: s.liveBlocks,
    cachedBytes: s.cachedBytes,
    systemAllocations: s.systemAllocations,
  };
}
