import { tensor as native } from '@dlf/native/tensor';
import { allocArray, checkDType, type DataArray, type DType, dtypeCode, dtypeOfArray } from './dtype.js';
import { checkInt, checkNumber, checkOptions, checkShape, invalidParam } from './errors.js';
import { defaultGenerator, type Generator } from './random.js';
import { isTensor, type NestedArray, Tensor } from './tensor.js';

/** Options for creating a tensor. */
export interface TensorOptions {
  /**
   * The element type; inferred from a typed array (which must match it), otherwise float32. Numbers
   * for int32 and uint8 must be integers in the dtype's range.
   */
  dtype?: DType;
  /** The shape; inferred from nested arrays, required for flat data of rank other than 1. */
  shape?: readonly number[];
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0]!;
  }
  return shape;
}

function flatten(data: NestedArray, shape: readonly number[], out: DataArray, dtype: DType): void {
  let pos = 0;
  const index: number[] = [];
  // The path of the element being read, e.g. data[1][0]; only built for error messages.
  const path = (dim: number): string =>
    `data${index
      .slice(0, dim)
      .map((i) => `[${i}]`)
      .join('')}`;
  // Integer dtypes take integers in their range: a typed array store would silently wrap or truncate.
  const [lo, hi] = dtype === 'int32' ? [-(2 ** 31), 2 ** 31 - 1] : [0, 255];
  const walk = (value: NestedArray, dim: number): void => {
    if (dim === shape.length) {
      if (typeof value !== 'number') {
        throw invalidParam(
          path(dim),
          'a number (the nested arrays are ragged or hold non-numbers)',
          value,
          'type',
        );
      }
      if (dtype !== 'float32' && !(Number.isInteger(value) && value >= lo && value <= hi)) {
        throw invalidParam(path(dim), `an integer in [${lo}, ${hi}] for dtype ${dtype}`, value);
      }
      out[pos++] = value;
      return;
    }
    if (!Array.isArray(value) || value.length !== shape[dim]) {
      throw invalidParam(
        path(dim),
        `an array of length ${shape[dim]} (nested arrays must be rectangular)`,
        value,
      );
    }
    for (let i = 0; i < value.length; i++) {
      index[dim] = i;
      walk(value[i]!, dim + 1);
    }
  };
  walk(data, 0);
}

const typedArrayName: Record<DType, string> = {
  float32: 'Float32Array',
  int32: 'Int32Array',
  uint8: 'Uint8Array',
};

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Creates a tensor from a number, nested arrays or a typed array (copied).
 *
 * @example
 * ```ts
 * tensor([[1, 2], [3, 4]]);                           // float32, shape [2, 2]
 * tensor(new Uint8Array(12), { shape: [2, 2, 3] });   // uint8
 * tensor([0, 3, 1], { dtype: 'int32' });              // labels
 * ```
 */
export function tensor(data: NestedArray | DataArray, options: TensorOptions = {}): Tensor {
  // A shape given where the options go (tensor(data, [2, 3])) would otherwise be ignored.
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw invalidParam('options', 'an object such as { shape: [2, 3] }', options, 'type');
  checkOptions('tensor options', options, ['dtype', 'shape']);
  const arrayDType = dtypeOfArray(data);
  const dtype = options.dtype === undefined ? (arrayDType ?? 'float32') : checkDType('dtype', options.dtype);
  let shape: readonly number[];
  let flat: DataArray;
  if (ArrayBuffer.isView(data)) {
    if (arrayDType === undefined)
      throw invalidParam('data', 'a Float32Array, Int32Array or Uint8Array', data, 'type');
    shape = options.shape === undefined ? [data.length] : checkShape('shape', options.shape);
    if (sizeOf(shape) !== data.length) {
      throw invalidParam('data', `${sizeOf(shape)} elements for shape [${shape.join(', ')}]`, data);
    }
    // No silent conversion: storing floats into an Int32Array or Uint8Array wraps and truncates.
    if (arrayDType !== dtype) {
      throw invalidParam(
        'data',
        `a ${typedArrayName[dtype]} for dtype ${dtype} (convert with astype() after creating the tensor)`,
        data,
        'type',
      );
    }
    flat = data;
  } else if (typeof data === 'number' || Array.isArray(data)) {
    const inferred = checkShape('shape', inferShape(data));
    flat = allocArray(dtype, sizeOf(inferred));
    flatten(data, inferred, flat, dtype);
    shape = inferred;
    if (options.shape !== undefined) {
      const target = checkShape('shape', options.shape);
      if (sizeOf(target) !== flat.length) {
        throw invalidParam('data', `${sizeOf(target)} elements for shape [${target.join(', ')}]`, data);
      }
      shape = target;
    }
  } else {
    throw invalidParam('data', 'a number, nested arrays of numbers, or a typed array', data, 'type');
  }
  return new Tensor(native.fromTypedArray(flat, shape, dtypeCode(dtype)), shape, dtype);
}

/**
 * A tensor filled with `value`.
 *
 * @example
 * ```ts
 * full([2, 3], 0.5);
 * ```
 */
export function full(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
  const s = checkShape('shape', shape);
  checkDType('dtype', dtype);
  if (dtype === 'int32') checkInt('value', value, -(2 ** 31), 2 ** 31 - 1);
  else if (dtype === 'uint8') checkInt('value', value, 0, 255);
  else if (typeof value !== 'number' || Number.isNaN(value)) {
    // float32 takes any number but NaN, infinities included (e.g. -Infinity for masks).
    throw invalidParam('value', 'a number', value, typeof value === 'number' ? 'range' : 'type');
  }
  return new Tensor(native.full(s, dtypeCode(dtype), value), s, dtype);
}

