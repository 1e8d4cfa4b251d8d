import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor as native } from '@dlf/native/tensor';
import {
  arange,
  type DType,
  DuplicateKeyError,
  HeaderTooLargeError,
  HeaderTooSmallError,
  InvalidHeaderDeserializationError,
  InvalidHeaderError,
  InvalidHeaderLengthError,
  InvalidOffsetError,
  loadSafetensors,
  loadSafetensorsSync,
  MetadataIncompleteBufferError,
  MisalignedSliceError,
  memory,
  parseSafetensors,
  SafetensorsError,
  saveSafetensors,
  saveSafetensorsSync,
  serializeSafetensors,
  Tensor,
  TensorInvalidInfoError,
  tensor,
  UnsupportedDTypeError,
  UnsupportedShapeError,
  ValidationOverflowError,
} from '@dlf/tensor-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const enc = new TextEncoder();

/** A file built by hand: 8-byte N (the header's length unless given), the header, `data` bytes. */
function craft(header: string | Uint8Array, data: number | Uint8Array = 0, n?: number | bigint): Uint8Array {
  const h = typeof header === 'string' ? enc.encode(header) : header;
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(n ?? h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

/** The raw bytes of a tensor's elements in row-major order. */
function bytesOfTensor(t: Tensor): Uint8Array {
  const a = t.toTypedArray();
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

function disposeAll(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

/** Runs `fn`, expecting the given error class; returns the error. */
function expectError<E extends SafetensorsError>(fn: () => unknown, cls: new (...args: never[]) => E): E {
  let caught: unknown;
  try {
    const r = fn() as { tensors?: Map<string, Tensor> } | undefined;
    if (r?.tensors) disposeAll(r.tensors);
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof cls)) {
    throw new Error(
      `expected ${cls.name} but got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`,
    );
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  expect(caught).toBeInstanceOf(Error);
  expect(caught.name).toBe(cls.name);
  expect(caught.message).toContain(caught.file);
  expect(caught.message).toContain(`(${caught.code})`);
  if (caught.tensor !== undefined) expect(caught.message).toContain(JSON.stringify(caught.tensor));
  return caught;
}

/** The header a file declares, read by the format definition alone (not by the code under test). */
function readHeaderByHand(bytes: Uint8Array): { n: number; header: Record<string, unknown>; text: string } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  return { n, header: JSON.parse(text) as Record<string, unknown>, text };
}

const ALL_DTYPES: [string, number][] = [
  ['BOOL', 8],
  ['F4', 4],
  ['F6_E2M3', 6],
  ['F6_E3M2', 6],
  ['U8', 8],
  ['I8', 8],
  ['F8_E5M2', 8],
  ['F8_E4M3', 8],
  ['F8_E8M0', 8],
  ['F8_E4M3FNUZ', 8],
  ['F8_E5M2FNUZ', 8],
  ['I16', 16],
  ['U16', 16],
  ['F16', 16],
  ['BF16', 16],
  ['I32', 32],
  ['U32', 32],
  ['F32', 32],
  ['C64', 64],
  ['F64', 64],
  ['I64', 64],
  ['U64', 64],
];

// ---------------------------------------------------------------------------------------------
// Round trips and layout
// ---------------------------------------------------------------------------------------------

describe('safetensors round trip', () => {
  it('round-trips every supported dtype bit-exactly', () => {
    const f = new Float32Array([0, -0, 1.5, -3.25e-38, Number.NaN, Number.POSITIVE_INFINITY, 3.4e38]);
    const i = new Int32Array([0, -1, 2 ** 31 - 1, -(2 ** 31), 123456]);
    const u = new Uint8Array([0, 1, 127, 128, 255, 42]);
    const input = {
      f: tensor(f, { shape: [7] }),
      i: tensor(i, { shape: [5] }),
      u: tensor(u, { shape: [2, 3] }),
    };
    const { tensors, metadata } = parseSafetensors(serializeSafetensors(input));
    expect([...tensors.keys()]).toEqual(['f', 'i', 'u']);
    for (const [name, t] of Object.entries(input)) {
      const back = tensors.get(name)!;
      expect(back.dtype).toBe(t.dtype);
      expect(back.shape).toEqual(t.shape);
      expect(bytesOfTensor(back)).toEqual(bytesOfTensor(t));
      t.dispose();
    }
    expect(Object.is((tensors.get('f')!.toTypedArray() as Float32Array)[1], -0)).toBe(true);
    expect(metadata).toEqual({});
    disposeAll(tensors);
  });

  it('round-trips empty tensors and rank-0 scalars', () => {
    const input = new Map<string, Tensor>([
      ['empty.f', tensor(new Float32Array(0), { shape: [0] })],
      ['empty.i', tensor(new Int32Array(0), { shape: [2, 0, 3] })],
      ['empty.u', tensor(new Uint8Array(0), { shape: [0, 5] })],
      ['scalar.f', tensor(new Float32Array([2.5]), { shape: [] })],
      ['scalar.i', tensor(new Int32Array([-7]), { shape: [] })],
      ['scalar.u', tensor(new Uint8Array([9]), { shape: [] })],
    ]);
    const bytes = serializeSafetensors(input);
    const { header } = readHeaderByHand(bytes);
    expect(header['scalar.f']).toEqual({ dtype: 'F32', shape: [], data_offsets: [0, 4] });
    expect(header['empty.i']).toEqual({ dtype: 'I32', shape: [2, 0, 3], data_offsets: [4, 4] });
    const { tensors } = parseSafetensors(bytes);
    for (const [name, t] of input) {
      const back = tensors.get(name)!;
      expect(back.shape).toEqual(t.shape);
      expect(back.dtype).toBe(t.dtype);
      expect(back.toArray()).toEqual(t.toArray());
      t.dispose();
    }
    expect(tensors.get('scalar.i')!.item()).toBe(-7);
    disposeAll(tensors);
  });

  it('writes non-contiguous views as their elements in row-major order', () => {
    const base = arange(24).reshape([4, 6]);
    const sliced = base.slice(1, 3); // contiguous view at an offset
    const permuted = new Tensor(native.permute(base.handle, [1, 0])); // strided view [6, 4]
    expect(permuted.isContiguous).toBe(false);
    const permutedSlice = permuted.slice(2, 5); // strided view of a view
    const reshaped = permuted.reshape([3, 8]); // a copy of a strided view
    const ints = new Tensor(native.permute(arange(6, undefined, 1, 'int32').reshape([2, 3]).handle, [1, 0]));
    const input = { sliced, permuted, permutedSlice, reshaped, ints };
    const { tensors } = parseSafetensors(serializeSafetensors(input));
    for (const [name, t] of Object.entries(input)) {
      const back = tensors.get(name)!;
      expect(back.shape).toEqual(t.shape);
      expect(back.isContiguous).toBe(true);
      expect(back.toArray()).toEqual(t.toArray());
    }
    expect(tensors.get('permuted')!.toArray()).toEqual(
      Array.from({ length: 6 }, (_, c) => Array.from({ length: 4 }, (_, r) => r * 6 + c)),
    );
    for (const t of [base, ...Object.values(input)]) t.dispose();
    disposeAll(tensors);
  });

  it('round-trips metadata, including keys that are special on plain objects', () => {
    const t = tensor([1, 2]);
    const meta = { format: 'pt', epoch: '7', empty: '', unicode: 'λ 😀 "quoted" \\ \n', constructor: 'c' };
    const withProto = JSON.parse('{"__proto__":"p","toString":"s"}') as Record<string, string>;
    const { tensors, metadata } = parseSafetensors(serializeSafetensors({ t }, { ...meta, ...withProto }));
    expect(Object.getPrototypeOf(metadata)).toBe(null);
    expect({ ...metadata }).toEqual({ ...meta, ...withProto });
    expect(Object.keys(metadata)).toContain('__proto__');
    expect(({} as Record<string, unknown>).p).toBeUndefined();
    t.dispose();
    disposeAll(tensors);
  });

  it('accepts a Map or a record, with the same bytes', () => {
    const a = tensor([1, 2, 3]);
    const b = tensor(new Uint8Array([4]), { shape: [1] });
    expect(
      serializeSafetensors(
        new Map([
          ['b', b],
          ['a', a],
        ]),
      ),
    ).toEqual(serializeSafetensors({ a, b }));
    a.dispose();
    b.dispose();
  });

  it('lays the file out by the format definition: 8-byte aligned, reference order, contiguous, exact length', () => {
    const tensors = {
      zz: tensor(new Uint8Array([1, 2, 3]), { shape: [3] }),
      'b.u8': tensor(new Uint8Array([4]), { shape: [1] }),
      c: tensor(new Int32Array([5, 6]), { shape: [2] }),
      a: tensor(new Int32Array([7]), { shape: [1, 1] }),
      y: tensor(new Float32Array([0.5, 1.5, 2.5]), { shape: [3] }),
      x: tensor(new Float32Array([8]), { shape: [] }),
    };
    const bytes = serializeSafetensors(tensors, { note: 'x' });
    const { n, header, text } = readHeaderByHand(bytes);
    expect(n % 8).toBe(0);
    expect(text.startsWith('{"__metadata__":{"note":"x"},')).toBe(true);
    expect(/^[^ ]*\}( *)$/.test(text)).toBe(true); // only spaces after the JSON
    // The reference writer's order: dtype descending in its enum (F32 > I32 > U8), then name.
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(names).toEqual(['x', 'y', 'a', 'c', 'b.u8', 'zz']);
    let end = 0;
    for (const name of names) {
      const info = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
      const t = tensors[name as keyof typeof tensors];
      expect(info.dtype).toBe({ float32: 'F32', int32: 'I32', uint8: 'U8' }[t.dtype]);
      expect(info.shape).toEqual(t.shape);
      expect(info.data_offsets[0]).toBe(end);
      end = info.data_offsets[1];
      // The data buffer starts 8-byte aligned from the file start, and every tensor at a multiple of
      // its element size (the reference's guarantee: no padding between tensors is allowed, so a
      // 4-byte scalar followed by another F32 tensor cannot put both at multiples of 8).
      const start = 8 + n + info.data_offsets[0];
      expect(start % (info.dtype === 'U8' ? 1 : 4)).toBe(0);
      // Holds its elements little-endian.
      const view = new DataView(
        bytes.buffer,
        bytes.byteOffset + start,
        info.data_offsets[1] - info.data_offsets[0],
      );
      const values = Array.from(t.toTypedArray());
      values.forEach((v, k) => {
        const got =
          info.dtype === 'F32'
            ? view.getFloat32(k * 4, true)
            : info.dtype === 'I32'
              ? view.getInt32(k * 4, true)
              : view.getUint8(k);
        expect(got).toBe(v);
      });
    }
    expect(8 + n + end).toBe(bytes.length);
    // The first tensor (the data buffer) starts at a multiple of 8.
    expect((8 + n) % 8).toBe(0);
    for (const t of Object.values(tensors)) t.dispose();
  });

  it('starts every tensor at a multiple of 8 whatever the header length', () => {
    for (let len = 1; len <= 9; len++) {
      const name = 'n'.repeat(len);
      const t = tensor([1, 2]);
      const bytes = serializeSafetensors({ [name]: t });
      const { n, header } = readHeaderByHand(bytes);
      expect((8 + n + (header[name] as { data_offsets: number[] }).data_offsets[0]!) % 8).toBe(0);
      t.dispose();
    }
  });

  it('produces the bytes the format defines for small files', () => {
    const t = tensor(new Float32Array([0, 1, 2, 3, 4, 5]), { shape: [1, 2, 3] });
    const expectedHeader = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'; // 64 bytes
    expect(expectedHeader.length).toBe(64);
    const data = new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5]).buffer);
    expect(serializeSafetensors({ 'attn.0': t })).toEqual(craft(expectedHeader, data));
    t.dispose();
    // No tensors: "{}" padded to 8 bytes.
    expect(Array.from(serializeSafetensors({}))).toEqual([
      8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32,
    ]);
    // Metadata only: 35 bytes of JSON padded to 40.
    const metaOnly = serializeSafetensors({}, { framework: 'pt' });
    expect(metaOnly).toEqual(craft('{"__metadata__":{"framework":"pt"}}     '));
    expect(parseSafetensors(metaOnly).metadata).toEqual({ framework: 'pt' });
  });

  it('orders names by code point (UTF-8 bytes), as Rust strings sort', () => {
    const a = tensor([1]);
    const b = tensor([2]);
    // U+FF61 sorts before U+1F600 by code point, after it by UTF-16 code unit.
    const bytes = serializeSafetensors({ '😀': a, '｡': b });
    const names = Object.keys(readHeaderByHand(bytes).header);
    expect(names).toEqual(['｡', '😀']);
    a.dispose();
    b.dispose();
  });

  it('reads files laid out by other writers (any order, no alignment, extra fields, whitespace, escapes)', () => {
    const header =
      '{ "b" : {"shape":[2],"dtype":"U8","data_offsets":[4,6], "extra": {"nested": [1, 2.5, -3e4, null, true]}},\n' +
      '\t"\\u0061\\n" : {"dtype":"F32","shape":[],"data_offsets":[0,4]},"__metadata__":{"k":"\\ud83d\\ude00"}}\r\n  ';
    const data = new Uint8Array([0, 0, 0x20, 0x40, 7, 8]); // 2.5f LE, then [7, 8]
    const { tensors, metadata } = parseSafetensors(craft(header, data));
    expect([...tensors.keys()]).toEqual(['a\n', 'b']); // in data order
    expect(tensors.get('a\n')!.item()).toBe(2.5);
    expect(tensors.get('b')!.toArray()).toEqual([7, 8]);
    expect(metadata).toEqual({ k: '😀' });
    disposeAll(tensors);
  });

  it('stores header keys in a Map: __proto__ and friends are ordinary names', () => {
    const header =
      '{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},' +
      '"constructor":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},' +
      '"__metadata__":{"__proto__":"{\\"polluted\\":1}","hasOwnProperty":"x"}}';
    const { tensors, metadata } = parseSafetensors(craft(header, new Uint8Array([1, 2])));
    expect([...tensors.keys()]).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyNames(metadata).sort()).toEqual(['__proto__', 'hasOwnProperty']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    disposeAll(tensors);
  });

  it('knows every dtype of the format but loads only F32, I32 and U8', () => {
    for (const [dtype, bits] of ALL_DTYPES) {
      const bytes = (8 * bits) / 8; // shape [8]: whole bytes for every dtype, even F4 and F6
      const file = craft(`{"w":{"dtype":"${dtype}","shape":[8],"data_offsets":[0,${bytes}]}}`, bytes);
      if (dtype === 'F32' || dtype === 'I32' || dtype === 'U8') {
        const { tensors } = parseSafetensors(file);
        expect(tensors.get('w')!.shape).toEqual([8]);
        disposeAll(tensors);
      } else {
        const e = expectError(() => parseSafetensors(file, 'w.safetensors'), UnsupportedDTypeError);
        expect(e.code).toBe('UnsupportedDType');
        expect(e.tensor).toBe('w');
        expect(e.dtype).toBe(dtype);
        expect(e.message).toContain(dtype);
      }
    }
  });

  it('rejects tensors with more dimensions than dlf supports', () => {
    const shape = new Array(17).fill(1);
    const e = expectError(
      () => parseSafetensors(craft(`{"deep":{"dtype":"U8","shape":[${shape}],"data_offsets":[0,1]}}`, 1)),
      UnsupportedShapeError,
    );
    expect(e.tensor).toBe('deep');
  });
});

