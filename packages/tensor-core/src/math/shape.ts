import { math } from '@dlf/native/math';
import { tensor as native } from '@dlf/native/tensor';
import { invalidParam, shapeMismatch } from '../errors.js';
import { Tensor } from '../tensor.js';
import { floatResult, checkFloatTensor, normalizeAxis } from './common.js';

/** Differentiable reshape (one dim may be -1). @example `reshape(x, [2, -1])` */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return x.reshape(shape);
}

/**
 * Flattens dims `startDim..endDim` into one.
 *
 * @example
 * ```ts
 * flatten(zeros([64, 16, 8, 8])).shape; // [64, 1024]
 * ```
 */
export function flatten(x: Tensor, startDim = 1, endDim = -1): Tensor {
  checkFloatTensor(x, 'x');
  if (x.rank === 0) return x.reshape([1]);
  const s = normalizeAxis(startDim, x.rank, 'startDim');
  const e = normalizeAxis(endDim, x.rank, 'endDim');
  if (e < s) throw invalidParam('endDim', `an axis >= startDim (${s})`, endDim);
  const merged = x.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
  return x.reshape([...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/** Axes reordered (a view). @example `permute(x, [0, 2, 3, 1])` */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (!Array.isArray(dims) || dims.length !== x.rank) {
    throw invalidParam('dims', `a permutation of ${x.rank} axes`, dims);
  }
  const resolved = (dims as readonly number[]).map((d: number, i: number) =>
    normalizeAxis(d, x.rank, `dims[${i}]`),
  );
  if (new Set(resolved).size !== resolved.length)
    throw invalidParam('dims', 'a permutation (no repeats)', dims);
  return new Tensor(
    native.permute(x.handle, resolved),
    resolved.map((d) => x.shape[d]!),
    x.dtype,
  );
}

/** Swaps two axes (a view). @example `transpose(x, 0, 1)` */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normalizeAxis(dim0, x.rank, 'dim0');
  const b = normalizeAxis(dim1, x.rank, 'dim1');
  const dims = Array.from({ length: x.rank }, (_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/**
 * Joins tensors along an existing axis.
 *
 * @example
 * ```ts
 * concat([ones([2, 3]), zeros([1, 3])], 0).shape; // [3, 3]
 * ```
 */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw invalidParam('xs', 'a non-empty array of tensors', xs);
  xs.forEach((x, i) => checkFloatTensor(x, `xs[${i}]`));
  const first = xs[0]!;
  const a = normalizeAxis(axis, first.rank);
  let total = 0;
  for (const x of xs) {
    if (x.rank !== first.rank || x.shape.some((d: number, i: number) => i !== a && d !== first.shape[i])) {
      throw shapeMismatch('concat', `equal shapes outside axis ${a}`, first.shape, x.shape);
    }
    total += x.shape[a]!;
  }
  const shape = [...first.shape];
  shape[a] = total;
  return floatResult(
    math.concat(
      xs.map((x) => x.handle),
      a,
    ),
    shape,
  );
}
