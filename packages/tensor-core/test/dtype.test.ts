import {
  arange,
  checkDType,
  dtypeBytes,
  dtypeOfArray,
  full,
  rand,
  randint,
  randn,
  tensor,
  tidy,
  zeros,
} from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { expectThrows } from './helpers.js';

const scoped = (fn: () => void) => () => tidy(fn);

describe('dtype helpers', () => {
  it('name, size and typed array of each dtype', () => {
    expect(checkDType('dtype', 'int32')).toBe('int32');
    expectThrows(() => checkDType('dtype', 'float64'), TypeError, /for dtype but received 'float64'/);
    expect(dtypeBytes('float32')).toBe(4);
    expect(dtypeBytes('int32')).toBe(4);
    expect(dtypeBytes('uint8')).toBe(1);
    expect(dtypeOfArray(new Float32Array(1))).toBe('float32');
    expect(dtypeOfArray(new Int32Array(1))).toBe('int32');
    expect(dtypeOfArray(new Uint8Array(1))).toBe('uint8');
    expect(dtypeOfArray(new Float64Array(1))).toBeUndefined();
    expect(dtypeOfArray([1])).toBeUndefined();
  });
});

describe('typed arrays must match the dtype', () => {
  it(
    'accepts a typed array of the dtype kind',
    scoped(() => {
      expect(tensor(new Float32Array([1]), { dtype: 'float32' }).dtype).toBe('float32');
      expect(tensor(new Int32Array([1]), { dtype: 'int32' }).dtype).toBe('int32');
      expect(tensor(new Uint8Array([1]), { dtype: 'uint8' }).dtype).toBe('uint8');
    }),
  );

  it('rejects a typed array of another kind instead of silently converting it', () => {
    // Storing 300.7 into a Uint8Array would give 44; into an Int32Array, 300.
    expectThrows(
      () => tensor(new Float32Array([300.7]), { dtype: 'uint8' }),
      TypeError,
      /Expected a Uint8Array for dtype uint8 .*astype.* for data but received Float32Array of length 1/,
    );
    expectThrows(
      () => tensor(new Float32Array([1.5]), { dtype: 'int32' }),
      TypeError,
      /Int32Array.*for data/,
    );
    expectThrows(
      () => tensor(new Int32Array([1]), { dtype: 'float32' }),
      TypeError,
      /Float32Array.*for data/,
    );
    expectThrows(
      () => tensor(new Uint8Array([1]), { dtype: 'float32' }),
      TypeError,
      /Float32Array.*for data/,
    );
  });

  it('rejects typed arrays dlf does not store', () => {
    expectThrows(() => tensor(new Float64Array(2) as never), TypeError, /for data but received Float64Array/);
    expectThrows(() => tensor(new Uint8ClampedArray(2) as never), TypeError, /for data/);
    expectThrows(() => tensor(new Int16Array(2) as never), TypeError, /for data/);
    expectThrows(() => tensor(new DataView(new ArrayBuffer(4)) as never), TypeError, /for data/);
  });
});

