import {
  arange,
  checkInt,
  checkNumber,
  checkShape,
  full,
  Generator,
  invalidParam,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  setNumThreads,
  setSimd,
  shapeMismatch,
  tensor,
  tidy,
  zeros,
  zerosLike,
} from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { expectThrows } from './helpers.js';

describe('the error factory', () => {
  it('builds "Expected <what> for <argument> but received <value>"', () => {
    const e = invalidParam('kernelSize', 'a positive integer', 0);
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe('Expected a positive integer for kernelSize but received 0 of type number');
    expect(invalidParam('x', 'a tensor', 'abc', 'type')).toBeInstanceOf(TypeError);
    expect(invalidParam('x', 'y', [1, [2, 'a']]).message).toMatch(/received \[1, \[2, 'a'\]\]$/);
    expect(invalidParam('x', 'y', new Float32Array(3)).message).toMatch(/Float32Array of length 3$/);
    expect(invalidParam('x', 'y', null).message).toMatch(/received null$/);
    expect(invalidParam('x', 'y', new Map()).message).toMatch(/an instance of Map$/);
    expect(shapeMismatch('matmul', 'the inner dimensions to agree', [2, 3], [4, 5]).message).toBe(
      'Expected the inner dimensions to agree for matmul but received shapes [2, 3] and [4, 5]',
    );
  });

  it('checkInt, checkNumber and checkShape', () => {
    expect(checkInt('n', 3, 1, 5)).toBe(3);
    expectThrows(() => checkInt('n', 6, 1, 5), RangeError, /an integer in \[1, 5\] for n/);
    expectThrows(() => checkInt('n', '3'), TypeError, /an integer for n/);
    expectThrows(
      () => checkInt('n', Number.NaN, 0),
      RangeError,
      /a non-negative integer for n but received NaN/,
    );
    expect(checkNumber('x', -2.5)).toBe(-2.5);
    // checkNumber asserts a finite number, as documented.
    expectThrows(() => checkNumber('x', Number.POSITIVE_INFINITY), RangeError, /a finite number for x/);
    expectThrows(() => checkNumber('x', Number.NaN), RangeError, /for x but received NaN/);
    expectThrows(() => checkNumber('x', 2, 0, 1), RangeError, /in \[0, 1\] for x/);
    expect(checkShape('s', [2, 0])).toEqual([2, 0]);
    expect(Object.isFrozen(checkShape('s', [2]))).toBe(true);
  });
});

describe('bad shapes', () => {
  const makers: [string, (shape: never) => unknown][] = [
    ['zeros', (s) => zeros(s)],
    ['ones', (s) => ones(s)],
    ['full', (s) => full(s, 1)],
    ['rand', (s) => rand(s)],
    ['randn', (s) => randn(s)],
    ['randint', (s) => randint(s, 0, 2)],
  ];
  for (const [name, make] of makers) {
    it(`${name} rejects negative, fractional, NaN, huge and non-array shapes`, () => {
      expectThrows(
        () => make([2, -1] as never),
        RangeError,
        /non-negative integers for shape but received \[2, -1\]/,
      );
      expectThrows(() => make([1.5] as never), RangeError, /for shape but received \[1.5\]/);
      expectThrows(() => make([Number.NaN] as never), RangeError, /for shape/);
      expectThrows(
        () => make([2 ** 40, 2 ** 40] as never),
        RangeError,
        /fewer than 2\^53 elements for shape/,
      );
      expectThrows(() => make(new Array(17).fill(1) as never), RangeError, /at most 16 dimensions for shape/);
      expectThrows(() => make([2, '3'] as never), TypeError, /for shape/);
      expectThrows(() => make('abc' as never), TypeError, /for shape but received 'abc'/);
      expectThrows(() => make(undefined as never), TypeError, /for shape but received undefined/);
      expectThrows(() => make(new Int32Array([2]) as never), TypeError, /for shape/);
    });
  }
});

