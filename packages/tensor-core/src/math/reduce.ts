import { math } from '@dlf/native/math';
import { invalidParam } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { floatResult, checkFloatTensor, normalizeAxis } from './common.js';

function resolveAxes(axis: number | readonly number[] | null | undefined, rank: number): number[] {
  if (axis === null || axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const resolved = list.map((a, i) =>
    normalizeAxis(a, rank, typeof axis === 'number' ? 'axis' : `axis[${i}]`),
  );
  const sorted = [...new Set(resolved)].sort((x, y) => x - y);
  if (sorted.length !== resolved.length) throw invalidParam('axis', 'distinct axes', axis);
  return sorted;
}

function reducedShape(shape: readonly number[], axes: number[], keepDims: boolean): number[] {
  return keepDims
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}

/**
 * Sum over `axis` (a number, a list, or null for all axes).
 *
 * @example
 * ```ts
 * sum(tensor([[1, 2], [3, 4]]), 1).toArray(); // [3, 7]
 * ```
 */
export function sum(x: Tensor, axis: number | readonly number[] | null = null, keepDims = false): Tensor {
  checkFloatTensor(x, 'x');
  const axes = resolveAxes(axis, x.rank);
  return floatResult(math.sum(x.handle, axes, keepDims, false), reducedShape(x.shape, axes, keepDims));
}

/** Mean over `axis` (a number, a list, or null for all axes). @example `mean(x, [0, 2, 3], true)` */
export function mean(x: Tensor, axis: number | readonly number[] | null = null, keepDims = false): Tensor {
  checkFloatTensor(x, 'x');
  const axes = resolveAxes(axis, x.rank);
  return floatResult(math.sum(x.handle, axes, keepDims, true), reducedShape(x.shape, axes, keepDims));
}

/**
 * Maximum over one axis, or over everything with `axis` null. The gradient flows to the first
 * maximal element.
 *
 * @example
 * ```ts
 * max(tensor([[1, 5], [7, 2]]), 1).toArray(); // [5, 7]
 * ```
 */
export function max(x: Tensor, axis: number | null = null, keepDims = false): Tensor {
  checkFloatTensor(x, 'x');
  if (x.size === 0) throw invalidParam('x', 'a non-empty tensor', `shape [${x.shape.join(', ')}]`);
  if (axis === null) {
    const flat = x.reshape([x.size]);
    const m = floatResult(math.max(flat.handle, 0, false), []);
    flat.dispose();
    if (!keepDims) return m;
    const r = m.reshape(x.shape.map(() => 1));
    m.dispose();
    return r;
  }
  const a = normalizeAxis(axis, x.rank);
  return floatResult(math.max(x.handle, a, keepDims), reducedShape(x.shape, [a], keepDims));
}

/** Softmax over `axis`, computed stably. @example `softmax(logits, -1)` */
export function softmax(x: Tensor, axis = -1): Tensor {
  checkFloatTensor(x, 'x');
  return floatResult(math.softmax(x.handle, normalizeAxis(axis, x.rank), false), x.shape);
}

/** Log-softmax over `axis`, computed stably. @example `logSoftmax(logits)` */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  checkFloatTensor(x, 'x');
  return floatResult(math.softmax(x.handle, normalizeAxis(axis, x.rank), true), x.shape);
}
