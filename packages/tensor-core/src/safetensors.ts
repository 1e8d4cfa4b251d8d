/**
 * safetensors files: a reader that enforces every rule of the reference implementation
 * (huggingface/safetensors `read_metadata` + `Metadata::validate`, in the same order) plus the gaps
 * it leaves open in JavaScript (leading `{`, duplicate keys, integers JavaScript cannot hold), and a
 * writer that lays files out exactly as the reference writer does.
 *
 * Layout: 8 bytes `N` (little-endian u64), `N` bytes of UTF-8 JSON header (starts with `{`, padded
 * with spaces), then the data buffer, entirely covered by the tensors' `data_offsets`.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tensor as native } from '@dlf/native/tensor';
import { type DataArray, type DType, dtypeBytes, dtypeCode } from './dtype.js';
import { invalidParam } from './errors.js';
import { isTensor, Tensor } from './tensor.js';

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** The rule a {@link SafetensorsError} reports; each has its own error class. */
export type SafetensorsErrorCode =
  | 'HeaderTooSmall'
  | 'HeaderTooLarge'
  | 'InvalidHeaderLength'
  | 'InvalidHeader'
  | 'DuplicateKey'
  | 'InvalidHeaderDeserialization'
  | 'InvalidOffset'
  | 'ValidationOverflow'
  | 'MisalignedSlice'
  | 'TensorInvalidInfo'
  | 'MetadataIncompleteBuffer'
  | 'UnsupportedDType'
  | 'UnsupportedShape';

/**
 * The base class of every error about the content of a safetensors file. `code` names the rule
 * (the reference implementation's error name where it has one), `file` the file (or the `source`
 * given to {@link parseSafetensors}), and `tensor` the tensor concerned, when there is one.
 *
 * @example
 * ```ts
 * try {
 *   await loadSafetensors('model.safetensors');
 * } catch (e) {
 *   if (e instanceof SafetensorsError) console.error(e.code, e.file, e.tensor);
 *   else throw e; // an I/O error such as ENOENT
 * }
 * ```
 */
export class SafetensorsError extends Error {
  /** The rule the file breaks. */
  readonly code: SafetensorsErrorCode;
  /** The file, or the `source` name given to {@link parseSafetensors}. */
  readonly file: string;
  /** The tensor concerned, when the rule is about one tensor. */
  readonly tensor: string | undefined;

  /**
   * @param code - the rule
   * @param file - the file name
   * @param detail - what is wrong, naming the tensor when there is one
   * @param tensor - the tensor concerned
   */
  constructor(code: SafetensorsErrorCode, file: string, detail: string, tensor?: string) {
    super(`${file}: ${detail} (${code})`);
    this.name = new.target.name;
    this.code = code;
    this.file = file;
    this.tensor = tensor;
  }
}

/**
 * The file is shorter than the 8 bytes of the header size.
 *
 * @example
 * ```ts
 * parseSafetensors(new Uint8Array(3)); // throws HeaderTooSmallError
 * ```
 */
export class HeaderTooSmallError extends SafetensorsError {
  declare readonly code: 'HeaderTooSmall';
  /** @param file - the file name @param detail - what is wrong */
  constructor(file: string, detail: string) {
    super('HeaderTooSmall', file, detail);
  }
}

/**
 * The header size `N` is above 100,000,000 bytes (the reference's cap against denial of service).
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array(16);
 * new DataView(bytes.buffer).setBigUint64(0, 2n ** 40n, true);
 * parseSafetensors(bytes); // throws HeaderTooLargeError
 * ```
 */
export class HeaderTooLargeError extends SafetensorsError {
  declare readonly code: 'HeaderTooLarge';
  /** @param file - the file name @param detail - what is wrong */
  constructor(file: string, detail: string) {
    super('HeaderTooLarge', file, detail);
  }
}

/**
 * `8 + N` is past the end of the file.
 *
 * @example
 * ```ts
 * parseSafetensors(new Uint8Array([100, 0, 0, 0, 0, 0, 0, 0, 123, 125])); // throws InvalidHeaderLengthError
 * ```
 */
export class InvalidHeaderLengthError extends SafetensorsError {
  declare readonly code: 'InvalidHeaderLength';
  /** @param file - the file name @param detail - what is wrong */
  constructor(file: string, detail: string) {
    super('InvalidHeaderLength', file, detail);
  }
}

/**
 * The header is not valid UTF-8, does not begin with `{`, or is not a well-formed JSON object.
 *
 * @example
 * ```ts
 * parseSafetensors(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 91, 93, 32, 32, 32, 32, 32, 32])); // '[]': InvalidHeaderError
 * ```
 */
export class InvalidHeaderError extends SafetensorsError {
  declare readonly code: 'InvalidHeader';
  /** @param file - the file name @param detail - what is wrong */
  constructor(file: string, detail: string) {
    super('InvalidHeader', file, detail);
  }
}

/**
 * A key appears twice in one JSON object of the header (at any level). `JSON.parse` would silently
 * keep the last one; other readers may keep the first, so such files are ambiguous.
 *
 * @example
 * ```ts
 * // header {"a":{...},"a":{...}}
 * try { parseSafetensors(bytes); } catch (e) { if (e instanceof DuplicateKeyError) console.log(e.key); }
 * ```
 */
export class DuplicateKeyError extends SafetensorsError {
  declare readonly code: 'DuplicateKey';
  /** The repeated key. */
  readonly key: string;
  /**
   * @param file - the file name
   * @param detail - what is wrong
   * @param key - the repeated key
   * @param tensor - the tensor whose entry holds the key, or the repeated tensor name
   */
  constructor(file: string, detail: string, key: string, tensor?: string) {
    super('DuplicateKey', file, detail, tensor);
    this.key = key;
  }
}

