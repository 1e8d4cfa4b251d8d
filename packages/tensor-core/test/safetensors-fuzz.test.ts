/** Property-based fuzzing of the reader and the writer. */
import { tensor as native } from '@dlf/native/tensor';
import {
  type DType,
  memory,
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  type Tensor,
  tensor,
} from '@dlf/tensor-core';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { craft, bytesOfTensor, disposeAll, readHeaderByHand, ALL_DTYPES } from './safetensors-helpers.js';

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
