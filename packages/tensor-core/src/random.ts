import type { Handle } from '@dlf/native';
import { tensor as native } from '@dlf/native/tensor';
import { checkInt } from './errors.js';

/**
 * A counter-based random stream (Philox-4x32-10). A generator is just a seed and an offset: the
 * values it yields depend on nothing else, so every machine and every thread count produces the same
 * numbers, and saving `{ seed, offset }` saves the stream exactly.
 *
 * Distributions: uniform floats use the top 24 bits of a 32-bit word (multiples of 2^-24 in [0, 1),
 * then scaled to [low, high)); normal values use Box-Muller on pairs of words, computed in double
 * precision and rounded to float32; integers in [low, high) are `low + floor(word * (high - low) / 2^32)`.
 * Each fill of n values advances the offset by ceil(n / 4).
 *
 * @example
 * ```ts
 * const g = new Generator(42);
 * const a = randn([3], { generator: g });
 * const state = g.state();      // { seed: 42, offset: 1 }
 * ```
 */
export class Generator {
  #seed: number;
  #offset = 0;

  /** @param seed - a non-negative integer below 2^53 */
  constructor(seed = 0) {
    this.#seed = checkInt('seed', seed, 0);
  }

  /** The seed. */
  get seed(): number {
    return this.#seed;
  }

  /** Counter values consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Restarts the stream with a new seed. */
  manualSeed(seed: number): this {
    this.#seed = checkInt('seed', seed, 0);
    this.#offset = 0;
    return this;
  }

  /** The state, for checkpoints. */
  state(): { seed: number; offset: number } {
    return { seed: this.#seed, offset: this.#offset };
  }

  /** Restores a state from {@link Generator.state}. */
  setState(state: { seed: number; offset: number }): this {
    this.#seed = checkInt('state.seed', state?.seed, 0);
    this.#offset = checkInt('state.offset', state?.offset, 0);
    return this;
  }

  /**
   * Reserves counter values for `count` random words and returns the offset to start from. Native
   * ops that draw random numbers (dropout) use this.
   */
  reserve(count: number): number {
    checkInt('count', count, 0);
    const start = this.#offset;
    this.#offset += Math.ceil(count / 4);
    return start;
  }

  /** @internal Fills a native tensor in place and advances the stream. */
  fill(handle: Handle, size: number, kind: 0 | 1 | 2 | 3, a: number, b: number): void {
    const offset = this.reserve(size);
    native.randomFill(handle, kind, a, b, this.#seed, offset);
  }
}

/** The generator used when none is given. Seeded with 0 at start-up: runs are reproducible by default. */
export const defaultGenerator = new Generator(0);

/**
 * Re-seeds the default generator.
 *
 * @example
 * ```ts
 * manualSeed(7);
 * const a = rand([2]);
 * manualSeed(7);
 * const b = rand([2]); // same values as a
 * ```
 */
export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}