/**
 * The header is a JSON object of the wrong form: a tensor entry that is not
 * `{"dtype": KNOWN, "shape": [u64...], "data_offsets": [u64, u64]}`, or a `__metadata__` that is not
 * an object of strings.
 *
 * @example
 * ```ts
 * // header {"w":{"dtype":"F31","shape":[],"data_offsets":[0,4]}}
 * parseSafetensors(bytes); // throws InvalidHeaderDeserializationError (unknown dtype)
 * ```
 */
export class InvalidHeaderDeserializationError extends SafetensorsError {
  declare readonly code: 'InvalidHeaderDeserialization';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor?: string) {
    super('InvalidHeaderDeserialization', file, detail, tensor);
  }
}

/**
 * Sorted by `data_offsets`, the tensors do not cover the data buffer contiguously from 0: a gap,
 * an overlap, or an end before its begin.
 *
 * @example
 * ```ts
 * // header {"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}: a gap at 0
 * parseSafetensors(bytes); // throws InvalidOffsetError with tensor 'a'
 * ```
 */
export class InvalidOffsetError extends SafetensorsError {
  declare readonly code: 'InvalidOffset';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor: string) {
    super('InvalidOffset', file, detail, tensor);
  }
}

/**
 * A tensor's element count or byte size overflows 64 bits, or a dimension is above
 * `Number.MAX_SAFE_INTEGER` (JavaScript could not hold it exactly).
 *
 * @example
 * ```ts
 * // header {"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}
 * parseSafetensors(bytes); // throws ValidationOverflowError
 * ```
 */
export class ValidationOverflowError extends SafetensorsError {
  declare readonly code: 'ValidationOverflow';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor: string) {
    super('ValidationOverflow', file, detail, tensor);
  }
}

/**
 * A tensor of a sub-byte dtype (F4, F6_*) does not end on a byte boundary.
 *
 * @example
 * ```ts
 * // header {"w":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}: 12 bits
 * parseSafetensors(bytes); // throws MisalignedSliceError
 * ```
 */
export class MisalignedSliceError extends SafetensorsError {
  declare readonly code: 'MisalignedSlice';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor: string) {
    super('MisalignedSlice', file, detail, tensor);
  }
}

/**
 * A tensor's byte range (`end - begin`) differs from `shape` × dtype size.
 *
 * @example
 * ```ts
 * // header {"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}: needs 8 bytes
 * parseSafetensors(bytes); // throws TensorInvalidInfoError
 * ```
 */
export class TensorInvalidInfoError extends SafetensorsError {
  declare readonly code: 'TensorInvalidInfo';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor: string) {
    super('TensorInvalidInfo', file, detail, tensor);
  }
}

/**
 * The tensors do not end exactly at the end of the file: bytes are missing, or trailing bytes
 * follow the last tensor (which would allow polyglot files). Also thrown when a file shrinks while
 * it is being loaded.
 *
 * @example
 * ```ts
 * const ok = serializeSafetensors({ w: tensor([1, 2]) });
 * parseSafetensors(ok.subarray(0, ok.length - 1)); // throws MetadataIncompleteBufferError
 * ```
 */
export class MetadataIncompleteBufferError extends SafetensorsError {
  declare readonly code: 'MetadataIncompleteBuffer';
  /** @param file - the file name @param detail - what is wrong */
  constructor(file: string, detail: string) {
    super('MetadataIncompleteBuffer', file, detail);
  }
}

/**
 * The file is valid but holds a tensor of a dtype dlf tensors cannot hold (only F32, I32 and U8).
 *
 * @example
 * ```ts
 * try { await loadSafetensors('bf16.safetensors'); }
 * catch (e) { if (e instanceof UnsupportedDTypeError) console.log(e.tensor, e.dtype); }
 * ```
 */
export class UnsupportedDTypeError extends SafetensorsError {
  declare readonly code: 'UnsupportedDType';
  /** The file's dtype name, e.g. `'BF16'`. */
  readonly dtype: string;
  /**
   * @param file - the file name
   * @param detail - what is wrong
   * @param tensor - the tensor
   * @param dtype - the file's dtype name
   */
  constructor(file: string, detail: string, tensor: string, dtype: string) {
    super('UnsupportedDType', file, detail, tensor);
    this.dtype = dtype;
  }
}

/**
 * The file is valid but holds a tensor of more than 16 dimensions, the most dlf tensors have.
 *
 * @example
 * ```ts
 * try { parseSafetensors(bytes); }
 * catch (e) { if (e instanceof UnsupportedShapeError) console.log(e.tensor); }
 * ```
 */
export class UnsupportedShapeError extends SafetensorsError {
  declare readonly code: 'UnsupportedShape';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor: string) {
    super('UnsupportedShape', file, detail, tensor);
  }
}

// ---------------------------------------------------------------------------------------------
// Constants and small helpers
// ---------------------------------------------------------------------------------------------

/** The reference's `MAX_HEADER_SIZE`. */
const MAX_HEADER_SIZE = 100_000_000;
const U64_MAX = (1n << 64n) - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** serde_json's recursion limit; a valid header nests 3 levels. */
const MAX_DEPTH = 128;
/** The most dimensions a dlf tensor has. */
const MAX_RANK = 16;
/** Reads and writes go through in slices of at most this many bytes (fs calls cap near 2 GiB). */
const IO_CHUNK = 1 << 30;

