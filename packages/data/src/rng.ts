import { checkInt } from '@dlf/tensor-core';

/**
 * The 32-bit finaliser "lowbias32" (C. Wellons, hash-prospector): a bijection on 32-bit integers
 * with strong avalanche (every input bit flips each output bit with probability close to 1/2).
 *
 * @example
 * ```ts
 * mix32(1); // 0x… a well-scrambled 32-bit value
 * ```
 */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const TWO32 = 4294967296;

/**
 * A small counter-based random stream for shuffling, splitting and augmentation, computed in
 * JavaScript with 32-bit integer math (no native call, no state beyond a counter).
 *
 * A stream is named by a seed (an integer in [0, 2^53)) and any number of stream ids (32-bit
 * unsigned integers, e.g. an epoch number and a sample index). The ids and the seed are folded into
 * a 64-bit key `(k0, k1)` with {@link mix32}; word `i` of the stream (i < 2^53, split into 32-bit
 * halves) is `mix32(mix32(i_lo ^ k0) + (i_hi ^ k1) + 0x2545f491)` (additions mod 2^32). Because each word depends only on (seed, ids, i), any word can be recomputed
 * independently: a sample's augmentation depends on (seed, epoch, sample), never on batch size,
 * prefetch depth or the order batches were consumed.
 *
 * Not cryptographic. Integers in [0, n) are unbiased (rejection sampling); floats in [0, 1) are
 * multiples of 2^-32.
 *
 * @example
 * ```ts
 * const rng = new Rng(42, 3);   // seed 42, stream 3 (e.g. epoch 3)
 * rng.nextInt(10);              // an integer in [0, 10)
 * rng.next();                   // a float in [0, 1)
 * ```
 */
export class Rng {
  readonly #k0: number;
  readonly #k1: number;
  #counter = 0;

  /**
   * @param seed - an integer in [0, 2^53)
   * @param streams - stream ids, each an integer in [0, 2^32)
   */
  constructor(seed: number, ...streams: number[]) {
    checkInt('seed', seed, 0);
    let k0 = mix32((seed >>> 0) ^ 0x9e3779b9);
    let k1 = mix32((Math.floor(seed / TWO32) >>> 0) ^ 0x85ebca6b ^ k0);
    for (let i = 0; i < streams.length; i++) {
      const s = checkInt(`streams[${i}]`, streams[i], 0, TWO32 - 1);
      k0 = mix32(k0 ^ mix32(s + 0x6a09e667 + i));
      k1 = mix32(k1 + mix32(s ^ k0));
    }
    this.#k0 = k0;
    this.#k1 = k1;
  }

  /** Words drawn so far. */
  get counter(): number {
    return this.#counter;
  }

  /** The next uniform 32-bit unsigned integer. */
  nextU32(): number {
    const i = this.#counter++;
    const lo = i >>> 0;
    const hi = Math.floor(i / TWO32) >>> 0;
    return mix32((mix32((lo ^ this.#k0) >>> 0) + (hi ^ this.#k1) + 0x2545f491) >>> 0);
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / TWO32;
  }

  /**
   * A uniform integer in [0, n), without bias.
   *
   * @param n - an integer in [1, 2^32]
   */
  nextInt(n: number): number {
    if (!(n >= 1 && n <= TWO32) || !Number.isInteger(n)) checkInt('n', n, 1, TWO32);
    if (n === 1) return 0;
    const limit = TWO32 - (TWO32 % n);
    let u = this.nextU32();
    while (u >= limit) u = this.nextU32();
    return u % n;
  }
}

/**
 * A uniformly random permutation of `0 … n-1` (Fisher–Yates driven by {@link Rng}), determined by
 * the seed and stream ids.
 *
 * @example
 * ```ts
 * permutation(5, 42, 0); // e.g. Int32Array [3, 0, 4, 1, 2]; the same every time
 * ```
 */
export function permutation(n: number, seed: number, ...streams: number[]): Int32Array {
  checkInt('n', n, 0, 2 ** 31 - 1);
  const rng = new Rng(seed, ...streams);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
