/**
 * The one error factory of dlf. Every argument check in every package goes through it, so messages
 * share one shape: `Expected <what> for <argument> but received <value>`.
 */

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string')
    return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}' of type string`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return `${String(value)} of type ${typeof value}`;
  }
  if (Array.isArray(value)) {
    const body =
      value.length > 8 ? `${value.slice(0, 8).map(short).join(', ')}, ...` : value.map(short).join(', ');
    return `[${body}]`;
  }
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} of length ${(value as Uint8Array).length}`;
  if (typeof value === 'function') return 'a function';
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `an instance of ${name}` : 'an object';
}

function short(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map(short).join(', ')}]`;
  return String(value);
}

/**
 * Builds the standard argument error. `kind` picks `RangeError` (a value out of range, a shape
 * mismatch) or `TypeError` (a value of the wrong kind).
 *
 * @example
 * ```ts
 * throw invalidParam('kernelSize', 'a positive integer', 0);
 * // RangeError: Expected a positive integer for kernelSize but received 0 of type number
 * ```
 */
export function invalidParam(
  name: string,
  expected: string,
  received: unknown,
  kind: 'range' | 'type' = 'range',
): RangeError | TypeError {
  const message = `Expected ${expected} for ${name} but received ${describe(received)}`;
  return kind === 'type' ? new TypeError(message) : new RangeError(message);
}

/**
 * A shape error naming both shapes.
 *
 * @example
 * ```ts
 * throw shapeMismatch('matmul', 'the inner dimensions to agree', [2, 3], [4, 5]);
 * // RangeError: Expected the inner dimensions to agree for matmul but received shapes [2, 3] and [4, 5]
 * ```
 */
export function shapeMismatch(
  op: string,
  expected: string,
  a: readonly number[],
  b: readonly number[],
): RangeError {
  return new RangeError(
    `Expected ${expected} for ${op} but received shapes [${a.join(', ')}] and [${b.join(', ')}]`,
  );
}

/** Asserts an integer, optionally bounded, naming the argument on failure. */
export function checkInt(
  name: string,
  value: unknown,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number') throw invalidParam(name, 'an integer', value, 'type');
  if (!Number.isInteger(value) || value < min || value > max) {
    const bounds =
      min === Number.MIN_SAFE_INTEGER && max === Number.MAX_SAFE_INTEGER
        ? 'an integer'
        : max === Number.MAX_SAFE_INTEGER
          ? min === 0
            ? 'a non-negative integer'
            : min === 1
              ? 'a positive integer'
              : `an integer >= ${min}`
          : `an integer in [${min}, ${max}]`;
    throw invalidParam(name, bounds, value);
  }
  return value;
}

/** Asserts a finite number, naming the argument on failure. */
export function checkNumber(name: string, value: unknown, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number') throw invalidParam(name, 'a number', value, 'type');
  if (!Number.isFinite(value) || value < min || value > max) {
    const range =
      min === -Infinity && max === Infinity ? 'a finite number' : `a finite number in [${min}, ${max}]`;
    throw invalidParam(name, range, value);
  }
  return value;
}

/** Asserts a shape: an array of non-negative integers. Returns a frozen copy. */
export function checkShape(name: string, shape: unknown): readonly number[] {
  if (!Array.isArray(shape)) throw invalidParam(name, 'an array of non-negative integers', shape, 'type');
  if (shape.length > 16) throw invalidParam(name, 'at most 16 dimensions', shape);
  for (const d of shape) {
    if (typeof d !== 'number') throw invalidParam(name, 'an array of non-negative integers', shape, 'type');
    if (!Number.isInteger(d) || d < 0) throw invalidParam(name, 'an array of non-negative integers', shape);
  }
  let n = 1;
  for (const d of shape as number[]) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) throw invalidParam(name, 'a shape with fewer than 2^53 elements', shape);
  }
  return Object.freeze([...(shape as number[])]);
}

/** Asserts a file or folder path: a non-empty string. */
export function checkPath(value: unknown, name = 'path'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalidParam(name, 'a non-empty string', value, 'type');
  }
  return value;
}

/**
 * Asserts an options object: a plain object (or undefined) whose keys are all among `known`, so a
 * misspelt option fails instead of being ignored. Returns the object (`{}` for undefined).
 *
 * @example
 * ```ts
 * checkOptions('conv2d options', { strides: 2 }, ['stride', 'padding']);
 * // TypeError: Expected only the options stride, padding for conv2d options but received the option 'strides'
 * ```
 */
export function checkOptions<T extends object>(
  name: string,
  options: T | undefined,
  known: readonly string[],
): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw invalidParam(name, `an object with the options ${known.join(', ')}`, options, 'type');
  for (const key of Object.keys(options)) {
    if (!known.includes(key))
      throw new TypeError(
        `Expected only the options ${known.join(', ')} for ${name} but received the option '${key}'`,
      );
  }
  return options;
}