/** Every dtype of the format, with its size in bits (a Map: header strings never index an object). */
const DTYPE_BITS: ReadonlyMap<string, number> = new Map([
  ['BOOL', 8],
  ['F4', 4],
  ['F6_E2M3', 6],
  ['F6_E3M2', 6],
  ['U8', 8],
  ['I8', 8],
  ['F8_E5M2', 8],
  ['F8_E4M3', 8],
  ['F8_E8M0', 8],
  ['F8_E4M3FNUZ', 8],
  ['F8_E5M2FNUZ', 8],
  ['I16', 16],
  ['U16', 16],
  ['F16', 16],
  ['BF16', 16],
  ['I32', 32],
  ['U32', 32],
  ['F32', 32],
  ['C64', 64],
  ['F64', 64],
  ['I64', 64],
  ['U64', 64],
]);

/** The file dtypes dlf loads. */
const LOADABLE: ReadonlyMap<string, DType> = new Map([
  ['F32', 'float32'],
  ['I32', 'int32'],
  ['U8', 'uint8'],
]);

const FILE_DTYPE: Readonly<Record<DType, string>> = { float32: 'F32', int32: 'I32', uint8: 'U8' };

/**
 * The reference writer sorts by `Dtype` in descending enum order (the enum is declared in increasing
 * alignment: ... U8 ... I32, U32, F32 ...), then by name. So F32 comes before I32 before U8.
 */
const WRITE_ORDER: Readonly<Record<DType, number>> = { float32: 0, int32: 1, uint8: 2 };

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const utf8 = new TextEncoder();

function show(name: string): string {
  const s = name.length > 80 ? `${name.slice(0, 77)}...` : name;
  return JSON.stringify(s);
}

/** A lone surrogate cannot be written as UTF-8 (the reference rejects `\ud800` escapes). */
function isWellFormed(s: string): boolean {
  return !/\p{Surrogate}/u.test(s);
}

