/**
 * The raw addon, called with hostile arguments. Native code must never abort the process: every
 * failure arrives as a JS TypeError, RangeError or Error, and the process keeps working afterwards.
 */
import type { Handle } from '@dlf/native';
import { tensor as native } from '@dlf/native/tensor';
import { testing } from '@dlf/native/testing';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { expectThrows } from './helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: the point is to call the addon with arguments its types forbid
const raw = native as any;
const F32 = 0;
const I32 = 1;
const U8 = 2;

const made: Handle[] = [];
function make(shape: number[], dtype = F32): Handle {
  const h = native.full(shape, dtype as 0, 1);
  made.push(h);
  return h;
}
afterAll(() => {
  for (const h of made) native.release(h);
});

/** Every entry point of tensor/ whose first argument is a tensor handle, with valid other arguments. */
const handleCalls: [string, (h: unknown) => unknown][] = [
  ['layout', (h) => raw.layout(h)],
  ['item', (h) => raw.item(h)],
  ['toTypedArray', (h) => raw.toTypedArray(h)],
  ['dataView', (h) => raw.dataView(h)],
  ['reshape', (h) => raw.reshape(h, [1])],
  ['narrow', (h) => raw.narrow(h, 0, 1)],
  ['permute', (h) => raw.permute(h, [0])],
  ['contiguous', (h) => raw.contiguous(h)],
  ['clone', (h) => raw.clone(h)],
  ['cast', (h) => raw.cast(h, F32, 1)],
  ['write', (h) => raw.write(h, new Float32Array(1))],
  ['randomFill', (h) => raw.randomFill(h, 0, 0, 1, 0, 0)],
];

describe('foreign objects instead of handles', () => {
  const foreign: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['a string', 'handle'],
    ['a plain object', {}],
    ['a look-alike', { __dlfHandle: true }],
    ['an array', []],
    ['a function', () => 0],
    ['a typed array', new Float32Array(1)],
    ['a symbol', Symbol('h')],
    ['a bigint', 1n],
    ['a proxy', new Proxy({}, {})],
  ];
  for (const [name, call] of handleCalls) {
    it(`${name}() throws a TypeError for each`, () => {
      for (const [, value] of foreign) {
        expectThrows(() => call(value), TypeError, /Expected a tensor for \w+ but received something else/);
      }
      // No argument at all.
      expectThrows(() => raw[name](), TypeError);
    });
  }

  it('release() throws a TypeError for each', () => {
    for (const [, value] of foreign) expectThrows(() => raw.release(value), TypeError, /tensor handle/);
    expectThrows(() => raw.release(), TypeError, /needs a handle/);
  });

  it('property-based: any value that is not a handle is a TypeError, never a crash', () => {
    fc.assert(
      fc.property(fc.anything(), fc.integer({ min: 0, max: handleCalls.length - 1 }), (value, k) => {
        expectThrows(() => handleCalls[k]![1](value), TypeError);
      }),
      { numRuns: 300 },
    );
  });
});

describe('released handles', () => {
  it('release is idempotent and every later use is an Error', () => {
    const h = native.full([1], F32, 1);
    native.release(h);
    native.release(h);
    for (const [, call] of handleCalls) {
      expectThrows(() => call(h), Error, /was used after dispose\(\)/);
    }
    // A view outlives the handle of its base.
    const base = native.full([2], F32, 1);
    const view = native.narrow(base, 1, 1);
    native.release(base);
    expect(Array.from(native.toTypedArray(view))).toEqual([1]);
    native.release(view);
  });
});

