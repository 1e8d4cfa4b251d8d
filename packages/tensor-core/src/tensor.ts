import type { Handle } from '@dlf/native';
import { tensor as native } from '@dlf/native/tensor';
import { checkDType, type DataArray, type DType, dtypeCode, dtypeFromCode } from './dtype.js';
import { checkInt, checkNumber, checkShape, invalidParam } from './errors.js';
import { track, untrack } from './scope.js';
import { abs, add, div, exp, log, mul, neg, pow, sqrt, sub } from './math/elementwise.js';
import { matmul } from './math/matmul.js';
import { logSoftmax, max, mean, softmax, sum } from './math/reduce.js';
import { flatten, permute, transpose } from './math/shape.js';

/** Nested arrays of numbers, as returned by {@link Tensor.toArray}. */
export type NestedArray = number | NestedArray[];

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/**
 * An n-dimensional array in native memory: float32 for values, int32 for labels and indices,
 * uint8 for images. Tensors are immutable from JavaScript except through explicit writes; ops return
 * new tensors (views share memory with their base).
 *
 * Memory is freed by {@link Tensor.dispose} (idempotent), by the end of a {@link tidy} scope, or by
 * a `using` declaration; the garbage collector is only a backstop.
 *
 * @example
 * ```ts
 * import { tensor } from '@dlf/tensor-core';
 * using t = tensor([[1, 2, 3], [4, 5, 6]]);
 * t.shape;            // [2, 3]
 * t.slice(1).toArray(); // [[4, 5, 6]]
 * ```
 */
export class Tensor {
  /** The dimensions, outermost first. */
  readonly shape: readonly number[];
  /** The element type. */
  readonly dtype: DType;
  /** The number of elements. */
  readonly size: number;
  #handle: Handle | null;
  readonly #token = { counted: true };

