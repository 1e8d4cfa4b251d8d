/**
 * The protobuf wire format, just what ONNX needs: a writer that builds a message from parts (nested
 * messages are measured, not re-copied) and a bounded reader over a byte range.
 *
 * Why our own and not a protobuf package: the common ones generate code from .proto files at build
 * time or carry install scripts, and a general decoder does not offer the bounds a hostile file
 * calls for (every length checked against the bytes left before anything is allocated, a nesting
 * limit, a budget of fields and list values). ONNX uses a handful of messages and four wire types.
 */
import { OnnxError } from '../errors.js';

/** The wire types ONNX uses (groups, types 3 and 4, are refused). */
export const WIRE = Object.freeze({ varint: 0, i64: 1, len: 2, i32: 5 });

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Builds one protobuf message. Nested messages are separate writers whose parts are appended, so a
 * large initializer's bytes are copied once, into the final buffer.
 */
export class ProtoWriter {
  private parts: Uint8Array[] = [];
  private scratch = new Uint8Array(64);
  private used = 0;
  /** Bytes written so far. */
  length = 0;

  private flush(): void {
    if (this.used > 0) {
      this.parts.push(this.scratch.slice(0, this.used));
      this.used = 0;
    }
  }
  private byte(b: number): void {
    if (this.used === this.scratch.length) this.flush();
    this.scratch[this.used++] = b;
    this.length++;
  }
  /** An unsigned varint (a non-negative safe integer). */
  private rawVarint(v: number): void {
    let n = v;
    while (n >= 0x80) {
      this.byte((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.byte(n);
  }
  /** A varint of a signed 64-bit integer (negatives as ten-byte two's complement). */
  private signedVarint(v: number): void {
    if (v >= 0) {
      this.rawVarint(v);
      return;
    }
    let n = BigInt.asUintN(64, BigInt(v));
    while (n >= 0x80n) {
      this.byte(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.byte(Number(n));
  }
  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }
  private bytesRaw(b: Uint8Array): void {
    this.flush();
    this.parts.push(b);
    this.length += b.length;
  }
  /** An int32/int64/enum/bool field (skipped when zero unless `always`). */
  int(field: number, v: number, always = false): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`protobuf field ${field}: ${v} is not an integer`);
    if (v === 0 && !always) return this;
    this.tag(field, WIRE.varint);
    this.signedVarint(v);
    return this;
  }
  /** A float field (32-bit). */
  float(field: number, v: number): this {
    this.tag(field, WIRE.i32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.byte(x);
    return this;
  }
  /** A string field (skipped when empty). */
  string(field: number, s: string | undefined): this {
    if (s === undefined || s === '') return this;
    return this.bytes(field, textEncoder.encode(s));
  }
  /** A bytes field. */
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE.len);
    this.rawVarint(b.length);
    this.bytesRaw(b);
    return this;
  }
  /** A packed repeated int64 field (skipped when empty). */
  packedInts(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const inner = new ProtoWriter();
    for (const v of values) {
      if (!Number.isSafeInteger(v)) throw new RangeError(`protobuf field ${field}: ${v} is not an integer`);
      inner.signedVarint(v);
    }
    return this.message(field, inner);
  }
  /** A packed repeated float field (skipped when empty). */
  packedFloats(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }
  /** A nested message field. */
  message(field: number, inner: ProtoWriter): this {
    inner.flush();
    this.tag(field, WIRE.len);
    this.rawVarint(inner.length);
    this.flush();
    this.parts.push(...inner.parts);
    this.length += inner.length;
    return this;
  }
  /** The message as one buffer. */
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Limits applied while decoding (see {@link DecodeLimits}). */
export interface DecodeLimits {
  /** How deeply messages may nest (a graph inside an attribute inside a node counts). Default 32. */
  maxDepth: number;
  /** How many fields and packed list values may be read in total, across every message. Default 50 million. */
  maxFields: number;
}

/** The default {@link DecodeLimits}. */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({ maxDepth: 32, maxFields: 50_000_000 });

/** What a reader shares with the readers of its nested messages. */
interface DecodeBudget {
  limits: DecodeLimits;
  fields: number;
}

/** One decoded field: its number and wire type, and where its value is. */
export interface Field {
  field: number;
  wire: number;
}

/**
 * Reads one message from a byte range. Every length is checked against the bytes left before any
 * view is taken (values are views, never copies, except strings), nested readers inherit a depth
 * and share a field budget, and every failure is an {@link OnnxError} naming the message, field
 * and byte offset.
 */
export class ProtoReader {
  private pos: number;
  private constructor(
    private readonly buf: Uint8Array,
    start: number,
    private readonly end: number,
    private readonly depth: number,
    private readonly budget: DecodeBudget,
    /** The message being read, for errors (e.g. 'GraphProto'). */
    readonly what: string,
  ) {
    this.pos = start;
  }

  /** A reader over a whole buffer. */
  static root(buf: Uint8Array, what: string, limits: Partial<DecodeLimits> = {}): ProtoReader {
    const budget = { limits: { ...DEFAULT_DECODE_LIMITS, ...limits }, fields: 0 };
    return new ProtoReader(buf, 0, buf.length, 0, budget, what);
  }

  /** The absolute offset of the next byte (for errors). */
  get offset(): number {
    return this.pos;
  }

  fail(message: string): never {
    throw new OnnxError(`${this.what} at byte ${this.pos}: ${message}`);
  }

  /** True while fields are left. */
  more(): boolean {
    return this.pos < this.end;
  }

  private varintBig(): bigint {
    let result = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('the message is truncated inside a varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return result;
    }
    return this.fail('a varint is longer than 10 bytes');
  }

  /** An unsigned varint that must be a safe integer. */
  uint(): number {
    // Fast path for the common short varints.
    let result = 0;
    let mul = 1;
    const start = this.pos;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) this.fail('the message is truncated inside a varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
    this.pos = start;
    const big = this.varintBig();
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`the value ${big} is too large`);
    return Number(big);
  }

  /** A signed 64-bit varint (int64/int32/enum), which must be a safe integer. */
  int(): number {
    const b = this.pos < this.end ? this.buf[this.pos]! : 0x80;
    if (b < 0x80) {
      this.pos++;
      return b;
    }
    const big = BigInt.asIntN(64, this.varintBig());
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
      this.fail(`the integer ${big} is too large`);
    }
    return Number(big);
  }