describe('hostile arguments to creation', () => {
  it('empty/full: shapes', () => {
    expectThrows(() => raw.empty(), TypeError);
    expectThrows(() => raw.empty('2', F32), TypeError, /shape/);
    expectThrows(() => raw.empty({ length: 2, 0: 1, 1: 1 }, F32), TypeError, /shape/);
    expectThrows(() => raw.empty([2, 'x'], F32), TypeError, /shape/);
    expectThrows(() => raw.empty([2, -1], F32), RangeError, /negative/);
    // A negative dimension after a 0 is still rejected (it used to make a tensor of shape [0, -1]).
    expectThrows(() => raw.empty([0, -1], F32), RangeError, /dimension -1 of shape \[0, -1\] is negative/);
    expectThrows(() => raw.empty([1.5], F32), RangeError, /shape/);
    expectThrows(() => raw.empty([Number.NaN], F32), RangeError, /shape/);
    expectThrows(() => raw.empty([Number.POSITIVE_INFINITY], F32), RangeError, /shape/);
    expectThrows(() => raw.empty([2 ** 53], F32), RangeError, /shape/);
    expectThrows(() => raw.empty([2 ** 40, 2 ** 40], F32), RangeError, /too many elements/);
    expectThrows(() => raw.empty(new Array(65).fill(1), F32), RangeError, /at most 64/);
    expectThrows(() => raw.empty(new Array(17).fill(1), F32), RangeError, /at most 16 dimensions/);
    expectThrows(() => raw.empty(new Float64Array([2]), F32), TypeError, /Int32Array/);
    // Sparse arrays have holes that are not numbers.
    expectThrows(() => raw.empty(new Array(3), F32), TypeError, /shape/);
    // 2^52 float32 elements: a valid shape whose 16 PB allocation fails cleanly.
    expectThrows(() => raw.empty([2 ** 26, 2 ** 26], F32), Error, /out of memory/);
    // An Int32Array shape is accepted.
    const h = raw.empty(new Int32Array([2, 3]), F32);
    expect(native.layout(h).shape).toEqual([2, 3]);
    native.release(h);
  });

  it('empty/full: dtypes and values', () => {
    expectThrows(() => raw.empty([2], 'float32'), TypeError, /dtype/);
    expectThrows(() => raw.empty([2], 3), TypeError, /unknown dtype code 3/);
    expectThrows(() => raw.empty([2], -1), TypeError, /unknown dtype/);
    // Codes are checked before narrowing to 32 bits: 2^32 is not float32.
    expectThrows(() => raw.empty([2], 2 ** 32), TypeError, /unknown dtype code 4294967296/);
    expectThrows(() => raw.empty([2], 2 ** 32 + 1), TypeError, /unknown dtype/);
    expectThrows(() => raw.empty([2], 0.5), RangeError, /dtype/);
    expectThrows(() => raw.full([2], F32), TypeError, /value/);
    expectThrows(() => raw.full([2], F32, '1'), TypeError, /value/);
    // Values an integer dtype cannot hold are refused (converting them is undefined behaviour).
    expectThrows(() => raw.full([2], U8, 300), RangeError, /value of dtype uint8/);
    expectThrows(() => raw.full([2], U8, -1), RangeError, /value/);
    expectThrows(() => raw.full([2], I32, Number.NaN), RangeError, /value of dtype int32/);
    expectThrows(() => raw.full([2], I32, 2 ** 31), RangeError, /value/);
    expectThrows(() => raw.full([2], I32, Number.NEGATIVE_INFINITY), RangeError, /value/);
  });

  it('fromTypedArray and write', () => {
    expectThrows(() => raw.fromTypedArray([1, 2], [2], F32), TypeError, /typed array for data/);
    expectThrows(() => raw.fromTypedArray(new Int32Array(2), [2], F32), TypeError, /float32 for data/);
    expectThrows(() => raw.fromTypedArray(new Float64Array(2), [2], F32), TypeError, /float32 for data/);
    expectThrows(
      () => raw.fromTypedArray(new Float32Array(3), [4], F32),
      RangeError,
      /3 elements .* needs 4/,
    );
    expectThrows(() => raw.fromTypedArray(new Float32Array(3), [2], F32), RangeError, /needs 2/);
    expectThrows(() => raw.fromTypedArray(new Float32Array(2), [2], 7), TypeError, /dtype/);
    const h = make([2]);
    expectThrows(() => raw.write(h, new Uint8Array(2)), TypeError, /float32 for data/);
    expectThrows(() => raw.write(h, new Float32Array(3)), RangeError, /3 elements but the tensor has 2/);
    expectThrows(() => raw.write(h, [1, 2]), TypeError, /typed array/);
    expectThrows(() => raw.write(h), TypeError, /typed array/);
    // A detached buffer has length 0.
    const detached = new Float32Array(2);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expectThrows(() => raw.write(h, detached), RangeError, /0 elements/);
    expectThrows(() => raw.fromTypedArray(detached, [2], F32), RangeError, /0 elements/);
    // A non-contiguous destination.
    const m = make([2, 3]);
    const t = native.permute(m, [1, 0]);
    made.push(t);
    expectThrows(() => raw.write(t, new Float32Array(6)), Error, /contiguous/);
  });

  it('arange', () => {
    expectThrows(() => raw.arange(0, 1, -1, F32), RangeError, /negative/);
    expectThrows(() => raw.arange(0, 1, 1.5, F32), RangeError, /length/);
    expectThrows(() => raw.arange(0, 1, 3, U8), TypeError, /uint8/);
    expectThrows(() => raw.arange('0', 1, 3, F32), TypeError, /start/);
    expectThrows(() => raw.arange(0, 1, 2 ** 60, F32), RangeError, /length/);
    expectThrows(() => raw.arange(2 ** 40, 1, 3, I32), RangeError, /start of dtype int32/);
    expectThrows(() => raw.arange(0, Number.NaN, 3, I32), RangeError, /last value/);
    expectThrows(() => raw.arange(0, 2 ** 31, 2, I32), RangeError, /last value/);
    // Float32 ranges take any start and step.
    const h = raw.arange(Number.NaN, 1, 2, F32);
    expect(Number.isNaN(native.toTypedArray(h)[0])).toBe(true);
    native.release(h);
  });

  it('randomFill', () => {
    const h = make([8]);
    expectThrows(() => raw.randomFill(h, 9, 0, 1, 0, 0), RangeError, /unknown random kind 9/);
    expectThrows(() => raw.randomFill(h, -1, 0, 1, 0, 0), RangeError, /kind/);
    expectThrows(() => raw.randomFill(h, 0, 0, 1, -1, 0), RangeError, /non-negative/);
    expectThrows(() => raw.randomFill(h, 0, 0, 1, 0, -1), RangeError, /non-negative/);
    expectThrows(() => raw.randomFill(h, 0, 0, 1, 2 ** 53, 0), RangeError, /seed/);
    expectThrows(() => raw.randomFill(h, 0, 0, 1, 0.5, 0), RangeError, /seed/);
    expectThrows(() => raw.randomFill(h, 0, 0, 1, 0), TypeError, /offset/);
    expectThrows(() => raw.randomFill(h, 0, 0, Number.POSITIVE_INFINITY, 0, 0), RangeError, /finite/);
    expectThrows(() => raw.randomFill(h, 1, Number.NaN, 1, 0, 0), RangeError, /finite/);
    // Integer kind: whole-number bounds with a range in (0, 2^32].
    expectThrows(() => raw.randomFill(h, 2, 0, 2 ** 40, 0, 0), RangeError, /2\^32/);
    expectThrows(() => raw.randomFill(h, 2, 5, 5, 0, 0), RangeError, /low < high/);
    expectThrows(() => raw.randomFill(h, 2, 0.5, 3, 0, 0), RangeError, /integer bounds/);
    const i = make([8], I32);
    expectThrows(() => raw.randomFill(i, 0, 0, 1, 0, 0), TypeError, /int32 tensor needs integer kind/);
    expectThrows(() => raw.randomFill(i, 1, 0, 1, 0, 0), TypeError, /integer kind/);
    expectThrows(() => raw.randomFill(i, 2, 2 ** 31, 2 ** 31 + 5, 0, 0), RangeError, /do not fit int32/);
    raw.randomFill(i, 2, -(2 ** 31), 2 ** 31, 0, 0);
    const u = make([8], U8);
    expectThrows(() => raw.randomFill(u, 0, 0, 1, 0, 0), TypeError, /uint8/);
    const m = make([2, 3]);
    const t = native.permute(m, [1, 0]);
    made.push(t);
    expectThrows(() => raw.randomFill(t, 0, 0, 1, 0, 0), Error, /contiguous/);
  });
});