/** Byte order of the UTF-8 encodings, which is code point order (Rust's `String` ordering). */
function compareCodePoints(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function bytesOf(arr: DataArray): Uint8Array {
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

/** Reverses each 4-byte group in place (only used on big-endian hosts). */
function swap4(bytes: Uint8Array): void {
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const a = bytes[i]!;
    const b = bytes[i + 1]!;
    bytes[i] = bytes[i + 3]!;
    bytes[i + 1] = bytes[i + 2]!;
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

// ---------------------------------------------------------------------------------------------
// Header JSON: a strict parser that keeps objects as Maps and rejects duplicate keys
// ---------------------------------------------------------------------------------------------

/** A number token that is not a u64 integer (negative, fraction, exponent, or above 2^64 - 1). */
const NOT_U64: unique symbol = Symbol('not a u64');

/**
 * Parsed JSON. Objects are Maps (header keys never land on plain objects); numbers are kept only
 * as far as the format needs them: u64 integers as a number (up to 15 digits) or a bigint, any other
 * number as {@link NOT_U64}. No number token allocates an object.
 */
type JsonValue = null | boolean | string | number | bigint | typeof NOT_U64 | JsonValue[] | JsonMap;
interface JsonMap extends Map<string, JsonValue> {}

function describeJson(v: JsonValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (typeof v === 'string') return `the string ${show(v)}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `the number ${v}`;
  if (v === NOT_U64) return 'a number that is not an integer in [0, 2^64)';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return 'an object';
}

/** The one-character escapes of JSON, by the character after the backslash. */
const ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x22, '"'],
  [0x5c, '\\'],
  [0x2f, '/'],
  [0x62, '\b'],
  [0x66, '\f'],
  [0x6e, '\n'],
  [0x72, '\r'],
  [0x74, '\t'],
]);

class HeaderParser {
  readonly #s: string;
  readonly #file: string;
  #i = 0;
  #depth = 0;
  /** The keys of the objects being parsed, outermost first (path[0] is a tensor name). */
  readonly #path: string[] = [];

  constructor(s: string, file: string) {
    this.#s = s;
    this.#file = file;
  }

  parse(): JsonMap {
    const root = this.#object();
    this.#ws();
    if (this.#i !== this.#s.length) throw this.#syntax('unexpected data after the header object');
    return root;
  }

  #syntax(what: string): InvalidHeaderError {
    return new InvalidHeaderError(
      this.#file,
      `the header is not a valid JSON object: ${what} at character ${this.#i}`,
    );
  }

  #ws(): void {
    const s = this.#s;
    let i = this.#i;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    }
    this.#i = i;
  }

  #value(): JsonValue {
    const c = this.#s.charCodeAt(this.#i);
    switch (c) {
      case 0x7b:
        return this.#object();
      case 0x5b:
        return this.#array();
      case 0x22:
        return this.#string();
      case 0x74:
        return this.#literal('true', true);
      case 0x66:
        return this.#literal('false', false);
      case 0x6e:
        return this.#literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.#number();
        throw this.#syntax(
          this.#i >= this.#s.length ? 'unexpected end' : `unexpected character ${show(this.#s[this.#i]!)}`,
        );
    }
  }

  #enter(): void {
    if (++this.#depth > MAX_DEPTH) throw this.#syntax(`values nested more than ${MAX_DEPTH} deep`);
  }

  #object(): JsonMap {
    this.#enter();
    this.#i++; // '{'
    const map: JsonMap = new Map();
    this.#ws();
    if (this.#s.charCodeAt(this.#i) === 0x7d) {
      this.#i++;
      this.#depth--;
      return map;
    }
    for (;;) {
      if (this.#s.charCodeAt(this.#i) !== 0x22) throw this.#syntax('expected a string key');
      const key = this.#string();
      if (map.has(key)) throw this.#duplicate(key);
      this.#ws();
      if (this.#s.charCodeAt(this.#i) !== 0x3a) throw this.#syntax("expected ':'");
      this.#i++;
      this.#ws();
      this.#path.push(key);
      map.set(key, this.#value());
      this.#path.pop();
      this.#ws();
      const c = this.#s.charCodeAt(this.#i);
      if (c === 0x2c) {
        this.#i++;
        this.#ws();
      } else if (c === 0x7d) {
        this.#i++;
        this.#depth--;
        return map;
      } else {
        throw this.#syntax("expected ',' or '}'");
      }
    }
  }

  #duplicate(key: string): DuplicateKeyError {
    const file = this.#file;
    const top = this.#path[0];
    if (top === undefined) {
      return key === '__metadata__'
        ? new DuplicateKeyError(file, "the header has two '__metadata__' entries", key)
        : new DuplicateKeyError(file, `tensor ${show(key)} appears twice in the header`, key, key);
    }
    if (top === '__metadata__') {
      return new DuplicateKeyError(file, `metadata key ${show(key)} appears twice`, key);
    }
    return new DuplicateKeyError(
      file,
      `key ${show(key)} appears twice in the entry of tensor ${show(top)}`,
      key,
      top,
    );
  }

  #array(): JsonValue[] {
    this.#enter();
    this.#i++; // '['
    const out: JsonValue[] = [];
    this.#ws();
    if (this.#s.charCodeAt(this.#i) === 0x5d) {
      this.#i++;
      this.#depth--;
      return out;
    }
    for (;;) {
      out.push(this.#value());
      this.#ws();
      const c = this.#s.charCodeAt(this.#i);
      if (c === 0x2c) {
        this.#i++;
        this.#ws();
      } else if (c === 0x5d) {
        this.#i++;
        this.#depth--;
        return out;
      } else {
        throw this.#syntax("expected ',' or ']'");
      }
    }
  }

  #literal<T extends JsonValue>(word: string, value: T): T {
    if (!this.#s.startsWith(word, this.#i)) throw this.#syntax('invalid literal');
    this.#i += word.length;
    return value;
  }

  #hex4(at: number): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.#s.charCodeAt(at + k);
      const d =
        c >= 0x30 && c <= 0x39
          ? c - 0x30
          : c >= 0x61 && c <= 0x66
            ? c - 87
            : c >= 0x41 && c <= 0x46
              ? c - 55
              : -1;
      if (d < 0) {
        this.#i = at;
        throw this.#syntax('invalid \\u escape');
      }
      v = v * 16 + d;
    }
    return v;
  }

  #string(): string {
    const s = this.#s;
    let i = this.#i + 1; // after '"'
    let start = i;
    let out = '';
    for (;;) {
      if (i >= s.length) {
        this.#i = i;
        throw this.#syntax('unterminated string');
      }
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.#i = i + 1;
        return out + s.slice(start, i);
      }
      if (c < 0x20) {
        this.#i = i;
        throw this.#syntax('unescaped control character in a string');
      }
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += s.slice(start, i);
      const e = s.charCodeAt(i + 1);
      if (e === 0x75) {
        const unit = this.#hex4(i + 2);
        i += 6;
        if (unit >= 0xd800 && unit <= 0xdbff) {
          const low = s.charCodeAt(i) === 0x5c && s.charCodeAt(i + 1) === 0x75 ? this.#hex4(i + 2) : -1;
          if (low < 0xdc00 || low > 0xdfff) {
            this.#i = i;
            throw this.#syntax('lone surrogate in a \\u escape');
          }
          out += String.fromCharCode(unit, low);
          i += 6;
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
          this.#i = i;
          throw this.#syntax('lone surrogate in a \\u escape');
        } else {
          out += String.fromCharCode(unit);
        }
      } else {
        const r = ESCAPES.get(e);
        if (r === undefined) {
          this.#i = i;
          throw this.#syntax('invalid escape');
        }
        out += r;
        i += 2;
      }
      start = i;
    }
  }

  #number(): number | bigint | typeof NOT_U64 {
    const s = this.#s;
    const start = this.#i;
    let i = start;
    const digit = (k: number) => {
      const c = s.charCodeAt(k);
      return c >= 0x30 && c <= 0x39;
    };
    const negative = s.charCodeAt(i) === 0x2d;
    if (negative) i++;
    if (s.charCodeAt(i) === 0x30) {
      i++;
    } else if (digit(i)) {
      while (digit(i)) i++;
    } else {
      this.#i = i;
      throw this.#syntax('invalid number');
    }
    const intEnd = i;
    let integer = true;
    if (s.charCodeAt(i) === 0x2e) {
      integer = false;
      i++;
      if (!digit(i)) {
        this.#i = i;
        throw this.#syntax('invalid number');
      }
      while (digit(i)) i++;
    }
    const ch = s.charCodeAt(i);
    if (ch === 0x65 || ch === 0x45) {
      integer = false;
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      if (!digit(i)) {
        this.#i = i;
        throw this.#syntax('invalid number');
      }
      while (digit(i)) i++;
    }
    this.#i = i;
    if (negative || !integer) return NOT_U64;
    const digits = intEnd - start;
    if (digits <= 15) return Number(s.slice(start, intEnd));
    if (digits > 20) return NOT_U64;
    const big = BigInt(s.slice(start, intEnd));
    return big <= U64_MAX ? big : NOT_U64;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading: the rules, in the reference's order
// ---------------------------------------------------------------------------------------------

interface Entry {
  name: string;
  dtype: string;
  bits: number;
  /** Dimensions as parsed: numbers below 10^15, bigints for longer integers. */
  shape: (number | bigint)[];
  begin: bigint;
  end: bigint;
}

/** A validated file: what to allocate and where each tensor's bytes are. */
interface LoadPlan {
  tensors: { name: string; dtype: DType; shape: number[]; offset: number; byteLength: number }[];
  metadata: Record<string, string>;
}