describe('bad data for tensor()', () => {
  it('a shape where the options go', () => {
    // tensor(data, [2, 3]) is an easy slip; it must not give a 1-D tensor silently.
    expectThrows(
      () => tensor([1, 2, 3, 4, 5, 6], [2, 3] as never),
      TypeError,
      /an object such as \{ shape: \[2, 3\] \} for options but received \[2, 3\]/,
    );
    expectThrows(() => tensor([1, 2], 'float32' as never), TypeError, /for options but received 'float32'/);
  });
  it('a misspelt option', () => {
    // Ignored, { shap: [2, 3] } would give a 1-D tensor of 6 elements.
    expectThrows(
      () => tensor([1, 2, 3, 4, 5, 6], { shap: [2, 3] } as never),
      TypeError,
      /Expected only the options dtype, shape for tensor options but received the option 'shap'/,
    );
    expectThrows(
      () => randn([2], 0, 1, { seed: 1 } as never),
      TypeError,
      /random options .* the option 'seed'/,
    );
    expectThrows(() => rand([2], 0, 1, { generatr: null } as never), TypeError, /the option 'generatr'/);
    expectThrows(() => randint([2], 0, 4, { dtpe: 'int32' } as never), TypeError, /the option 'dtpe'/);
    expectThrows(() => randn([2], 0, 1, null as never), TypeError, /for random options but received null/);
    // Known options, and options explicitly undefined, still pass.
    expect(tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], dtype: undefined }).shape).toEqual([2, 3]);
  });
  it('data length not matching the shape', () => {
    expectThrows(
      () => tensor(new Float32Array(5), { shape: [2, 3] }),
      RangeError,
      /Expected 6 elements for shape \[2, 3\] for data but received Float32Array of length 5/,
    );
    expectThrows(() => tensor([1, 2, 3], { shape: [2, 2] }), RangeError, /4 elements .* for data/);
    expectThrows(() => tensor(1, { shape: [2] }), RangeError, /for data/);
    expectThrows(() => tensor([1, 2], { shape: [-2] }), RangeError, /for shape/);
  });

  it('ragged nested arrays, naming the first bad element', () => {
    expectThrows(
      () => tensor([[1, 2], [3]]),
      RangeError,
      /Expected an array of length 2 \(nested arrays must be rectangular\) for data\[1\] but received \[3\]/,
    );
    expectThrows(() => tensor([[1, 2], 3] as never), RangeError, /for data\[1\] but received 3/);
    expectThrows(
      () =>
        tensor([
          [[1], [2]],
          [[3], [4, 5]],
        ]),
      RangeError,
      /for data\[1\]\[1\]/,
    );
    expectThrows(() => tensor([1, [2]] as never), TypeError, /ragged or hold non-numbers\) for data\[1\]/);
  });

  it('non-number elements', () => {
    expectThrows(() => tensor([1, '2'] as never), TypeError, /for data\[1\] but received '2' of type string/);
    expectThrows(() => tensor([[1, null]] as never), TypeError, /for data\[0\]\[1\] but received null/);
    expectThrows(() => tensor([true] as never), TypeError, /for data\[0\]/);
    expectThrows(() => tensor([10n] as never), TypeError, /for data\[0\] but received 10 of type bigint/);
    expectThrows(() => tensor('abc' as never), TypeError, /for data but received 'abc'/);
    expectThrows(() => tensor(undefined as never), TypeError, /for data but received undefined/);
    expectThrows(() => tensor({ length: 2 } as never), TypeError, /for data but received an object/);
    expectThrows(
      () => tensor([1], null as never),
      TypeError,
      /an object such as \{ shape: \[2, 3\] \} for options but received null/,
    );
  });

  it('too deeply nested arrays', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 17; i++) deep = [deep];
    expectThrows(() => tensor(deep as never), RangeError, /at most 16 dimensions for shape/);
  });
});

describe('NaN where an integer is needed', () => {
  it('is a RangeError naming the argument', () => {
    tidy(() => {
      const t = zeros([3, 2]);
      expectThrows(() => t.slice(Number.NaN), RangeError, /an integer for start but received NaN/);
      expectThrows(() => t.slice(0, Number.NaN), RangeError, /for end but received NaN/);
      expectThrows(() => t.reshape([Number.NaN, 2]), RangeError, /for shape\[0\] but received NaN/);
    });
    expectThrows(() => randint([2], Number.NaN, 3), RangeError, /for low but received NaN/);
    expectThrows(() => randint([2], 0, Number.NaN), RangeError, /for high but received NaN/);
    expectThrows(() => new Generator(Number.NaN), RangeError, /for seed but received NaN/);
    expectThrows(
      () => new Generator(1).setState({ seed: 1, offset: Number.NaN }),
      RangeError,
      /for state.offset but received NaN/,
    );
    expectThrows(() => new Generator(1).reserve(Number.NaN), RangeError, /for count but received NaN/);
    expectThrows(() => setNumThreads(Number.NaN), RangeError, /for threads but received NaN/);
    expectThrows(() => full([1], Number.NaN, 'int32'), RangeError, /for value but received NaN/);
    expectThrows(
      () => tensor([Number.NaN], { dtype: 'int32' }),
      RangeError,
      /for data\[0\] but received NaN/,
    );
  });
});

