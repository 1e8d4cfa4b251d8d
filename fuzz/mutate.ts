/**
 * Seeded byte mutations for the fuzzers: flips, interesting values, chunk deletion, duplication and
 * insertion, truncation, and splicing with another seed. The same seed gives the same cases.
 */

/** A small seeded generator (mulberry32). */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

/** Values that often sit on a boundary: 0, ±1, sign bits, powers of two, all ones. */
const INTERESTING_U32 = [
  0,
  1,
  2,
  0x7f,
  0x80,
  0xff,
  0x100,
  0x7fff,
  0x8000,
  0xffff,
  0x10000,
  0x7fffffff,
  0x80000000,
  0xffffffff,
  1 << 20,
  1 << 24,
  4194304,
  65535,
  8192,
];

/** Applies 1–4 random mutations to a copy of `input` (splicing with `other` when given). */
export function mutate(input: Uint8Array, rng: Rng, other?: Uint8Array): Uint8Array {
  let b = Buffer.from(input);
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const kind = rng.int(8);
    const at = b.length ? rng.int(b.length) : 0;
    if (kind === 0 && b.length) b[at] = b[at]! ^ (1 << rng.int(8));
    else if (kind === 1 && b.length) b[at] = rng.int(256);
    else if (kind === 2 && b.length >= 4) {
      const v = rng.pick(INTERESTING_U32);
      const pos = Math.min(at, b.length - 4);
      if (rng.int(2)) b.writeUInt32BE(v >>> 0, pos);
      else b.writeUInt32LE(v >>> 0, pos);
    } else if (kind === 3 && b.length > 1) {
      const len = 1 + rng.int(Math.min(64, b.length - at));
      b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
    } else if (kind === 4 && b.length) {
      const len = 1 + rng.int(Math.min(64, b.length - at));
      const chunk = b.subarray(at, at + len);
      b = Buffer.concat([b.subarray(0, at), chunk, chunk, b.subarray(at)]);
    } else if (kind === 5) {
      const ins = Buffer.from(Array.from({ length: 1 + rng.int(16) }, () => rng.int(256)));
      b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
    } else if (kind === 6 && b.length) b = b.subarray(0, at);
    else if (kind === 7 && other && other.length) {
      const from = rng.int(other.length);
      b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + rng.int(256))]);
    }
  }
  return b;
}

/**
 * Mutates a JSON value: numbers become boundary values (0, −1, huge, fractional, NaN-like strings),
 * strings and types are swapped, entries dropped or duplicated. For structured formats whose bytes
 * mostly fail to parse when flipped.
 */
export function mutateJson(value: unknown, rng: Rng): unknown {
  const numbers = [0, -1, 1, 2, 3, 0.5, 1e9, 2 ** 31, 2 ** 53, -(2 ** 31), 1e300, 65536, 8192, 20000];
  const visit = (v: unknown, depth: number): unknown => {
    if (depth > 8) return v;
    if (typeof v === 'number') return rng.int(3) === 0 ? rng.pick(numbers) : v;
    if (typeof v === 'string')
      return rng.int(10) === 0 ? rng.pick(['', 'Linear', 'Conv2d', '\u001b[31m', 'x'.repeat(300)]) : v;
    if (Array.isArray(v)) {
      const out = v.map((x) => visit(x, depth + 1));
      if (out.length && rng.int(8) === 0) out.splice(rng.int(out.length), 1);
      if (out.length && rng.int(8) === 0) out.splice(rng.int(out.length), 0, out[rng.int(out.length)]);
      if (rng.int(20) === 0) return rng.pick([null, 7, 'x', {}]);
      return out;
    }
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (rng.int(20) === 0) continue;
        out[k] = rng.int(6) === 0 ? visit(x, depth + 1) : x;
      }
      return out;
    }
    return v;
  };
  // Always change something numeric in at least one place.
  return visit(value, 0);
}
