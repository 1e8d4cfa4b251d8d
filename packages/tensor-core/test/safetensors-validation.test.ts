/** Every validation rule of the reader, on files built by hand. */
import {
  DuplicateKeyError,
  HeaderTooLargeError,
  HeaderTooSmallError,
  InvalidHeaderDeserializationError,
  InvalidHeaderError,
  InvalidHeaderLengthError,
  InvalidOffsetError,
  MetadataIncompleteBufferError,
  MisalignedSliceError,
  memory,
  parseSafetensors,
  serializeSafetensors,
  TensorInvalidInfoError,
  tensor,
  UnsupportedDTypeError,
  ValidationOverflowError,
} from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { craft, disposeAll, enc, expectError, okEntry } from './safetensors-helpers.js';

// ---------------------------------------------------------------------------------------------
// Every validation rule, on files built by hand
// ---------------------------------------------------------------------------------------------

describe('safetensors validation rules', () => {
  const src = 'crafted.safetensors';
  const parse = (bytes: Uint8Array) => () => parseSafetensors(bytes, src);

  it('1. HeaderTooSmall: fewer than 8 bytes', () => {
    for (let len = 0; len < 8; len++) {
      const e = expectError(parse(new Uint8Array(len)), HeaderTooSmallError);
      expect(e.code).toBe('HeaderTooSmall');
      expect(e.file).toBe(src);
      expect(e.tensor).toBeUndefined();
    }
    expect(expectError(() => parseSafetensors(new Uint8Array(2)), HeaderTooSmallError).file).toBe('<buffer>');
  });

  it('2. HeaderTooLarge: N above 100,000,000, read as a u64', () => {
    expect(expectError(parse(craft('{}', 0, 100_000_001)), HeaderTooLargeError).code).toBe('HeaderTooLarge');
    expectError(parse(craft('{}', 0, 2n ** 64n - 1n)), HeaderTooLargeError);
    expectError(parse(craft('{}', 0, 2n ** 53n + 1n)), HeaderTooLargeError);
    // At the limit the size is accepted, and the next rule applies.
    expectError(parse(craft('{}', 0, 100_000_000)), InvalidHeaderLengthError);
  });

  it('3. InvalidHeaderLength: 8 + N past the end of the file', () => {
    const e = expectError(parse(craft('{}      ', 0, 9)), InvalidHeaderLengthError);
    expect(e.code).toBe('InvalidHeaderLength');
    expectError(parse(craft('', 0, 1)), InvalidHeaderLengthError);
    // N exactly to the end of the file is fine.
    expect(parseSafetensors(craft('{}      ')).tensors.size).toBe(0);
  });

  it('4a. InvalidHeader: not UTF-8, not starting with "{", not a JSON object', () => {
    const bad: (string | Uint8Array)[] = [
      new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), // invalid byte in a string
      new Uint8Array([0x7b, 0x22, 0xc0, 0x80, 0x22, 0x7d]), // overlong encoding
      new Uint8Array([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), // an encoded surrogate
      new Uint8Array([0x7b, 0x7d, 0xe2, 0x82]), // truncated sequence in the padding
      new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), // a BOM before '{'
      '', // empty header
      ' {}', // leading space
      '\n{}',
      '[]',
      '"{}"',
      '{',
      '{"a":',
      '{"a":{"dtype":"U8"}',
      '{}x',
      '{} {}',
      '{}\u0000\u0000', // NUL padding
      "{'a':1}",
      '{"a":1,}',
      '{"a" 1}',
      '{a:1}',
      '{"a":01}',
      '{"a":1.}',
      '{"a":-}',
      '{"a":.5}',
      '{"a":NaN}',
      '{"a":tru}',
      '{"a":[1,]}',
      '{"a":[1 2]}',
      '{"a":"\u0001"}', // raw control character
      '{"a":"\\x"}', // bad escape
      '{"a":"\\u12G4"}',
      '{"\\ud800":{}}', // lone high surrogate
      '{"\\udc00x":{}}', // lone low surrogate
      '{"\\ud800\\u0041":{}}',
      `{"a":${'['.repeat(200)}${']'.repeat(200)}}`, // nested too deep
      '{"a":"unterminated',
    ];
    for (const h of bad) {
      const e = expectError(parse(craft(h)), InvalidHeaderError);
      expect(e.code).toBe('InvalidHeader');
    }
    // 127 levels of nesting inside an ignored field are fine.
    const deep = `{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1],"x":${'['.repeat(126)}${']'.repeat(126)}}}`;
    disposeAll(parseSafetensors(craft(deep, 1)).tensors);
  });

  it('4b. DuplicateKey: at every level of the header', () => {
    const t = (name: string) => okEntry(name, 0, 1);
    const cases: [string, string, string | undefined][] = [
      [`{${t('a')},${t('a')}}`, 'a', 'a'],
      [`{${t('a')},"\\u0061":{}}`, 'a', 'a'], // equal after decoding escapes
      ['{"__metadata__":{},"__metadata__":{}}', '__metadata__', undefined],
      [`{"__metadata__":{"k":"1","k":"2"},${t('a')}}`, 'k', undefined],
      ['{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 'dtype', 'a'],
      ['{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":[{"y":1,"y":2}]}}', 'y', 'a'],
    ];
    for (const [header, key, tensorName] of cases) {
      const e = expectError(parse(craft(header, 1)), DuplicateKeyError);
      expect(e.code).toBe('DuplicateKey');
      expect(e.key).toBe(key);
      expect(e.tensor).toBe(tensorName);
    }
  });

  it('4c. InvalidHeaderDeserialization: wrong types, unknown dtypes, bad metadata', () => {
    const cases: [string, string | undefined][] = [
      ['{"a":[]}', 'a'],
      ['{"a":"F32"}', 'a'],
      ['{"a":null}', 'a'],
      ['{"a":{"shape":[1],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[1]}}', 'a'],
      ['{"a":{"dtype":8,"shape":[1],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"u8","shape":[1],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"__proto__","shape":[1],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":1,"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[-0],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[1e0],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":["1"],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[null],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[123456789012345678901234],"data_offsets":[0,1]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[1],"data_offsets":{"0":0,"1":1}}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}', 'a'],
      ['{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1.5]}}', 'a'],
      ['{"__metadata__":null}', undefined],
      ['{"__metadata__":"x"}', undefined],
      ['{"__metadata__":["x"]}', undefined],
      ['{"__metadata__":{"k":1}}', undefined],
      ['{"__metadata__":{"k":null}}', undefined],
      ['{"__metadata__":{"k":{"nested":"x"}}}', undefined],
      ['{"__metadata__":{"k":["x"]}}', undefined],
    ];
    for (const [header, tensorName] of cases) {
      const e = expectError(parse(craft(header, 1)), InvalidHeaderDeserializationError);
      expect(e.code).toBe('InvalidHeaderDeserialization');
      expect(e.tensor).toBe(tensorName);
    }
    // The largest u64 is a valid number (it fails later rules, not deserialization).
    expectError(
      parse(craft('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551615]}}', 1)),
      TensorInvalidInfoError,
    );
  });

  it('5. InvalidOffset: sorted by offsets, tensors cover the data from 0 with no gap or overlap', () => {
    const cases: [string, number, string][] = [
      [`{${okEntry('a', 1, 3)}}`, 3, 'a'], // gap at the start
      [`{${okEntry('a', 0, 2)},${okEntry('b', 3, 4)}}`, 4, 'b'], // gap in the middle
      [`{${okEntry('a', 0, 2)},${okEntry('b', 1, 3)}}`, 3, 'b'], // overlap
      [`{${okEntry('a', 0, 2)},${okEntry('b', 0, 2)}}`, 2, 'b'], // the same range twice
      [`{${okEntry('b', 0, 2)},${okEntry('a', 0, 2)}}`, 2, 'b'], // ties reported by name order
      ['{"a":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}}', 2, 'a'], // end before begin
      [`{${okEntry('a', 0, 1)},"z":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}}`, 2, 'z'],
    ];
    for (const [header, dataLen, bad] of cases) {
      const e = expectError(parse(craft(header, dataLen)), InvalidOffsetError);
      expect(e.code).toBe('InvalidOffset');
      expect(e.tensor).toBe(bad);
    }
    // Sorting happens first: a header listed out of order is fine.
    const { tensors } = parseSafetensors(craft(`{${okEntry('b', 2, 3)},${okEntry('a', 0, 2)}}`, 3));
    expect([...tensors.keys()]).toEqual(['a', 'b']);
    disposeAll(tensors);
    // Several empty tensors may share an offset.
    const empties = parseSafetensors(
      craft(`{${okEntry('e1', 1, 1)},${okEntry('a', 0, 1)},${okEntry('e2', 1, 1)}}`, 1),
    );
    expect(empties.tensors.size).toBe(3);
    disposeAll(empties.tensors);
  });

  it('6a. ValidationOverflow: element count or byte size overflows, or a dimension above 2^53 - 1', () => {
    const cases: string[] = [
      '{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}', // 2^64 elements
      '{"a":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}', // overflows before the 0
      '{"a":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,0]}}', // 2^61 elements, 2^66 bits
      '{"a":{"dtype":"U8","shape":[0,9007199254740992],"data_offsets":[0,0]}}', // 0 elements, a dim of 2^53
    ];
    for (const header of cases) {
      const e = expectError(parse(craft(header)), ValidationOverflowError);
      expect(e.code).toBe('ValidationOverflow');
      expect(e.tensor).toBe('a');
    }
    // A zero dimension before huge ones never overflows (checked multiplication, as the reference).
    const { tensors } = parseSafetensors(
      craft('{"a":{"dtype":"U8","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}'),
    );
    expect(tensors.get('a')!.shape).toEqual([0, 2 ** 32, 2 ** 32]);
    disposeAll(tensors);
  });

  it('6b. MisalignedSlice: sub-byte dtypes must end on a byte boundary', () => {
    for (const h of [
      '{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}',
      '{"a":{"dtype":"F6_E2M3","shape":[1],"data_offsets":[0,1]}}',
    ]) {
      const e = expectError(parse(craft(h, 2)), MisalignedSliceError);
      expect(e.code).toBe('MisalignedSlice');
      expect(e.tensor).toBe('a');
    }
  });

  it('6c. TensorInvalidInfo: byte range must equal shape x dtype size', () => {
    const cases: [string, number][] = [
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', 4],
      ['{"a":{"dtype":"F32","shape":[],"data_offsets":[0,0]}}', 0],
      ['{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,1]}}', 1],
      ['{"a":{"dtype":"I32","shape":[2,2],"data_offsets":[0,12]}}', 12],
    ];
    for (const [h, len] of cases) {
      const e = expectError(parse(craft(h, len)), TensorInvalidInfoError);
      expect(e.code).toBe('TensorInvalidInfo');
      expect(e.tensor).toBe('a');
    }
  });

  it('7. MetadataIncompleteBuffer: the last tensor ends exactly at the end of the file', () => {
    const t = tensor([1, 2, 3]);
    const ok = serializeSafetensors({ t });
    t.dispose();
    const trailing = new Uint8Array(ok.length + 1);
    trailing.set(ok);
    for (const bad of [
      ok.subarray(0, ok.length - 1),
      trailing,
      craft('{}', 1),
      craft(`{${okEntry('a', 0, 4)}}`, 3),
    ]) {
      const e = expectError(parse(bad), MetadataIncompleteBufferError);
      expect(e.code).toBe('MetadataIncompleteBuffer');
    }
  });

  it('applies the rules in the reference order', () => {
    // Too large beats bad UTF-8 and short files.
    expectError(parse(craft(new Uint8Array([0xff]), 0, 200_000_000)), HeaderTooLargeError);
    // Bad UTF-8 beats duplicate keys.
    expectError(
      parse(craft(new Uint8Array([...enc.encode('{"a":1,"a":2,"'), 0xff, 0x22, 0x7d]))),
      InvalidHeaderError,
    );
    // Offsets beat trailing bytes; an unsupported dtype is reported only for a valid file.
    expectError(parse(craft(`{${okEntry('a', 1, 2)}}`, 9)), InvalidOffsetError);
    expectError(
      parse(craft('{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}', 3)),
      MetadataIncompleteBufferError,
    );
    expectError(
      parse(craft('{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}', 2)),
      UnsupportedDTypeError,
    );
    // Tensors are checked in offset order: the first bad one is reported.
    const h = `{"z":{"dtype":"U8","shape":[5],"data_offsets":[0,1]},"y":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}`;
    expect(expectError(parse(craft(h, 3)), TensorInvalidInfoError).tensor).toBe('z');
  });

  it('does not leak tensors when parsing fails', () => {
    const before = memory().numTensors;
    for (const h of ['{"a":1}', `{${okEntry('a', 0, 1)}}`]) {
      try {
        parseSafetensors(craft(h, 2));
      } catch {
        // expected
      }
    }
    expect(memory().numTensors).toBe(before);
  });
});