// ---------------------------------------------------------------------------------------------
// Argument checks of the writer
// ---------------------------------------------------------------------------------------------

describe('serializeSafetensors argument checks', () => {
  it('rejects bad names, values and metadata with clear errors', () => {
    const t = tensor([1]);
    expect(() => serializeSafetensors({ '': t })).toThrow(/non-empty string for tensor name/);
    expect(() => serializeSafetensors({ __metadata__: t })).toThrow(/'__metadata__'/);
    expect(() => serializeSafetensors(new Map([[1 as unknown as string, t]]))).toThrow(TypeError);
    expect(() => serializeSafetensors({ ['\ud800x']: t })).toThrow(/lone surrogates/);
    expect(() => serializeSafetensors({ w: [1, 2] as unknown as Tensor })).toThrow(
      /a Tensor for tensors\["w"\]/,
    );
    expect(() => serializeSafetensors([t] as unknown as Record<string, Tensor>)).toThrow(TypeError);
    expect(() => serializeSafetensors(t as unknown as Record<string, Tensor>)).toThrow(TypeError);
    expect(() => serializeSafetensors({ t }, { epoch: 7 as unknown as string })).toThrow(
      /a string \(metadata holds strings only\) for metadata\["epoch"\] but received 7/,
    );
    expect(() => serializeSafetensors({ t }, { a: null as unknown as string })).toThrow(TypeError);
    expect(() => serializeSafetensors({ t }, ['a'] as unknown as Record<string, string>)).toThrow(TypeError);
    expect(() => serializeSafetensors({ t }, { a: '\udc00' })).toThrow(/lone surrogates/);
    const d = tensor([1, 2]);
    d.dispose();
    expect(() => serializeSafetensors({ t, d })).toThrow(/not disposed for tensors\["d"\]/);
    t.dispose();
  });

  it('rejects non-bytes input to parseSafetensors', () => {
    expect(() => parseSafetensors([1, 2, 3] as unknown as Uint8Array)).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Every validation rule, on files built by hand
// ---------------------------------------------------------------------------------------------

const okEntry = (name: string, begin: number, end: number, dtype = 'U8', shape = `[${end - begin}]`) =>
  `"${name}":{"dtype":"${dtype}","shape":${shape},"data_offsets":[${begin},${end}]}`;

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

// ---------------------------------------------------------------------------------------------
// Files: load, save, atomic replacement
// ---------------------------------------------------------------------------------------------

describe('safetensors files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlf-safetensors-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const sub = (name: string) => {
    const d = join(dir, name);
    mkdirSync(d);
    return d;
  };

  it('saves and loads, async and sync, with metadata', async () => {
    const d = sub('roundtrip');
    const w = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    const labels = tensor(new Int32Array([3, 1]), { shape: [2] });
    const img = tensor(new Uint8Array([0, 255, 128, 7]), { shape: [1, 2, 2] });
    const input = { w, labels, img };
    const path = join(d, 'model.safetensors');
    await saveSafetensors(path, input, { epoch: '3' });
    expect(readFileSync(path)).toEqual(Buffer.from(serializeSafetensors(input, { epoch: '3' })));
    for (const loaded of [await loadSafetensors(path), loadSafetensorsSync(path)]) {
      expect(loaded.metadata).toEqual({ epoch: '3' });
      for (const [name, t] of Object.entries(input))
        expect(loaded.tensors.get(name)!.toArray()).toEqual(t.toArray());
      disposeAll(loaded.tensors);
    }
    const path2 = join(d, 'sync.safetensors');
    saveSafetensorsSync(path2, new Map(Object.entries(input)), { epoch: '3' });
    expect(readFileSync(path2)).toEqual(readFileSync(path));
    expect(readdirSync(d).sort()).toEqual(['model.safetensors', 'sync.safetensors']);
    for (const t of Object.values(input)) t.dispose();
  });

  it('loads files with empty tensors and no tensors', async () => {
    const d = sub('empty');
    const e = tensor(new Float32Array(0), { shape: [3, 0] });
    await saveSafetensors(join(d, 'e.safetensors'), { e });
    await saveSafetensors(join(d, 'none.safetensors'), {});
    const loaded = await loadSafetensors(join(d, 'e.safetensors'));
    expect(loaded.tensors.get('e')!.shape).toEqual([3, 0]);
    expect(loadSafetensorsSync(join(d, 'none.safetensors')).tensors.size).toBe(0);
    disposeAll(loaded.tensors);
    e.dispose();
  });

  it('names the file in load errors', async () => {
    const d = sub('errors');
    const path = join(d, 'bad.safetensors');
    writeFileSync(path, craft(`{${okEntry('w', 1, 2)}}`, 2));
    const async = await loadSafetensors(path).catch((e: unknown) => e);
    expect(async).toBeInstanceOf(InvalidOffsetError);
    expect((async as InvalidOffsetError).file).toBe(path);
    expect((async as InvalidOffsetError).tensor).toBe('w');
    expect((async as Error).message).toContain(path);
    const sync = expectError(() => loadSafetensorsSync(path), InvalidOffsetError);
    expect(sync.file).toBe(path);
    const small = join(d, 'small.safetensors');
    writeFileSync(small, new Uint8Array(3));
    expect(await loadSafetensors(small).catch((e: unknown) => e)).toBeInstanceOf(HeaderTooSmallError);
    expectError(() => loadSafetensorsSync(small), HeaderTooSmallError);
    const huge = join(d, 'huge.safetensors');
    writeFileSync(huge, craft('{}', 0, 2n ** 63n));
    expect(await loadSafetensors(huge).catch((e: unknown) => e)).toBeInstanceOf(HeaderTooLargeError);
    const trailing = join(d, 'trailing.safetensors');
    writeFileSync(trailing, craft(`{${okEntry('w', 0, 2)}}`, 3));
    expect(await loadSafetensors(trailing).catch((e: unknown) => e)).toBeInstanceOf(
      MetadataIncompleteBufferError,
    );
    // I/O errors stay I/O errors.
    const missing = await loadSafetensors(join(d, 'missing.safetensors')).catch((e: unknown) => e);
    expect(missing).not.toBeInstanceOf(SafetensorsError);
    expect((missing as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(() => loadSafetensorsSync(join(d, 'missing.safetensors'))).toThrow(/ENOENT/);
  });

  /** A tensor look-alike that passes the argument checks but fails while its bytes are written. */
  function failingTensor(seen: string[][], d: string): Tensor {
    return {
      __isDlfTensor: true,
      shape: [2],
      dtype: 'float32' as DType,
      size: 2,
      isDisposed: false,
      get isContiguous(): boolean {
        seen.push(readdirSync(d)); // the directory mid-write
        throw new Error('simulated write failure');
      },
    } as unknown as Tensor;
  }

  it('leaves an existing file byte-identical and no temp file when saving fails', async () => {
    const d = sub('atomic');
    const path = join(d, 'model.safetensors');
    const old = tensor([1, 2, 3]);
    await saveSafetensors(path, { old });
    const before = readFileSync(path);
    const good = tensor([4, 5]);
    const disposed = tensor([6]);
    disposed.dispose();

    const attempts: [string, () => Promise<unknown>][] = [
      ['bad metadata', () => saveSafetensors(path, { good }, { n: 1 as unknown as string })],
      ['disposed tensor', () => saveSafetensors(path, { good, disposed })],
      ['bad name', () => saveSafetensors(path, { __metadata__: good })],
      ['bad metadata (sync)', async () => saveSafetensorsSync(path, { good }, { n: 1 as unknown as string })],
      ['disposed tensor (sync)', async () => saveSafetensorsSync(path, { good, disposed })],
    ];
    for (const [what, attempt] of attempts) {
      await expect(attempt(), what).rejects.toThrow();
      expect(readFileSync(path).equals(before), what).toBe(true);
      expect(readdirSync(d), what).toEqual(['model.safetensors']);
    }

    // A failure in the middle of writing: the temp file existed, and is gone afterwards.
    for (const save of [
      saveSafetensors,
      async (...a: Parameters<typeof saveSafetensorsSync>) => saveSafetensorsSync(...a),
    ]) {
      const seen: string[][] = [];
      await expect(save(path, { good, zzz: failingTensor(seen, d) })).rejects.toThrow(
        'simulated write failure',
      );
      expect(seen).toHaveLength(1);
      expect(seen[0]!.some((f) => /^\.tmp-model\.safetensors-\d+-[0-9a-f]+$/.test(f))).toBe(true);
      expect(readFileSync(path).equals(before)).toBe(true);
      expect(readdirSync(d)).toEqual(['model.safetensors']);
    }

    // A failing rename (the target is a folder) also cleans up.
    const folder = join(d, 'folder.safetensors');
    mkdirSync(folder);
    await expect(saveSafetensors(folder, { good })).rejects.toThrow();
    expect(() => saveSafetensorsSync(folder, { good })).toThrow();
    expect(readdirSync(d).sort()).toEqual(['folder.safetensors', 'model.safetensors']);
    // A missing folder: nothing written anywhere.
    await expect(saveSafetensors(join(d, 'nope', 'x.safetensors'), { good })).rejects.toThrow(/ENOENT/);

    // And a successful save replaces the file.
    await saveSafetensors(path, { good });
    const { tensors } = await loadSafetensors(path);
    expect([...tensors.keys()]).toEqual(['good']);
    expect(readdirSync(d).sort()).toEqual(['folder.safetensors', 'model.safetensors']);
    disposeAll(tensors);
    old.dispose();
    good.dispose();
  });
});

// ---------------------------------------------------------------------------------------------
// Property-based fuzzing
// ---------------------------------------------------------------------------------------------

interface Spec {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: Uint8Array;
}

const BYTES: Record<DType, number> = { float32: 4, int32: 4, uint8: 1 };

const specArb: fc.Arbitrary<Omit<Spec, 'name'>> = fc
  .record({
    dtype: fc.constantFrom<DType>('float32', 'int32', 'uint8'),
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  })
  .chain(({ dtype, shape }) => {
    const len = shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
    return fc.uint8Array({ minLength: len, maxLength: len }).map((bytes) => ({ dtype, shape, bytes }));
  });

const nameArb = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }),
  fc.constantFrom('__proto__', 'constructor', 'layer.0.weight', 'a"b\\c', '\n'),
);

const filesArb = fc.record({
  specs: fc.uniqueArray(
    fc.tuple(nameArb, specArb).map(([name, s]) => ({ ...s, name })),
    { maxLength: 5, selector: (s) => s.name },
  ),
  metadata: fc.option(
    fc.dictionary(
      fc.string({ unit: 'grapheme', maxLength: 5 }),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
    ),
    {
      nil: undefined,
    },
  ),
});

function build(specs: Spec[]): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const s of specs) {
    const buf = s.bytes.slice().buffer;
    const arr =
      s.dtype === 'float32'
        ? new Float32Array(buf)
        : s.dtype === 'int32'
          ? new Int32Array(buf)
          : new Uint8Array(buf);
    m.set(s.name, tensor(arr, { shape: s.shape }));
  }
  return m;
}