/** Rules 1-3: returns the header size N. `prefix` holds the file's first 8 bytes. */
function headerSize(prefix: Uint8Array, fileLength: number, file: string): number {
  if (fileLength < 8) {
    throw new HeaderTooSmallError(
      file,
      `the file has ${fileLength} bytes, fewer than the 8 of the header size`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw new HeaderTooLargeError(
      file,
      `the header size is ${n} bytes, above the limit of ${MAX_HEADER_SIZE}`,
    );
  }
  if (8n + n > BigInt(fileLength)) {
    throw new InvalidHeaderLengthError(
      file,
      `the header size is ${n} bytes but the file has only ${fileLength - 8} bytes after the size`,
    );
  }
  return Number(n);
}

/** A shape for messages: at most 8 dimensions shown. */
function showShape(shape: readonly (number | bigint)[]): string {
  return shape.length > 8
    ? `[${shape.slice(0, 8).join(', ')}, ... (${shape.length} dimensions)]`
    : `[${shape.join(', ')}]`;
}

/**
 * The element count with checked 64-bit multiplication (undefined on overflow, like the reference's
 * `checked_mul`). Multiplies in doubles while exact and switches to bigints only past 2^53, so a
 * long shape of small dimensions costs no bigint per dimension.
 */
function elementCount(shape: readonly (number | bigint)[]): bigint | undefined {
  let small = 1;
  let big: bigint | undefined;
  for (const d of shape) {
    if (d === 1) continue;
    if (d === 0 || d === 0n) return 0n; // 0 times anything never overflows
    if (big === undefined && typeof d === 'number') {
      const q = small * d;
      if (q <= Number.MAX_SAFE_INTEGER) {
        small = q;
        continue;
      }
    }
    big = (big ?? BigInt(small)) * BigInt(d);
    if (big > U64_MAX) return undefined;
  }
  return big ?? BigInt(small);
}

function u64(v: JsonValue | undefined): bigint | undefined {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'bigint') return v;
  return undefined;
}

function readEntry(name: string, value: JsonValue, file: string): Entry {
  const bad = (what: string) =>
    new InvalidHeaderDeserializationError(file, `tensor ${show(name)}: ${what}`, name);
  if (!(value instanceof Map)) {
    throw bad(`the entry must be an object with dtype, shape and data_offsets, not ${describeJson(value)}`);
  }
  // Other keys are ignored, as serde does for the reference's TensorInfo.
  const dtype = value.get('dtype');
  if (typeof dtype !== 'string') throw bad(`dtype must be a string, not ${describeJson(dtype)}`);
  const bits = DTYPE_BITS.get(dtype);
  if (bits === undefined) throw bad(`unknown dtype ${show(dtype)}`);
  const shapeJson = value.get('shape');
  if (!Array.isArray(shapeJson)) {
    throw bad(`shape must be an array of integers, not ${describeJson(shapeJson)}`);
  }
  for (const d of shapeJson) {
    if (typeof d !== 'number' && typeof d !== 'bigint') {
      throw bad(`shape must hold integers in [0, 2^64), not ${describeJson(d)}`);
    }
  }
  const shape = shapeJson as (number | bigint)[];
  const offsets = value.get('data_offsets');
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw bad(`data_offsets must be an array of two integers [begin, end], not ${describeJson(offsets)}`);
  }
  const begin = u64(offsets[0]);
  const end = u64(offsets[1]);
  if (begin === undefined || end === undefined) {
    throw bad(
      `data_offsets must hold integers in [0, 2^64), not ${describeJson(begin === undefined ? offsets[0] : offsets[1])}`,
    );
  }
  return { name, dtype, bits, shape, begin, end };
}