describe('other out-of-range and wrong-kind arguments', () => {
  it('arange', () => {
    expectThrows(() => arange(0, 1, 0), RangeError, /a non-zero number for step but received 0/);
    expectThrows(() => arange(0, Number.POSITIVE_INFINITY), RangeError, /for stop but received Infinity/);
    expectThrows(() => arange(0, 2 ** 40), RangeError, /at most 2\^31 values for stop/);
    expectThrows(() => arange(Number.NaN), RangeError, /for stop but received NaN/);
    expectThrows(() => arange('3' as never), TypeError, /for stop/);
    expectThrows(() => arange(0, 3, Number.NaN), RangeError, /for step/);
  });

  it('random creation', () => {
    expectThrows(() => rand([2], 1, 0), RangeError, /a number >= low \(1\) for high but received 0/);
    expectThrows(() => rand([2], 0, Number.POSITIVE_INFINITY), RangeError, /for high/);
    expectThrows(() => rand([2], Number.NaN), RangeError, /for low/);
    expectThrows(() => randn([2], 0, -1), RangeError, /for std but received -1/);
    expectThrows(() => randn([2], Number.NEGATIVE_INFINITY), RangeError, /for mean/);
    expectThrows(() => randint([2], 3, 3), RangeError, /an integer > low \(3\) for high/);
    expectThrows(() => randint([2], 0.5, 3), RangeError, /for low but received 0.5/);
    expectThrows(() => randint([2], -(2 ** 31) - 1, 0), RangeError, /for low/);
    expectThrows(() => randint([2], 0, 2 ** 31 + 1), RangeError, /for high/);
    expectThrows(() => rand([2], 0, 1, { generator: {} as never }), TypeError, /a Generator for generator/);
    expectThrows(() => new Generator(-1), RangeError, /non-negative integer for seed/);
    expectThrows(() => new Generator(2 ** 53), RangeError, /for seed/);
    expectThrows(() => new Generator('1' as never), TypeError, /for seed/);
    expectThrows(() => new Generator(1).setState(null as never), TypeError, /for state.seed/);
    expectThrows(() => new Generator(1).manualSeed(1.5), RangeError, /for seed/);
    expectThrows(() => new Generator(1).reserve(-4), RangeError, /for count but received -4/);
  });

  it('views', () => {
    tidy(() => {
      const t = zeros([2, 3]);
      expectThrows(
        () => t.reshape([4, 2]),
        RangeError,
        /Cannot reshape a tensor of shape \[2, 3\] .* to \[4, 2\]/,
      );
      expectThrows(() => t.reshape([-1, -1]), RangeError, /at most one -1 for shape/);
      expectThrows(() => t.reshape([-1, 4]), RangeError, /Cannot reshape/);
      expectThrows(
        () => t.reshape([-2, 3]),
        RangeError,
        /a non-negative integer for shape\[0\] but received -2/,
      );
      expectThrows(() => t.reshape([2.5, 2]), RangeError, /for shape\[0\]/);
      expectThrows(() => t.reshape('6' as never), TypeError, /for shape/);
      expectThrows(() => t.slice(0.5), RangeError, /for start but received 0.5/);
      expectThrows(() => t.slice('1' as never), TypeError, /for start/);
      expectThrows(() => tensor(1).slice(0), RangeError, /at least one dimension/);
      expectThrows(() => t.item(), RangeError, /a tensor with one element for item\(\)/);
      expectThrows(() => zeros([0]).item(), RangeError, /for item\(\)/);
    });
  });

  it('*Like and runtime settings', () => {
    expectThrows(() => zerosLike(null as never), TypeError, /a tensor for t but received null/);
    expectThrows(() => onesLike({ shape: [2], dtype: 'float32' } as never), TypeError, /a tensor for t/);
    expectThrows(() => setNumThreads(0), RangeError, /an integer in \[1, 256\] for threads but received 0/);
    expectThrows(() => setNumThreads(257), RangeError, /for threads/);
    expectThrows(() => setNumThreads(1.5), RangeError, /for threads/);
    expectThrows(() => setNumThreads('2' as never), TypeError, /for threads/);
    expectThrows(() => setSimd('sse' as never), TypeError, /for simd but received 'sse'/);
    expectThrows(() => tidy(42 as never), TypeError, /a function for fn/);
  });
});