describe('hostile arguments to views and reads', () => {
  it('reshape, narrow, permute, cast, item, dataView', () => {
    const h = make([2, 3]);
    expectThrows(() => raw.reshape(h, [7]), RangeError, /cannot reshape/);
    expectThrows(() => raw.reshape(h, [-6]), RangeError, /negative/);
    expectThrows(() => raw.reshape(h, 6), TypeError, /shape/);
    expectThrows(() => raw.narrow(h, 2, 1), RangeError, /outside a first axis of length 2/);
    expectThrows(() => raw.narrow(h, -1, 1), RangeError, /slice/);
    expectThrows(() => raw.narrow(h, 0, -1), RangeError, /slice/);
    expectThrows(() => raw.narrow(h, 2 ** 53 - 1, 2 ** 53 - 1), RangeError, /slice/);
    expectThrows(() => raw.narrow(h, 0.5, 1), RangeError, /start/);
    const scalar = make([]);
    expectThrows(() => raw.narrow(scalar, 0, 1), RangeError, /scalar/);
    expectThrows(() => raw.permute(h, [0, 0]), RangeError, /not a permutation/);
    expectThrows(() => raw.permute(h, [0, 2]), RangeError, /not a permutation/);
    expectThrows(() => raw.permute(h, [0]), RangeError, /expected 2 axes/);
    expectThrows(() => raw.permute(h, [-1, 0]), RangeError, /permutation/);
    expectThrows(() => raw.permute(h, 'ab'), TypeError, /dims/);
    expectThrows(() => raw.cast(h, 9, 1), TypeError, /dtype/);
    expectThrows(() => raw.cast(h, F32, '1'), TypeError, /scale/);
    expectThrows(() => raw.item(h), RangeError, /one-element/);
    const t = native.permute(h, [1, 0]);
    made.push(t);
    expectThrows(() => raw.dataView(t), Error, /contiguous/);
    // A cast with a NaN or infinite scale is defined: NaN maps to 0 for integer dtypes.
    const c = raw.cast(h, I32, Number.NaN);
    expect(Array.from(native.toTypedArray(c))).toEqual([0, 0, 0, 0, 0, 0]);
    native.release(c);
  });

  it('runtime entry points', () => {
    const threads = native.numThreads();
    expectThrows(() => raw.setNumThreads(0), RangeError, /\[1, 256\]/);
    expectThrows(() => raw.setNumThreads(1e9), RangeError, /\[1, 256\]/);
    expectThrows(() => raw.setNumThreads('2'), TypeError, /threads/);
    expectThrows(() => raw.setNumThreads(), TypeError, /threads/);
    expect(native.numThreads()).toBe(threads);
    // biome-ignore lint/suspicious/noExplicitAny: called with arguments its types forbid, as above
    const rawTesting = testing as any;
    expectThrows(() => rawTesting.selectSimd(5), TypeError, /simd/);
    expectThrows(() => rawTesting.selectSimd(), TypeError, /simd/);
    expectThrows(() => rawTesting.setConvFastPath('yes'), TypeError, /enabled/);
    expect(testing.selectSimd('no-such-isa')).toBe(false);
    expect(['avx512', 'avx2', 'base']).toContain(native.simd());
  });

  it('getters that throw while the addon reads an argument surface as JS errors', () => {
    const shape = [2];
    Object.defineProperty(shape, 0, {
      get() {
        throw new RangeError('boom from a getter');
      },
    });
    expectThrows(() => raw.empty(shape, F32), RangeError, /boom from a getter/);
  });
});

describe('after all of that', () => {
  it('the process still works', () => {
    const h = native.fromTypedArray(new Float32Array([1, 2, 3]), [3], F32);
    expect(Array.from(native.toTypedArray(h))).toEqual([1, 2, 3]);
    native.release(h);
  });
});