/** Rules 4-7 on the header bytes, then what dlf can load. Allocates nothing for tensor data. */
function planLoad(header: Uint8Array, fileLength: number, file: string): LoadPlan {
  const n = header.length;
  // Rule 4: UTF-8 (fatal: no replacement characters; ignoreBOM: a BOM stays and fails the '{' test).
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(header);
  } catch {
    throw new InvalidHeaderError(file, 'the header is not valid UTF-8');
  }
  if (text.charCodeAt(0) !== 0x7b) {
    throw new InvalidHeaderError(
      file,
      text.length === 0
        ? 'the header is empty'
        : `the header must begin with '{', not ${show(text.slice(0, 1))}`,
    );
  }
  const root = new HeaderParser(text, file).parse();

  // Deserialization: the form of each entry.
  const metadata = Object.create(null) as Record<string, string>;
  const entries: Entry[] = [];
  for (const [key, value] of root) {
    if (key === '__metadata__') {
      if (!(value instanceof Map)) {
        throw new InvalidHeaderDeserializationError(
          file,
          `__metadata__ must be an object of strings, not ${describeJson(value)}`,
        );
      }
      for (const [k, v] of value) {
        if (typeof v !== 'string') {
          throw new InvalidHeaderDeserializationError(
            file,
            `__metadata__ values must be strings, but ${show(k)} is ${describeJson(v)}`,
          );
        }
        metadata[k] = v; // a null-prototype object: '__proto__' is an ordinary key here
      }
    } else {
      entries.push(readEntry(key, value, file));
    }
  }

  // Rules 5-6, walking the tensors sorted by offsets (ties by name, for a stable report).
  entries.sort(
    (a, b) => compareBig(a.begin, b.begin) || compareBig(a.end, b.end) || compareCodePoints(a.name, b.name),
  );
  let start = 0n;
  for (const e of entries) {
    const where = `tensor ${show(e.name)}`;
    if (e.begin !== start || e.end < e.begin) {
      const why =
        e.begin !== start
          ? `begins at ${e.begin} but the data before it ends at ${start}`
          : `ends at ${e.end}, before its begin ${e.begin}`;
      throw new InvalidOffsetError(
        file,
        `${where} has data_offsets [${e.begin}, ${e.end}]: it ${why} (sorted by offset, tensors must cover the data from 0 with no gap or overlap)`,
        e.name,
      );
    }
    start = e.end;
    const count = elementCount(e.shape);
    if (count === undefined) {
      throw new ValidationOverflowError(
        file,
        `${where}: the element count of shape ${showShape(e.shape)} overflows 64 bits`,
        e.name,
      );
    }
    const nbits = count * BigInt(e.bits);
    if (nbits > U64_MAX) {
      throw new ValidationOverflowError(
        file,
        `${where}: the size of shape ${showShape(e.shape)} as ${e.dtype} overflows 64 bits`,
        e.name,
      );
    }
    if (e.shape.some((d) => typeof d === 'bigint' && d > MAX_SAFE)) {
      throw new ValidationOverflowError(
        file,
        `${where}: a dimension of shape ${showShape(e.shape)} is above 2^53 - 1`,
        e.name,
      );
    }
    if (nbits % 8n !== 0n) {
      throw new MisalignedSliceError(
        file,
        `${where}: shape ${showShape(e.shape)} of ${e.dtype} is ${nbits} bits, not whole bytes`,
        e.name,
      );
    }
    if (e.end - e.begin !== nbits / 8n) {
      throw new TensorInvalidInfoError(
        file,
        `${where}: shape ${showShape(e.shape)} of ${e.dtype} needs ${nbits / 8n} bytes but data_offsets [${e.begin}, ${e.end}] hold ${e.end - e.begin}`,
        e.name,
      );
    }
  }
  // Rule 7: the tensors end exactly at the end of the file.
  if (start + 8n + BigInt(n) !== BigInt(fileLength)) {
    const available = fileLength - 8 - n;
    throw new MetadataIncompleteBufferError(
      file,
      start > BigInt(available)
        ? `the tensors need ${start} bytes of data but the file holds ${available} after the header`
        : `the tensors cover ${start} bytes of data but the file holds ${available} after the header (no trailing bytes allowed)`,
    );
  }

  // A valid file; now what dlf tensors can hold. Every number below is at most the file length.
  const tensors: LoadPlan['tensors'] = [];
  for (const e of entries) {
    const dtype = LOADABLE.get(e.dtype);
    if (dtype === undefined) {
      throw new UnsupportedDTypeError(
        file,
        `tensor ${show(e.name)} has dtype ${e.dtype}; dlf tensors hold F32, I32 and U8 only`,
        e.name,
        e.dtype,
      );
    }
    if (e.shape.length > MAX_RANK) {
      throw new UnsupportedShapeError(
        file,
        `tensor ${show(e.name)} has ${e.shape.length} dimensions; dlf tensors have at most ${MAX_RANK}`,
        e.name,
      );
    }
    tensors.push({
      name: e.name,
      dtype,
      shape: e.shape.map(Number),
      offset: 8 + n + Number(e.begin),
      byteLength: Number(e.end - e.begin),
    });
  }
  return { tensors, metadata };
}

/** Allocates each tensor (uninitialised) and returns the byte view to fill; disposes all on failure. */
function allocate(plan: LoadPlan): {
  tensors: Map<string, Tensor>;
  slots: { bytes: Uint8Array; offset: number }[];
} {
  const tensors = new Map<string, Tensor>();
  const slots: { bytes: Uint8Array; offset: number }[] = [];
  try {
    for (const p of plan.tensors) {
      const t = new Tensor(native.empty(p.shape, dtypeCode(p.dtype)), p.shape, p.dtype);
      tensors.set(p.name, t);
      const bytes = bytesOf(t.data());
      if (bytes.length !== p.byteLength) {
        throw new Error(`internal: tensor ${show(p.name)} has ${bytes.length} bytes`);
      }
      slots.push({ bytes, offset: p.offset });
    }
  } catch (e) {
    disposeAll(tensors);
    throw e;
  }
  return { tensors, slots };
}

function disposeAll(tensors: Map<string, Tensor>): void {
  for (const t of tensors.values()) t.dispose();
}

function fromLittleEndian(slots: { bytes: Uint8Array }[], plan: LoadPlan): void {
  if (LITTLE_ENDIAN) return;
  plan.tensors.forEach((p, i) => {
    if (dtypeBytes(p.dtype) === 4) swap4(slots[i]!.bytes);
  });
}

/** The tensors and metadata of a safetensors file. */
export interface SafetensorsContents {
  /** The tensors by name, in the order of their data in the file. */
  tensors: Map<string, Tensor>;
  /**
   * The `__metadata__` strings (empty when the file has none). A null-prototype object, so a key
   * such as `__proto__` is stored as an ordinary property.
   */
  metadata: Record<string, string>;
}

