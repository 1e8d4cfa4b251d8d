/** The header's JSON: a strict parser that keeps objects as Maps and rejects duplicate keys. */
import { DuplicateKeyError, InvalidHeaderError } from './errors.js';
import { MAX_DEPTH, show, U64_MAX } from './format.js';

/** A number token that is not a u64 integer (negative, fraction, exponent, or above 2^64 - 1). */
export const NOT_U64: unique symbol = Symbol('not a u64');

/**
 * Parsed JSON. Objects are Maps (header keys never land on plain objects); numbers are kept only
 * as far as the format needs them: u64 integers as a number (up to 15 digits) or a bigint, any other
 * number as {@link NOT_U64}. No number token allocates an object.
 */
export type JsonValue = null | boolean | string | number | bigint | typeof NOT_U64 | JsonValue[] | JsonMap;
export interface JsonMap extends Map<string, JsonValue> {}

export function describeJson(v: JsonValue | undefined): string {
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

export class HeaderParser {
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