/** A tensor of zeros. @example `zeros([2, 2])` */
export function zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return full(shape, 0, dtype);
}

/** A tensor of ones. @example `ones([3])` */
export function ones(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return full(shape, 1, dtype);
}

function checkTensor(name: string, t: unknown): Tensor {
  if (!isTensor(t)) throw invalidParam(name, 'a tensor', t, 'type');
  void t.handle; // throws if t was disposed
  return t;
}

/** Zeros with another tensor's shape and dtype. */
export function zerosLike(t: Tensor): Tensor {
  checkTensor('t', t);
  return zeros(t.shape, t.dtype);
}

/** Ones with another tensor's shape and dtype. */
export function onesLike(t: Tensor): Tensor {
  checkTensor('t', t);
  return ones(t.shape, t.dtype);
}

/**
 * Evenly spaced values in `[start, stop)`. With one argument, `[0, stop)`.
 *
 * @example
 * ```ts
 * arange(4).toArray();          // [0, 1, 2, 3]
 * arange(1, 2, 0.25).toArray(); // [1, 1.25, 1.5, 1.75]
 * ```
 */
export function arange(start: number, stop?: number, step = 1, dtype: DType = 'float32'): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  checkNumber('start', start);
  checkNumber('stop', stop);
  checkNumber('step', step);
  checkDType('dtype', dtype);
  if (step === 0) throw invalidParam('step', 'a non-zero number', step);
  if (dtype === 'uint8') throw invalidParam('dtype', "'float32' or 'int32'", dtype);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > 2 ** 31) throw invalidParam('stop', 'a range of at most 2^31 values', stop);
  return new Tensor(native.arange(start, step, n, dtypeCode(dtype)), [n], dtype);
}

/** Options for random tensors. */
export interface RandomOptions {
  /** The stream to draw from; the default generator when omitted. */
  generator?: Generator;
  /** float32 (default) or int32 (randint only). */
  dtype?: DType;
}

// rand and randn make floats; an int32 request would otherwise be ignored without a word.
const RANDOM_OPTIONS = ['dtype', 'generator'];

function checkFloatOnly(options: RandomOptions): void {
  checkOptions('random options', options, RANDOM_OPTIONS);
  if (options.dtype !== undefined && checkDType('dtype', options.dtype) !== 'float32') {
    throw invalidParam('dtype', "'float32' (use randint for integers)", options.dtype);
  }
}

function randomTensor(
  shape: readonly number[],
  dtype: DType,
  kind: 0 | 1 | 2 | 3,
  a: number,
  b: number,
  g?: Generator,
): Tensor {
  const s = checkShape('shape', shape);
  // Duck-typed rather than instanceof, so a Generator from another copy of this package works too.
  if (g !== undefined && typeof (g as Partial<Generator> | null)?.fill !== 'function') {
    throw invalidParam('generator', 'a Generator', g, 'type');
  }
  const gen = g ?? defaultGenerator;
  const handle = native.empty(s, dtypeCode(dtype));
  const t = new Tensor(handle, s, dtype);
  try {
    gen.fill(handle, t.size, kind, a, b);
  } catch (error) {
    t.dispose();
    throw error;
  }
  return t;
}

/**
 * Uniform values in `[low, high)` from the seeded stream (see {@link Generator} for the exact rule).
 *
 * @example
 * ```ts
 * rand([2, 2], 0, 1, { generator: new Generator(1) });
 * ```
 */
export function rand(shape: readonly number[], low = 0, high = 1, options: RandomOptions = {}): Tensor {
  checkNumber('low', low);
  checkNumber('high', high);
  if (!(high >= low)) throw invalidParam('high', `a number >= low (${low})`, high);
  checkFloatOnly(options);
  return randomTensor(shape, 'float32', 0, low, high, options.generator);
}

/**
 * Normal values with mean `mean` and standard deviation `std` (Box-Muller, see {@link Generator}).
 *
 * @example
 * ```ts
 * randn([64, 10]);
 * ```
 */
export function randn(shape: readonly number[], mean = 0, std = 1, options: RandomOptions = {}): Tensor {
  checkNumber('mean', mean);
  checkNumber('std', std, 0);
  checkFloatOnly(options);
  return randomTensor(shape, 'float32', 1, mean, std, options.generator);
}

/**
 * Integers in `[low, high)`, int32 by default.
 *
 * @example
 * ```ts
 * randint([8], 0, 10); // labels for 10 classes
 * ```
 */
export function randint(
  shape: readonly number[],
  low: number,
  high: number,
  options: RandomOptions = {},
): Tensor {
  checkInt('low', low, -(2 ** 31), 2 ** 31 - 1);
  checkInt('high', high, -(2 ** 31) + 1, 2 ** 31);
  if (high <= low) throw invalidParam('high', `an integer > low (${low})`, high);
  if (high - low > 2 ** 32) throw invalidParam('high', 'a range of at most 2^32 values', high);
  checkOptions('random options', options, RANDOM_OPTIONS);
  const dtype = options.dtype === undefined ? 'int32' : checkDType('dtype', options.dtype);
  if (dtype === 'uint8') throw invalidParam('dtype', "'int32' or 'float32'", dtype);
  return randomTensor(shape, dtype, 2, low, high, options.generator);
}