/**
 * Parses a whole safetensors file held in memory, enforcing every rule of the format in the
 * reference reader's order, then copies each tensor into a new dlf tensor. Throws a
 * {@link SafetensorsError} subclass naming `source` (and the tensor) for any invalid file; nothing
 * is allocated for tensor data before the whole header is validated, and then exactly
 * `bytes.length - 8 - N` bytes.
 *
 * @param bytes - the file's bytes
 * @param source - a name for the bytes in error messages
 * @example
 * ```ts
 * const { tensors, metadata } = parseSafetensors(await readFile('model.safetensors'), 'model.safetensors');
 * tensors.get('fc.weight')?.shape;
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsContents {
  if (!(bytes instanceof Uint8Array)) throw invalidParam('bytes', 'a Uint8Array', bytes, 'type');
  if (typeof source !== 'string') throw invalidParam('source', 'a string', source, 'type');
  const n = headerSize(bytes, bytes.length, source);
  const plan = planLoad(bytes.subarray(8, 8 + n), bytes.length, source);
  const { tensors, slots } = allocate(plan);
  for (const s of slots) s.bytes.set(bytes.subarray(s.offset, s.offset + s.bytes.length));
  fromLittleEndian(slots, plan);
  return { tensors, metadata: plan.metadata };
}

function checkPath(path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw invalidParam('path', 'a non-empty string', path, 'type');
  }
  return path;
}

function shrank(file: string): MetadataIncompleteBufferError {
  return new MetadataIncompleteBufferError(file, 'the file ended early (was it changed while loading?)');
}

function readFullySync(fd: number, target: Uint8Array, position: number, file: string): void {
  for (let done = 0; done < target.length; ) {
    const got = readSync(fd, target, done, Math.min(target.length - done, IO_CHUNK), position + done);
    if (got === 0) throw shrank(file);
    done += got;
  }
}

async function readFully(fh: FileHandle, target: Uint8Array, position: number, file: string): Promise<void> {
  for (let done = 0; done < target.length; ) {
    const { bytesRead } = await fh.read(
      target,
      done,
      Math.min(target.length - done, IO_CHUNK),
      position + done,
    );
    if (bytesRead === 0) throw shrank(file);
    done += bytesRead;
  }
}

/**
 * Loads a safetensors file with the checks of {@link parseSafetensors}, reading the header first and
 * then each tensor's bytes straight into its memory (the file is never held whole in memory).
 * Errors name the file.
 *
 * @param path - the file
 * @example
 * ```ts
 * const { tensors, metadata } = await loadSafetensors('runs/a/model.safetensors');
 * console.log([...tensors.keys()], metadata);
 * ```
 */
export async function loadSafetensors(path: string): Promise<SafetensorsContents> {
  checkPath(path);
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const prefix = new Uint8Array(8);
    if (size >= 8) await readFully(fh, prefix, 0, path);
    const n = headerSize(prefix, size, path);
    const header = new Uint8Array(n);
    await readFully(fh, header, 8, path);
    const plan = planLoad(header, size, path);
    const { tensors, slots } = allocate(plan);
    try {
      for (const s of slots) await readFully(fh, s.bytes, s.offset, path);
    } catch (e) {
      disposeAll(tensors);
      throw e;
    }
    fromLittleEndian(slots, plan);
    return { tensors, metadata: plan.metadata };
  } finally {
    await fh.close();
  }
}

/**
 * The synchronous form of {@link loadSafetensors}.
 *
 * @param path - the file
 * @example
 * ```ts
 * const { tensors } = loadSafetensorsSync('model.safetensors');
 * ```
 */