/**
 * Parses and either returns or throws a SafetensorsError; anything else fails the property.
 *
 * Allocation bound: `parseSafetensors` validates the whole header before it allocates any tensor
 * (planLoad, then allocate), and a valid header's tensors cover the data buffer exactly once
 * (contiguous from 0, no gap or overlap, each range exactly shape x dtype size, the last one ending
 * at the end of the file). So the bytes allocated for tensors are exactly `length - 8 - N`. The spy
 * on `native.empty` checks that bound on every fuzzed input, valid or not.
 */
function parseOrSafetensorsError(bytes: Uint8Array): void {
  const spy = vi.spyOn(native, 'empty');
  try {
    const { tensors } = parseSafetensors(bytes, 'fuzz');
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    let total = 0;
    for (const t of tensors.values()) total += t.size * BYTES[t.dtype];
    expect(total).toBe(bytes.length - 8 - n);
    disposeAll(tensors);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
  } finally {
    let allocated = 0;
    for (const [shape, code] of spy.mock.calls) {
      allocated += (shape as number[]).reduce((a, b) => a * b, 1) * (code === 2 ? 1 : 4);
    }
    spy.mockRestore();
    expect(allocated).toBeLessThanOrEqual(bytes.length);
  }
}

const dtypeNames = ALL_DTYPES.map(([d]) => d);
const junkNumberArb = fc.constantFrom(
  '-1',
  '1.5',
  '1e3',
  '-0',
  '18446744073709551615',
  '18446744073709551616',
  '9007199254740993',
  '4294967296',
  '"3"',
  'null',
);
/** Mostly small valid integers, sometimes a token that is wrong or extreme. */
const numberTokenArb = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 12 }).map(String) },
  { weight: 1, arbitrary: junkNumberArb },
);
const entryArb = fc
  .record({
    name: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'c') },
      { weight: 1, arbitrary: fc.constantFrom('__metadata__', '__proto__', '') },
      { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
    ),
    dtype: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('U8', 'I32', 'F32').map((d) => `"${d}"`) },
      { weight: 2, arbitrary: fc.constantFrom(...dtypeNames).map((d) => `"${d}"`) },
      { weight: 1, arbitrary: fc.constantFrom('"F31"', '1', 'null', '["F32"]') },
    ),
    shape: fc.oneof(
      { weight: 6, arbitrary: fc.array(fc.nat({ max: 4 }).map(String), { maxLength: 3 }) },
      { weight: 1, arbitrary: fc.array(numberTokenArb, { maxLength: 4 }) },
    ),
    offsets: fc.oneof(
      { weight: 6, arbitrary: fc.tuple(numberTokenArb, numberTokenArb) },
      { weight: 1, arbitrary: fc.array(numberTokenArb, { maxLength: 3 }) },
    ),
    extra: fc.option(fc.json({ maxDepth: 2 }), { nil: undefined, freq: 5 }),
  })
  .map(({ name, dtype, shape, offsets, extra }) => {
    const x = extra === undefined ? '' : `,"x":${extra}`;
    return `${JSON.stringify(name)}:{"dtype":${dtype},"shape":[${shape}],"data_offsets":[${offsets}]${x}}`;
  });