  /** Counts `n` values (fields, or elements of a packed list) against the budget. */
  private charge(n: number): void {
    const budget = this.budget;
    budget.fields += n;
    if (budget.fields > budget.limits.maxFields) {
      this.fail(
        `more than ${budget.limits.maxFields} protobuf fields and list values in the file (a decoding budget)`,
      );
    }
  }

  /** The next field's header, counted against the field budget. */
  next(): Field {
    this.charge(1);
    const key = this.uint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) this.fail('a field has number 0');
    if (wire !== WIRE.varint && wire !== WIRE.i64 && wire !== WIRE.len && wire !== WIRE.i32) {
      this.fail(`field ${field} has the unsupported wire type ${wire}`);
    }
    return { field, wire };
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      this.fail(`${what} declares ${n} bytes but only ${this.end - this.pos} are left (truncated file?)`);
    }
  }

  /** A length-delimited value as a view (no copy); the length is checked first. */
  bytes(): Uint8Array {
    const n = this.uint();
    this.need(n, 'a length-delimited field');
    const view = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return view;
  }

  /** A UTF-8 string field, at most `maxLength` bytes. */
  string(maxLength = 1 << 20): string {
    const b = this.bytes();
    if (b.length > maxLength) this.fail(`a string of ${b.length} bytes (at most ${maxLength})`);
    try {
      return textDecoder.decode(b);
    } catch {
      return this.fail('a string is not valid UTF-8');
    }
  }

  /** A 32-bit float. */
  float(): number {
    this.need(4, 'a float');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  /** A nested message's reader, one level deeper (the depth limit is checked). */
  message(what: string): ProtoReader {
    if (this.depth + 1 > this.budget.limits.maxDepth) {
      this.fail(`messages nest deeper than ${this.budget.limits.maxDepth} levels`);
    }
    const n = this.uint();
    this.need(n, `a ${what}`);
    const r = new ProtoReader(this.buf, this.pos, this.pos + n, this.depth + 1, this.budget, what);
    this.pos += n;
    return r;
  }

  /** Appends the values of a repeated int64 field, packed or not. */
  ints(wire: number, out: number[], maxCount: number): void {
    if (wire === WIRE.len) {
      const n = this.uint();
      this.need(n, 'a packed integer list');
      const end = this.pos + n;
      while (this.pos < end) {
        if (out.length >= maxCount) this.fail(`a list has more than ${maxCount} integers`);
        this.charge(1);
        out.push(this.int());
        if (this.pos > end) this.fail('a packed integer runs past its list');
      }
      return;
    }
    if (wire !== WIRE.varint) this.fail(`an integer field has wire type ${wire}`);
    if (out.length >= maxCount) this.fail(`a list has more than ${maxCount} integers`);
    out.push(this.int());
  }

  /** Appends the values of a repeated float field, packed or not. */
  floats(wire: number, out: number[], maxCount: number): void {
    if (wire === WIRE.len) {
      const b = this.bytes();
      if (b.length % 4 !== 0) this.fail('a packed float list is not a multiple of 4 bytes');
      if (out.length + b.length / 4 > maxCount) this.fail(`a list has more than ${maxCount} floats`);
      this.charge(b.length / 4);
      const dv = new DataView(b.buffer, b.byteOffset, b.length);
      for (let i = 0; i < b.length; i += 4) out.push(dv.getFloat32(i, true));
      return;
    }
    if (wire !== WIRE.i32) this.fail(`a float field has wire type ${wire}`);
    if (out.length >= maxCount) this.fail(`a list has more than ${maxCount} floats`);
    out.push(this.float());
  }

  /** Skips a field this decoder does not use. */
  skip(wire: number): void {
    if (wire === WIRE.varint) this.varintBig();
    else if (wire === WIRE.i64) {
      this.need(8, 'a fixed64');
      this.pos += 8;
    } else if (wire === WIRE.i32) {
      this.need(4, 'a fixed32');
      this.pos += 4;
    } else this.bytes();
  }

  /** Checks a field's wire type. */
  expect(f: Field, wire: number, name: string): void {
    if (f.wire !== wire) this.fail(`field ${f.field} (${name}) has wire type ${f.wire}, expected ${wire}`);
  }
}
