/** Constants of the safetensors format and the small helpers the reader and the writer share. */
import type { DataArray, DType } from '../dtype.js';

/** The reference's `MAX_HEADER_SIZE`. */
export const MAX_HEADER_SIZE = 100_000_000;
export const U64_MAX = (1n << 64n) - 1n;
export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** serde_json's recursion limit; a valid header nests 3 levels. */
export const MAX_DEPTH = 128;
/** The most dimensions a dlf tensor has. */
export const MAX_RANK = 16;
/** Reads and writes go through in slices of at most this many bytes (fs calls cap near 2 GiB). */
export const IO_CHUNK = 1 << 30;

/** Every dtype of the format, with its size in bits (a Map: header strings never index an object). */
export const DTYPE_BITS: ReadonlyMap<string, number> = new Map([
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
export const LOADABLE: ReadonlyMap<string, DType> = new Map([
  ['F32', 'float32'],
  ['I32', 'int32'],
  ['U8', 'uint8'],
]);

export const FILE_DTYPE: Readonly<Record<DType, string>> = { float32: 'F32', int32: 'I32', uint8: 'U8' };

/**
 * The reference writer sorts by `Dtype` in descending enum order (the enum is declared in increasing
 * alignment: ... U8 ... I32, U32, F32 ...), then by name. So F32 comes before I32 before U8.
 */
export const WRITE_ORDER: Readonly<Record<DType, number>> = { float32: 0, int32: 1, uint8: 2 };

export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export const utf8 = new TextEncoder();

export function show(name: string): string {
  const s = name.length > 80 ? `${name.slice(0, 77)}...` : name;
  return JSON.stringify(s);
}

/** A lone surrogate cannot be written as UTF-8 (the reference rejects `\ud800` escapes). */
export function isWellFormed(s: string): boolean {
  return !/\p{Surrogate}/u.test(s);
}

/** Byte order of the UTF-8 encodings, which is code point order (Rust's `String` ordering). */
export function compareCodePoints(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function bytesOf(arr: DataArray): Uint8Array {
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

/** Reverses each 4-byte group in place (only used on big-endian hosts). */
export function swap4(bytes: Uint8Array): void {
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const a = bytes[i]!;
    const b = bytes[i + 1]!;
    bytes[i] = bytes[i + 3]!;
    bytes[i + 1] = bytes[i + 2]!;
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}
