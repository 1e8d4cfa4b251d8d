/** Shared helpers for the safetensors tests: files built by hand and error checks. */
import { SafetensorsError, type Tensor } from '@dlf/tensor-core';
import { expect } from 'vitest';

export const enc = new TextEncoder();

/** A file built by hand: 8-byte N (the header's length unless given), the header, `data` bytes. */
export function craft(
  header: string | Uint8Array,
  data: number | Uint8Array = 0,
  n?: number | bigint,
): Uint8Array {
  const h = typeof header === 'string' ? enc.encode(header) : header;
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(n ?? h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

/** The raw bytes of a tensor's elements in row-major order. */
export function bytesOfTensor(t: Tensor): Uint8Array {
  const a = t.toTypedArray();
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

export function disposeAll(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

/** Runs `fn`, expecting the given error class; returns the error. */
export function expectError<E extends SafetensorsError>(
  fn: () => unknown,
  cls: new (...args: never[]) => E,
): E {
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
export function readHeaderByHand(bytes: Uint8Array): {
  n: number;
  header: Record<string, unknown>;
  text: string;
} {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  return { n, header: JSON.parse(text) as Record<string, unknown>, text };
}

export const ALL_DTYPES: [string, number][] = [
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

/** One valid tensor entry of a hand-built header. */
export const okEntry = (name: string, begin: number, end: number, dtype = 'U8', shape = `[${end - begin}]`) =>
  `"${name}":{"dtype":"${dtype}","shape":${shape},"data_offsets":[${begin},${end}]}`;
