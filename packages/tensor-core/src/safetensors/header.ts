/**
 * Validating a header: every rule of the reference reader (huggingface/safetensors `read_metadata` +
 * `Metadata::validate`), in the same order, then what dlf tensors can hold.
 */
import type { DType } from '../dtype.js';
import {
  HeaderTooLargeError,
  HeaderTooSmallError,
  InvalidHeaderDeserializationError,
  InvalidHeaderError,
  InvalidHeaderLengthError,
  InvalidOffsetError,
  MetadataIncompleteBufferError,
  MisalignedSliceError,
  TensorInvalidInfoError,
  UnsupportedDTypeError,
  UnsupportedShapeError,
  ValidationOverflowError,
} from './errors.js';
import {
  compareBig,
  compareCodePoints,
  DTYPE_BITS,
  LOADABLE,
  MAX_HEADER_SIZE,
  MAX_RANK,
  MAX_SAFE,
  show,
  U64_MAX,
} from './format.js';
import { describeJson, HeaderParser, type JsonValue } from './header-json.js';

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
export interface LoadPlan {
  tensors: { name: string; dtype: DType; shape: number[]; offset: number; byteLength: number }[];
  metadata: Record<string, string>;
}

/** Rules 1-3: returns the header size N. `prefix` holds the file's first 8 bytes. */
export function headerSize(prefix: Uint8Array, fileLength: number, file: string): number {
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
export function planLoad(header: Uint8Array, fileLength: number, file: string): LoadPlan {
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