export function loadSafetensorsSync(path: string): SafetensorsContents {
  checkPath(path);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const prefix = new Uint8Array(8);
    if (size >= 8) readFullySync(fd, prefix, 0, path);
    const n = headerSize(prefix, size, path);
    const header = new Uint8Array(n);
    readFullySync(fd, header, 8, path);
    const plan = planLoad(header, size, path);
    const { tensors, slots } = allocate(plan);
    try {
      for (const s of slots) readFullySync(fd, s.bytes, s.offset, path);
    } catch (e) {
      disposeAll(tensors);
      throw e;
    }
    fromLittleEndian(slots, plan);
    return { tensors, metadata: plan.metadata };
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/** Tensors to write: a Map or a record, by name. */
export type SafetensorsInput = Map<string, Tensor> | Record<string, Tensor>;

interface WritePlan {
  /** The 8-byte size and the padded header. */
  head: Uint8Array;
  items: { name: string; tensor: Tensor; byteLength: number }[];
  totalLength: number;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string') throw invalidParam('tensor name', 'a string', name, 'type');
  if (name.length === 0) throw invalidParam('tensor name', 'a non-empty string', name);
  if (name === '__metadata__') {
    throw invalidParam('tensor name', "a name other than '__metadata__' (reserved)", name);
  }
  if (!isWellFormed(name)) throw invalidParam('tensor name', 'a string without lone surrogates', name);
  return name;
}

function planWrite(tensors: SafetensorsInput, metadata: Record<string, string> | undefined): WritePlan {
  let pairs: [unknown, unknown][];
  if (tensors instanceof Map) {
    pairs = [...tensors];
  } else if (
    typeof tensors === 'object' &&
    tensors !== null &&
    !Array.isArray(tensors) &&
    !isTensor(tensors)
  ) {
    pairs = Object.entries(tensors);
  } else {
    throw invalidParam('tensors', 'a Map or a record of tensors by name', tensors, 'type');
  }
  const items = pairs.map(([rawName, t]) => {
    const name = checkName(rawName);
    if (!isTensor(t)) throw invalidParam(`tensors[${show(name)}]`, 'a Tensor', t, 'type');
    if (t.isDisposed) {
      throw new TypeError(
        `Expected a tensor that is not disposed for tensors[${show(name)}] but received a disposed tensor of shape [${t.shape.join(', ')}]`,
      );
    }
    if (!Object.hasOwn(FILE_DTYPE, t.dtype)) {
      throw invalidParam(`tensors[${show(name)}].dtype`, "'float32', 'int32' or 'uint8'", t.dtype);
    }
    return { name, tensor: t, key: Buffer.from(name, 'utf8'), byteLength: t.size * dtypeBytes(t.dtype) };
  });

  let meta: [string, string][] = [];
  if (metadata !== undefined) {
    if (
      typeof metadata !== 'object' ||
      metadata === null ||
      Array.isArray(metadata) ||
      metadata instanceof Map
    ) {
      throw invalidParam('metadata', 'a record of strings', metadata, 'type');
    }
    meta = Object.entries(metadata);
    for (const [k, v] of meta) {
      if (typeof v !== 'string') {
        throw invalidParam(`metadata[${show(k)}]`, 'a string (metadata holds strings only)', v, 'type');
      }
      if (!isWellFormed(k)) throw invalidParam('metadata key', 'a string without lone surrogates', k);
      if (!isWellFormed(v)) throw invalidParam(`metadata[${show(k)}]`, 'a string without lone surrogates', v);
    }
    meta.sort((a, b) => compareCodePoints(a[0], b[0]));
  }

  // The reference writer's order: dtype (F32, I32, U8), then name by UTF-8 bytes.
  items.sort(
    (a, b) => WRITE_ORDER[a.tensor.dtype] - WRITE_ORDER[b.tensor.dtype] || Buffer.compare(a.key, b.key),
  );
  const parts: string[] = [];
  if (meta.length > 0) {
    parts.push(
      `"__metadata__":{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`,
    );
  }
  let offset = 0;
  for (const it of items) {
    const t = it.tensor;
    parts.push(
      `${JSON.stringify(it.name)}:{"dtype":"${FILE_DTYPE[t.dtype]}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + it.byteLength}]}`,
    );
    offset += it.byteLength;
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.length / 8) * 8; // every tensor then starts at a multiple of 8
  if (n > MAX_HEADER_SIZE) {
    throw invalidParam('tensors', `a header of at most ${MAX_HEADER_SIZE} bytes`, `a header of ${n} bytes`);
  }
  const head = new Uint8Array(8 + n);
  new DataView(head.buffer).setBigUint64(0, BigInt(n), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length);
  return { head, items, totalLength: 8 + n + offset };
}

/** The bytes of one tensor, little-endian and row-major (a zero-copy view when possible). */
function tensorBytes(item: WritePlan['items'][number]): Uint8Array {
  const t = item.tensor;
  const bytes = bytesOf(t.isContiguous ? t.data() : t.toTypedArray());
  if (bytes.length !== item.byteLength) {
    throw new Error(
      `Tensor ${show(item.name)} has ${bytes.length} bytes of data, expected ${item.byteLength}`,
    );
  }
  if (LITTLE_ENDIAN || dtypeBytes(t.dtype) === 1) return bytes;
  const copy = bytes.slice();
  swap4(copy);
  return copy;
}

/**
 * Serializes tensors (and optional string metadata) to the bytes of a safetensors file, laid out as
 * the reference writer does: tensors sorted by dtype (F32, I32, then U8) then name, offsets
 * contiguous from 0, header padded with spaces to a multiple of 8 so the data starts 8-byte aligned
 * (and, with that order, every tensor at a multiple of its element size: the format allows no
 * padding between tensors). Views are written as their elements in row-major order. `__metadata__`
 * is written only when `metadata` has entries, with its keys sorted.
 *
 * @param tensors - the tensors by name (names non-empty, not `__metadata__`)
 * @param metadata - string values only
 * @example
 * ```ts
 * const bytes = serializeSafetensors({ 'fc.weight': randn([4, 3]) }, { format: 'pt' });
 * ```
 */
export function serializeSafetensors(
  tensors: SafetensorsInput,
  metadata?: Record<string, string>,
): Uint8Array {
  const plan = planWrite(tensors, metadata);
  const out = new Uint8Array(plan.totalLength);
  out.set(plan.head, 0);
  let pos = plan.head.length;
  for (const it of plan.items) {
    out.set(tensorBytes(it), pos);
    pos += it.byteLength;
  }
  return out;
}

function tempPath(path: string): string {
  const base = Array.from(basename(path)).slice(0, 100).join('');
  return join(dirname(path), `.tmp-${base}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, IO_CHUNK));
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    done += (await fh.write(bytes, done, Math.min(bytes.length - done, IO_CHUNK))).bytesWritten;
  }
}

function syncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Best effort: some platforms and file systems cannot fsync a directory.
  }
}

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file in the same folder
 * (`.tmp-<name>-<pid>-<random>`), which is fsynced and then renamed over `path`; the folder is then
 * fsynced (best effort). On any failure the temporary file is removed and an existing `path` is left
 * untouched. Arguments are checked before anything is written. Tensors are streamed to the file one
 * by one, never assembled in memory. A symbolic link at `path` is replaced, not followed.
 *
 * @param path - the file to create or replace
 * @param tensors - the tensors by name
 * @param metadata - string values only
 * @example
 * ```ts
 * await saveSafetensors('runs/a/model.safetensors', new Map([['w', w], ['b', b]]), { epoch: '7' });
 * ```
 */
export async function saveSafetensors(
  path: string,
  tensors: SafetensorsInput,
  metadata?: Record<string, string>,
): Promise<void> {
  checkPath(path);
  const plan = planWrite(tensors, metadata);
  const tmp = tempPath(path);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx');
    await writeAll(fh, plan.head);
    for (const it of plan.items) await writeAll(fh, tensorBytes(it));
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  try {
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Best effort, as in syncDirSync.
  }
}

/**
 * The synchronous form of {@link saveSafetensors}, with the same atomic replacement.
 *
 * @param path - the file to create or replace
 * @param tensors - the tensors by name
 * @param metadata - string values only
 * @example
 * ```ts
 * saveSafetensorsSync('model.safetensors', { w: tensor([1, 2, 3]) });
 * ```
 */
export function saveSafetensorsSync(
  path: string,
  tensors: SafetensorsInput,
  metadata?: Record<string, string>,
): void {
  checkPath(path);
  const plan = planWrite(tensors, metadata);
  const tmp = tempPath(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    writeAllSync(fd, plan.head);
    for (const it of plan.items) writeAllSync(fd, tensorBytes(it));
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error matters
      }
    }
    try {
      rmSync(tmp, { force: true });
    } catch {
      // best effort; the original error matters
    }
    throw e;
  }
  syncDirSync(dirname(path));
}