  /**
   * Wraps a native handle. Library code uses this to return op results; applications create
   * tensors with {@link tensor}, {@link zeros} and friends.
   *
   * @param handle - a handle returned by the native addon (the tensor takes ownership)
   * @param shape - the shape, when already known (saves a native call)
   * @param dtype - the dtype, when already known
   */
  constructor(handle: Handle, shape?: readonly number[], dtype?: DType) {
    this.#handle = handle;
    if (shape === undefined || dtype === undefined) {
      const layout = native.layout(handle);
      shape ??= layout.shape;
      dtype ??= dtypeFromCode(layout.dtype);
    }
    this.shape = Object.isFrozen(shape) ? shape : Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = sizeOf(this.shape);
    track(this, this.#token);
  }

  /** @internal Marks dlf tensors for scope bookkeeping across package copies. */
  get __isDlfTensor(): true {
    return true;
  }

  /** The native handle; throws if the tensor was disposed. */
  get handle(): Handle {
    if (this.#handle === null) {
      throw new Error(`Tensor of shape [${this.shape.join(', ')}] was used after dispose()`);
    }
    return this.#handle;
  }

  /** The number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** True once {@link Tensor.dispose} ran. */
  get isDisposed(): boolean {
    return this.#handle === null;
  }

  /** Element strides of the underlying layout (a view may have non-contiguous strides). */
  get strides(): readonly number[] {
    return native.layout(this.handle).strides;
  }

  /** True when the elements are laid out in row-major order without gaps. */
  get isContiguous(): boolean {
    return native.layout(this.handle).contiguous;
  }

  /**
   * Releases this tensor's reference to its memory. Calling it again does nothing. Memory shared
   * with views, gradients or a recorded graph is freed when its last user lets go.
   */
  dispose(): void {
    if (this.#handle === null) return;
    native.release(this.#handle);
    this.#handle = null;
    untrack(this, this.#token);
  }

  /**
   * Hands this tensor's native handle to a new owner, such as a subclass constructor; this tensor
   * becomes disposed without releasing the memory.
   *
   * @example
   * ```ts
   * class Named extends Tensor {
   *   constructor(t: Tensor, readonly label: string) {
   *     super(t.transferHandle(), t.shape, t.dtype);
   *   }
   * }
   * ```
   */
  transferHandle(): Handle {
    const handle = this.handle;
    this.#handle = null;
    untrack(this, this.#token);
    return handle;
  }

  /**
   * Copies a typed array of this tensor's dtype and size into it, in place (not recorded by
   * autograd). The tensor must be contiguous.
   *
   * @example
   * ```ts
   * const t = zeros([3]);
   * t.write(new Float32Array([1, 2, 3]));
   * ```
   */
  write(data: DataArray): void {
    native.write(this.handle, data);
  }

  /** Disposes at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The same elements in a new shape; one dimension may be -1 (inferred). A view when this tensor
   * is contiguous, otherwise a copy. Differentiable.
   *
   * @example
   * ```ts
   * arange(6).reshape([2, -1]).shape; // [2, 3]
   * ```
   */
  reshape(shape: readonly number[]): Tensor {
    const resolved = resolveReshape(this.shape, shape);
    return new Tensor(native.reshape(this.handle, resolved), resolved, this.dtype);
  }

  /**
   * Like {@link Tensor.reshape} but never copies: throws unless this tensor is contiguous.
   */
  view(shape: readonly number[]): Tensor {
    if (!this.isContiguous) {
      throw new Error(
        `view() needs a contiguous tensor; this one (shape [${this.shape.join(', ')}]) is not. Call contiguous() first or use reshape()`,
      );
    }
    return this.reshape(shape);
  }

  /** A contiguous tensor with the same elements (this tensor's data if already contiguous). */
  contiguous(): Tensor {
    return new Tensor(native.contiguous(this.handle), this.shape, this.dtype);
  }

  /** A copy that owns its memory. Differentiable. */
  clone(): Tensor {
    return new Tensor(native.clone(this.handle), this.shape, this.dtype);
  }

  /**
   * Rows `[start, end)` along the first axis, as a view sharing memory. Negative indices count from
   * the end. Differentiable.
   *
   * @example
   * ```ts
   * tensor([[1], [2], [3]]).slice(1, 3).toArray(); // [[2], [3]]
   * ```
   */
  slice(start: number, end?: number): Tensor {
    if (this.rank === 0) throw new RangeError('slice() needs a tensor with at least one dimension');
    const n = this.shape[0]!;
    checkInt('start', start);
    if (end !== undefined) checkInt('end', end);
    const s = start < 0 ? Math.max(0, n + start) : Math.min(start, n);
    const eRaw = end === undefined ? n : end < 0 ? n + end : end;
    const e = Math.max(s, Math.min(eRaw, n));
    const shape = [e - s, ...this.shape.slice(1)];
    return new Tensor(native.narrow(this.handle, s, e - s), shape, this.dtype);
  }

  /**
   * Converts to another dtype, optionally multiplying by `scale` (uint8 images to [0, 1] floats:
   * `img.astype('float32', 1 / 255)`). Float to integer conversions truncate; to uint8 they round and
   * clamp to [0, 255].
   */
  astype(dtype: DType, scale = 1): Tensor {
    checkDType('dtype', dtype);
    checkNumber('scale', scale);
    return new Tensor(native.cast(this.handle, dtypeCode(dtype), scale), this.shape, dtype);
  }

  /** A copy of the elements in row-major order. */
  toTypedArray(): DataArray {
    return native.toTypedArray(this.handle) as DataArray;
  }

  /**
   * A zero-copy view of this tensor's memory (contiguous tensors only). The array stays valid while
   * it is referenced, even after the tensor is disposed. Writing to it changes the tensor.
   *
   * @example
   * ```ts
   * const t = zeros([3]);
   * t.data()[1] = 5;
   * t.toArray(); // [0, 5, 0]
   * ```
   */
  data(): DataArray {
    if (!this.isContiguous) {
      throw new Error(
        'data() needs a contiguous tensor; call contiguous() first, or use toTypedArray() for a copy',
      );
    }
    return native.dataView(this.handle) as DataArray;
  }

  /** The elements as nested arrays (a number for a 0-d tensor). */
  toArray(): NestedArray {
    const flat = this.toTypedArray();
    if (this.rank === 0) return flat[0]!;
    const strides = contiguousStrides(this.shape);
    const build = (dim: number, offset: number): NestedArray[] => {
      const n = this.shape[dim]!;
      const out = new Array<NestedArray>(n);
      if (dim === this.rank - 1) {
        for (let i = 0; i < n; i++) out[i] = flat[offset + i]!;
      } else {
        for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * strides[dim]!);
      }
      return out;
    };
    return build(0, 0);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1)
      throw invalidParam('item()', 'a tensor with one element', `shape [${this.shape.join(', ')}]`);
    return native.item(this.handle);
  }

  // Tensor arithmetic: `x.add(y)` is `add(x, y)` (see the functions for details).

  /** this + other, with broadcasting. @example `x.add(1)` */
  add(other: Tensor | number): Tensor {
    return add(this, other);
  }

  /** this - other, with broadcasting. @example `x.sub(y)` */
  sub(other: Tensor | number): Tensor {
    return sub(this, other);
  }

  /** this * other, with broadcasting. @example `x.mul(0.5)` */
  mul(other: Tensor | number): Tensor {
    return mul(this, other);
  }

  /** this / other, with broadcasting. @example `x.div(255)` */
  div(other: Tensor | number): Tensor {
    return div(this, other);
  }

  /** -this. @example `x.neg()` */
  neg(): Tensor {
    return neg(this);
  }

  /** e^this. @example `x.exp()` */
  exp(): Tensor {
    return exp(this);
  }

  /** The natural logarithm. @example `x.log()` */
  log(): Tensor {
    return log(this);
  }

  /** The square root. @example `x.sqrt()` */
  sqrt(): Tensor {
    return sqrt(this);
  }

  /** |this|. @example `x.abs()` */
  abs(): Tensor {
    return abs(this);
  }

  /** this ** exponent. @example `x.pow(2)` */
  pow(exponent: number): Tensor {
    return pow(this, exponent);
  }

  /** The matrix product (see {@link matmul}). @example `a.matmul(b)` */
  matmul(other: Tensor): Tensor {
    return matmul(this, other);
  }

  /** Sum over `axis` (all axes when null). @example `x.sum(1)` */
  sum(axis?: number | readonly number[] | null, keepDims?: boolean): Tensor {
    return sum(this, axis, keepDims);
  }

  /** Mean over `axis` (all axes when null). @example `x.mean([0, 2, 3], true)` */
  mean(axis?: number | readonly number[] | null, keepDims?: boolean): Tensor {
    return mean(this, axis, keepDims);
  }

  /** Maximum over one axis (everything when null). @example `x.max(1)` */
  max(axis?: number | null, keepDims?: boolean): Tensor {
    return max(this, axis, keepDims);
  }

  /** Softmax over `axis`. @example `logits.softmax(-1)` */
  softmax(axis?: number): Tensor {
    return softmax(this, axis);
  }

  /** Log-softmax over `axis`. @example `logits.logSoftmax()` */
  logSoftmax(axis?: number): Tensor {
    return logSoftmax(this, axis);
  }

  /** Axes reordered (a view). @example `x.permute([0, 2, 3, 1])` */
  permute(dims: readonly number[]): Tensor {
    return permute(this, dims);
  }

  /** Two axes swapped (a view). @example `x.transpose(0, 1)` */
  transpose(dim0?: number, dim1?: number): Tensor {
    return transpose(this, dim0, dim1);
  }

  /** Dims `startDim..endDim` merged into one. @example `x.flatten(1)` */
  flatten(startDim?: number, endDim?: number): Tensor {
    return flatten(this, startDim, endDim);
  }

  /** A short description: shape, dtype and the first values. */
  toString(): string {
    if (this.isDisposed) return `Tensor(disposed, shape=[${this.shape.join(', ')}], dtype=${this.dtype})`;
    const flat = this.toTypedArray();
    const head = Array.from(flat.slice(0, 8), (v) =>
      this.dtype === 'float32' ? Number(v.toPrecision(5)) : v,
    );
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, values=[${head.join(', ')}${this.size > 8 ? ', ...' : ''}])`;
  }
}

/** Resolves a reshape target (one -1 allowed) against a source shape; throws naming both shapes. */
export function resolveReshape(from: readonly number[], to: readonly number[]): number[] {
  if (!Array.isArray(to)) throw invalidParam('shape', 'an array of integers', to, 'type');
  let inferred = -1;
  let known = 1;
  const out = [...to];
  out.forEach((d, i) => {
    if (d === -1) {
      if (inferred !== -1) throw invalidParam('shape', 'at most one -1', to);
      inferred = i;
    } else {
      checkInt(`shape[${i}]`, d, 0);
      known *= d;
    }
  });
  const total = sizeOf(from);
  if (inferred !== -1) {
    if (known === 0 || total % known !== 0) {
      throw new RangeError(`Cannot reshape a tensor of shape [${from.join(', ')}] to [${to.join(', ')}]`);
    }
    out[inferred] = total / known;
  } else if (known !== total) {
    throw new RangeError(
      `Cannot reshape a tensor of shape [${from.join(', ')}] (${total} elements) to [${to.join(', ')}] (${known} elements)`,
    );
  }
  return checkShape('shape', out) as number[];
}

/** True for dlf tensors (also across duplicate package copies). */
export function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && (x as { __isDlfTensor?: boolean }).__isDlfTensor === true;
}