/** Headers that are close to valid: right structure, random names, dtypes, shapes and offsets. */
const rewrittenHeaderArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(
        fc.oneof(
          { weight: 5, arbitrary: entryArb },
          { weight: 1, arbitrary: fc.constantFrom('"__metadata__":{"k":"v"}', '"__metadata__":{"k":1}') },
        ),
        { maxLength: 4 },
      )
      .map((parts) => `{${parts.join(',')}}`),
  },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => `{${s}`) },
);

/** Rewrites one number of a valid header (an offset or a dimension) by a small amount. */
function perturb(bytes: Uint8Array, pick: number, field: number, delta: number): Uint8Array {
  const { n, header } = readHeaderByHand(bytes);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  if (names.length === 0) return bytes;
  const info = header[names[pick % names.length]!] as { shape: number[]; data_offsets: number[] };
  const targets = [info.data_offsets, info.shape].filter((a) => a.length > 0);
  const arr = targets[field % targets.length]!;
  const k = (field >> 1) % arr.length;
  arr[k] = Math.max(0, arr[k]! + delta);
  return craft(JSON.stringify(header), bytes.subarray(8 + n));
}

describe('safetensors fuzzing', () => {
  it('random valid files round-trip bit-exactly and deterministically', () => {
    const before = memory().numTensors;
    fc.assert(
      fc.property(filesArb, ({ specs, metadata }) => {
        const input = build(specs);
        const bytes = serializeSafetensors(input, metadata);
        const { n, header } = readHeaderByHand(bytes);
        expect(n % 8).toBe(0);
        const { tensors, metadata: meta } = parseSafetensors(bytes);
        expect(tensors.size).toBe(specs.length);
        for (const s of specs) {
          const t = tensors.get(s.name)!;
          expect(t.dtype).toBe(s.dtype);
          expect(t.shape).toEqual(s.shape);
          expect(bytesOfTensor(t)).toEqual(s.bytes);
          const info = header[s.name] as { data_offsets: [number, number] };
          expect((8 + n + info.data_offsets[0]) % BYTES[s.dtype]).toBe(0);
        }
        expect({ ...meta }).toEqual({ ...(metadata ?? {}) });
        // Writing what was read gives the same bytes.
        expect(serializeSafetensors(tensors, Object.keys(meta).length ? meta : undefined)).toEqual(bytes);
        disposeAll(tensors);
        disposeAll(input);
      }),
      { numRuns: 300 },
    );
    expect(memory().numTensors).toBe(before);
  });

  it('mutated files parse or throw a SafetensorsError, never anything else', () => {
    const before = memory().numTensors;
    const mutationArb = fc.oneof(
      fc.record({
        kind: fc.constant('flip' as const),
        edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('append' as const),
        extra: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      }),
      fc.record({ kind: fc.constant('size' as const), n: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
      fc.record({ kind: fc.constant('smallsize' as const), delta: fc.integer({ min: -16, max: 16 }) }),
      fc.record({
        kind: fc.constant('perturb' as const),
        pick: fc.nat(),
        field: fc.nat(),
        delta: fc.integer({ min: -5, max: 5 }).filter((d) => d !== 0),
      }),
      fc.record({
        kind: fc.constant('header' as const),
        header: rewrittenHeaderArb,
        pad: fc.nat({ max: 9 }),
        data: fc.nat({ max: 24 }),
      }),
    );
    fc.assert(
      fc.property(filesArb, mutationArb, ({ specs, metadata }, m) => {
        const input = build(specs);
        let bytes = serializeSafetensors(input, metadata);
        disposeAll(input);
        const view = () => new DataView(bytes.buffer, bytes.byteOffset);
        switch (m.kind) {
          case 'flip':
            bytes = bytes.slice();
            for (const [pos, v] of m.edits) bytes[pos % bytes.length] = v;
            break;
          case 'truncate':
            bytes = bytes.slice(0, m.at % (bytes.length + 1));
            break;
          case 'append': {
            const out = new Uint8Array(bytes.length + m.extra.length);
            out.set(bytes);
            out.set(m.extra, bytes.length);
            bytes = out;
            break;
          }
          case 'size':
            bytes = bytes.slice();
            view().setBigUint64(0, m.n, true);
            break;
          case 'smallsize': {
            bytes = bytes.slice();
            const n = view().getBigUint64(0, true) + BigInt(m.delta);
            view().setBigUint64(0, n < 0n ? 0n : n, true);
            break;
          }
          case 'perturb':
            bytes = perturb(bytes, m.pick, m.field, m.delta);
            break;
          case 'header':
            bytes = craft(m.header + ' '.repeat(m.pad), m.data);
            break;
        }
        parseOrSafetensorsError(bytes);
      }),
      { numRuns: 500 },
    );
    expect(memory().numTensors).toBe(before);
  });

  it('random bytes parse or throw a SafetensorsError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 64 }), fc.boolean(), (body, n, brace) => {
        const b = body.slice();
        if (brace && b.length > 0) b[0] = 0x7b;
        parseOrSafetensorsError(craft(b, 0, n));
      }),
      { numRuns: 300 },
    );
  });
});
