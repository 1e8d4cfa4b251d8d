/** Shared helpers for the tensor-core tests. */

/** Waits one turn of the event loop (lets Node run deferred Node-API finalizers). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `global.gc` when node runs with --expose-gc, otherwise undefined. */
export const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

type ErrorClass = typeof Error | typeof TypeError | typeof RangeError;

/**
 * Asserts that `fn` throws an instance of exactly `type` (so a plain Error is not accepted where a
 * RangeError is expected, and the other way round) whose message matches `message`.
 */
export function expectThrows(fn: () => unknown, type: ErrorClass, message?: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`expected a ${type.name} but nothing was thrown`);
  if (!(error instanceof Error) || error.constructor.name !== type.name) {
    throw new Error(`expected a ${type.name} but received ${String(error)}`);
  }
  if (message && !message.test(error.message)) {
    throw new Error(`expected a message matching ${message} but received: ${error.message}`);
  }
}

/** Mean and (population) standard deviation. */
export function meanStd(values: ArrayLike<number>): { mean: number; std: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  const mean = sum / values.length;
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(sq / values.length) };
}

const M0 = 0xd2511f53n;
const M1 = 0xcd9e8d57n;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulhilo(a: number, m: bigint): [number, number] {
  const p = BigInt(a) * m;
  return [Number(p >> 32n), Number(p & 0xffffffffn)];
}

/**
 * Reference Philox-4x32-10 (Salmon et al., SC'11; the Random123 round function), written from the
 * specification and independent of the native code: 10 rounds, key bumped between rounds.
 */
export function philox4x32x10(counter: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = counter as [number, number, number, number];
  let [k0, k1] = key as [number, number];
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo(c0, M0);
    const [hi1, lo1] = mulhilo(c2, M1);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** dlf's layout: counter = (offset low, offset high, 0, 0), key = (seed low, seed high). */
export function dlfBlock(seed: number, offset: number): number[] {
  const lo = (x: number) => x % 2 ** 32;
  const hi = (x: number) => Math.floor(x / 2 ** 32);
  return philox4x32x10([lo(offset), hi(offset), 0, 0], [lo(seed), hi(seed)]);
}
