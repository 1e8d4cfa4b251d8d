/**
 * NaN-safe element-wise comparison for tests: numbers, typed arrays, nested arrays, tensors and golden
 * tensors (`{ shape, data }`). One loop over the elements, so it stays fast on large arrays, and a
 * failure names the first mismatching element, both values and the largest error.
 */

/** A tensor as far as a comparison needs it (duck-typed so this module needs no native addon). */
export interface TensorLike {
  readonly shape: readonly number[];
  toTypedArray(): ArrayLike<number | bigint>;
}

/** A tensor stored in a golden file: its shape and its values, flat and row-major. */
export interface GoldenTensor {
  shape: number[];
  data: number[];
}

/** A nested array of numbers, e.g. `[[1, 2], [3, 4]]`. */
export type NestedNumbers = readonly (number | NestedNumbers)[];

/** Anything {@link expectClose} compares. */
export type Numeric = number | ArrayLike<number> | NestedNumbers | TensorLike | GoldenTensor;

/** Options for {@link expectClose} and {@link compareClose}. */
export interface CloseOptions {
  /** Relative tolerance: an element passes when `|actual - expected| <= atol + rtol * |expected|`. Default 1e-5. */
  rtol?: number;
  /** Absolute tolerance. Default 1e-8. */
  atol?: number;
  /** Names the compared quantity in the failure message ("gradient of input 1"). */
  name?: string;
  /** NaN matches NaN only when true. Default false: a NaN anywhere is a mismatch. */
  equalNan?: boolean;
  /**
   * Scale `atol` by `max(1, max |expected|)`: judges every error against the largest value, as suits
   * long sums (convolutions, matrix products) whose rounding grows with the whole result.
   */
  relativeToMax?: boolean;
}

/** The outcome of {@link compareClose}. */
export interface CloseReport {
  /** True when the shapes (or lengths) agree and every element is within tolerance. */
  ok: boolean;
  /** How many elements are out of tolerance (0 when the shapes disagree). */
  mismatches: number;
  /** The flat index of the first mismatching element, or -1. */
  firstIndex: number;
  /** The largest `|actual - expected|`; Infinity when a NaN or infinity mismatches. */
  maxAbsError: number;
  /** What went wrong, naming the element and both values; empty when ok. */
  message: string;
}

/** Thrown by {@link expectClose}; carries the full {@link CloseReport}. */
export class CloseError extends Error {
  constructor(readonly report: CloseReport) {
    super(report.message);
    this.name = 'CloseError';
  }
}

interface Flat {
  /** Known for numbers, tensors, golden tensors and nested arrays; flat arrays carry only a length. */
  shape: readonly number[] | null;
  values: ArrayLike<number>;
}

function isTensorLike(x: object): x is TensorLike {
  return typeof (x as TensorLike).toTypedArray === 'function' && Array.isArray((x as TensorLike).shape);
}

function isGoldenTensor(x: object): x is GoldenTensor {
  return Array.isArray((x as GoldenTensor).shape) && Array.isArray((x as GoldenTensor).data);
}

function numbersOf(values: ArrayLike<number | bigint>): ArrayLike<number> {
  return values instanceof BigInt64Array || values instanceof BigUint64Array
    ? Array.from(values, Number)
    : (values as ArrayLike<number>);
}

function flattenNested(x: NestedNumbers, what: string): Flat {
  const shape: number[] = [];
  for (let level: unknown = x; Array.isArray(level); level = level[0]) shape.push(level.length);
  const values: number[] = [];
  const walk = (node: NestedNumbers | number, depth: number): void => {
    if (depth === shape.length) {
      if (typeof node !== 'number') throw new TypeError(`${what}: a ragged nested array`);
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth])
      throw new TypeError(`${what}: a ragged nested array`);
    for (const child of node) walk(child, depth + 1);
  };
  walk(x, 0);
  return { shape, values };
}