describe('numbers for integer dtypes', () => {
  it(
    'accepts integers in range, up to the limits',
    scoped(() => {
      expect(tensor([-(2 ** 31), 2 ** 31 - 1], { dtype: 'int32' }).toArray()).toEqual([
        -(2 ** 31),
        2 ** 31 - 1,
      ]);
      expect(tensor([0, 255], { dtype: 'uint8' }).toArray()).toEqual([0, 255]);
      expect(tensor(-0, { dtype: 'int32' }).item()).toBe(0);
    }),
  );

  it('rejects fractions, NaN and out-of-range values, naming the element', () => {
    expectThrows(
      () => tensor([1, 1.5], { dtype: 'int32' }),
      RangeError,
      /^Expected an integer in \[-2147483648, 2147483647\] for dtype int32 for data\[1\] but received 1.5/,
    );
    expectThrows(() => tensor([[1, Number.NaN]], { dtype: 'int32' }), RangeError, /data\[0\]\[1\].*NaN/);
    expectThrows(() => tensor([2 ** 31], { dtype: 'int32' }), RangeError, /data\[0\]/);
    expectThrows(() => tensor([Number.POSITIVE_INFINITY], { dtype: 'int32' }), RangeError, /data\[0\]/);
    expectThrows(
      () => tensor([0, 256], { dtype: 'uint8' }),
      RangeError,
      /\[0, 255\] for dtype uint8 for data\[1\]/,
    );
    expectThrows(() => tensor([-1], { dtype: 'uint8' }), RangeError, /data\[0\]/);
    expectThrows(() => tensor(0.5, { dtype: 'uint8' }), RangeError, /for data but received 0.5/);
  });

  it(
    'float32 takes any number',
    scoped(() => {
      const t = tensor([Number.NaN, Number.POSITIVE_INFINITY, -0, 1e-45]);
      const v = t.toTypedArray();
      expect(Number.isNaN(v[0])).toBe(true);
      expect(v[1]).toBe(Number.POSITIVE_INFINITY);
      expect(Object.is(v[2], -0)).toBe(true);
    }),
  );

  it('full() with an integer dtype needs an integer in range', () => {
    expectThrows(() => full([2], 1.5, 'int32'), RangeError, /for value but received 1.5/);
    expectThrows(() => full([2], 256, 'uint8'), RangeError, /an integer in \[0, 255\] for value/);
    expectThrows(() => full([2], -1, 'uint8'), RangeError, /for value/);
    expectThrows(() => full([2], Number.NaN, 'int32'), RangeError, /for value but received NaN/);
    expectThrows(() => full([2], Number.NaN), RangeError, /for value but received NaN/);
    expectThrows(() => full([2], '1' as never), TypeError, /for value/);
  });
});

describe('random and range dtypes', () => {
  it('rand and randn make float32 only', () => {
    expectThrows(
      () => rand([2], 0, 1, { dtype: 'int32' }),
      RangeError,
      /Expected 'float32' \(use randint for integers\) for dtype but received 'int32'/,
    );
    expectThrows(() => randn([2], 0, 1, { dtype: 'uint8' }), RangeError, /for dtype/);
    expectThrows(() => rand([2], 0, 1, { dtype: 'float64' as never }), TypeError, /for dtype/);
    tidy(() => {
      expect(rand([2], 0, 1, { dtype: 'float32' }).dtype).toBe('float32');
      expect(randn([2], 0, 1, { dtype: 'float32' }).dtype).toBe('float32');
    });
  });

  it('randint makes int32 or float32, not uint8', () => {
    expectThrows(() => randint([2], 0, 5, { dtype: 'uint8' }), RangeError, /for dtype but received 'uint8'/);
    expectThrows(() => randint([2], 0, 5, { dtype: 'bool' as never }), TypeError, /for dtype/);
  });

  it('arange makes float32 or int32, and int32 values must fit', () => {
    expectThrows(() => arange(0, 3, 1, 'uint8'), RangeError, /for dtype but received 'uint8'/);
    expectThrows(() => arange(0, 3, 1, 'float16' as never), TypeError, /for dtype/);
    expectThrows(() => arange(2 ** 31, 2 ** 31 + 2, 1, 'int32'), RangeError, /start/);
    expectThrows(() => arange(2 ** 31 - 2, 2 ** 31 + 2, 1, 'int32'), RangeError, /last value/);
  });

  it('astype checks its dtype and scale', () => {
    tidy(() => {
      const t = zeros([2]);
      expectThrows(() => t.astype('float64' as never), TypeError, /for dtype but received 'float64'/);
      expectThrows(() => t.astype('float32', '2' as never), TypeError, /for scale/);
      expectThrows(() => t.astype('float32', Number.NaN), RangeError, /for scale but received NaN/);
      expectThrows(() => t.astype('float32', Number.POSITIVE_INFINITY), RangeError, /for scale/);
    });
  });

  it('every creation function rejects unknown dtype strings', () => {
    for (const bad of ['float64', 'int', 'Float32', '', null, 3]) {
      expectThrows(() => zeros([1], bad as never), TypeError, /for dtype/);
      expectThrows(() => full([1], 0, bad as never), TypeError, /for dtype/);
      expectThrows(() => tensor([1], { dtype: bad as never }), TypeError, /for dtype/);
    }
  });
});
