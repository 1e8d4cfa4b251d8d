/** Round trips, the layout the writer produces, and its argument checks. */
import { tensor as native } from '@dlf/native/tensor';
import {
  arange,
  parseSafetensors,
  serializeSafetensors,
  Tensor,
  tensor,
  UnsupportedDTypeError,
  UnsupportedShapeError,
} from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import {
  craft,
  bytesOfTensor,
  disposeAll,
  expectError,
  readHeaderByHand,
  ALL_DTYPES,
} from './safetensors-helpers.js';

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