function flatten(x: Numeric, what: string): Flat {
  if (typeof x === 'number') return { shape: [], values: [x] };
  if (ArrayBuffer.isView(x)) return { shape: null, values: numbersOf(x as unknown as ArrayLike<number>) };
  if (Array.isArray(x)) return x.some(Array.isArray) ? flattenNested(x, what) : { shape: null, values: x };
  if (isTensorLike(x)) return { shape: x.shape, values: numbersOf(x.toTypedArray()) };
  if (isGoldenTensor(x)) return { shape: x.shape, values: x.data };
  throw new TypeError(`${what}: expected a number, an array, a tensor or { shape, data }`);
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** `[1, 3]` for flat index 7 of shape [2, 4]; '' for rank 0 or 1 or an unknown shape. */
function coordinates(index: number, shape: readonly number[] | null): string {
  if (!shape || shape.length < 2) return '';
  const coords: number[] = [];
  for (let d = shape.length - 1, rest = index; d >= 0; d--) {
    coords.unshift(rest % shape[d]!);
    rest = Math.floor(rest / shape[d]!);
  }
  return ` [${coords.join(', ')}]`;
}

/**
 * Whether two float arrays hold the same bits (NaN payloads and the sign of zero included): for
 * results that must not depend on the path, the thread count or the run.
 *
 * @example
 * ```ts
 * sameBits(new Float32Array([0]), new Float32Array([-0])); // false
 * ```
 */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    a.length === b.length &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    )
  );
}

/** The largest |value| (0 for no values); NaN is skipped. */
export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]!) || 0);
  return m;
}

/**
 * Compares `actual` with `expected` element by element and reports instead of throwing. A NaN or
 * infinity where the other side is finite is a mismatch; equal infinities match; NaN matches NaN only
 * with `equalNan`.
 *
 * @example
 * ```ts
 * compareClose([1, Number.NaN], [1, 2]).message; // 'values: 1 of 2 elements differ ... index 1: actual NaN, expected 2 ...'
 * ```
 */
export function compareClose(actual: Numeric, expected: Numeric, options: CloseOptions = {}): CloseReport {
  const name = options.name ?? 'values';
  const a = flatten(actual, `${name} (actual)`);
  const e = flatten(expected, `${name} (expected)`);
  const fail = (message: string): CloseReport => ({
    ok: false,
    mismatches: 0,
    firstIndex: -1,
    maxAbsError: Infinity,
    message,
  });
  if (a.shape && e.shape && !sameShape(a.shape, e.shape))
    return fail(`${name}: shape [${a.shape.join(', ')}] but [${e.shape.join(', ')}] expected`);
  if (a.values.length !== e.values.length)
    return fail(`${name}: ${a.values.length} elements but ${e.values.length} expected`);

  const rtol = options.rtol ?? 1e-5;
  const equalNan = options.equalNan ?? false;
  const ev = e.values;
  const av = a.values;
  const atol = (options.atol ?? 1e-8) * (options.relativeToMax ? Math.max(1, maxAbs(ev)) : 1);
  let mismatches = 0;
  let firstIndex = -1;
  let maxAbsError = 0;
  let worstIndex = -1;
  for (let i = 0; i < ev.length; i++) {
    const x = av[i]!;
    const y = ev[i]!;
    let error: number;
    let ok: boolean;
    if (Number.isFinite(x) && Number.isFinite(y)) {
      error = Math.abs(x - y);
      ok = error <= atol + rtol * Math.abs(y);
    } else {
      // Non-finite on at least one side: only identical infinities, or NaN with NaN when allowed.
      ok = x === y || (equalNan && Number.isNaN(x) && Number.isNaN(y));
      error = ok ? 0 : Infinity;
    }
    if (worstIndex < 0 || error > maxAbsError) {
      maxAbsError = error;
      worstIndex = i;
    }
    if (!ok) {
      mismatches++;
      if (firstIndex < 0) firstIndex = i;
    }
  }
  if (mismatches === 0) return { ok: true, mismatches, firstIndex, maxAbsError, message: '' };
  const shape = e.shape ?? a.shape;
  const message =
    `${name}: ${mismatches} of ${ev.length} elements differ (|actual - expected| > ${atol} + ${rtol}·|expected|` +
    `${equalNan ? '' : ', NaN never matches'}); first at index ${firstIndex}${coordinates(firstIndex, shape)}: ` +
    `actual ${av[firstIndex]}, expected ${ev[firstIndex]}; max |actual - expected| ${maxAbsError} ` +
    `at index ${worstIndex}${coordinates(worstIndex, shape)}`;
  return { ok: false, mismatches, firstIndex, maxAbsError, message };
}

/**
 * Asserts that `actual` is element-wise close to `expected`: same shape (when both sides have one) or
 * length, and `|actual - expected| <= atol + rtol * |expected|` everywhere. NaN and infinities count as
 * mismatches (see {@link compareClose}). Throws a {@link CloseError} naming the first bad element.
 *
 * @example
 * ```ts
 * expectClose(y, golden.output, { rtol: 2e-4, atol: 2e-5, name: 'forward' });
 * ```
 */
export function expectClose(actual: Numeric, expected: Numeric, options: CloseOptions = {}): void {
  const report = compareClose(actual, expected, options);
  if (!report.ok) throw new CloseError(report);
}
