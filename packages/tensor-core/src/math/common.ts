import type { Handle } from '@dlf/native';
import { checkInt, invalidParam, shapeMismatch } from '../errors.js';
import { isTensor, Tensor } from '../tensor.js';

/** `x`, checked to be a float32 tensor (the dtype of every differentiable op). */
export function checkFloatTensor(x: unknown, name: string): Tensor {
  if (!isTensor(x)) throw invalidParam(name, 'a Tensor', x, 'type');
  if (x.dtype !== 'float32') throw invalidParam(name, 'a float32 tensor', `a ${x.dtype} tensor`, 'type');
  return x;
}

/** Wraps an op's result, whose shape TypeScript already resolved. */
export function floatResult(handle: Handle, shape: readonly number[]): Tensor {
  return new Tensor(handle, shape, 'float32');
}

/**
 * Resolves a possibly negative axis against a rank.
 *
 * @example
 * ```ts
 * normalizeAxis(-1, 4); // 3
 * ```
 */
export function normalizeAxis(axis: number, rank: number, name = 'axis'): number {
  checkInt(name, axis, -Math.max(rank, 1), Math.max(rank - 1, 0));
  return axis < 0 ? axis + rank : axis;
}

/** The NumPy broadcast of two shapes; a RangeError naming `op` and both shapes when they do not broadcast. */
export function broadcastShape(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const result: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw shapeMismatch(op, 'shapes that broadcast together', a, b);
    result.push(da === 1 ? db : da);
  }
  return result;
}
