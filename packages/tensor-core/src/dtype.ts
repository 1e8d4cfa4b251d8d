import { DTypeCode } from '@dlf/native';
import { invalidParam } from './errors.js';

/** Element types: float32 for values, int32 for labels and indices, uint8 for images. */
export type DType = 'float32' | 'int32' | 'uint8';

/** The typed array that holds a dtype's elements. */
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'int32'
    ? Int32Array
    : Uint8Array;

/** Any typed array dlf reads or writes. */
export type DataArray = Float32Array | Int32Array | Uint8Array;

const codes: Record<DType, DTypeCode> = { float32: DTypeCode.F32, int32: DTypeCode.I32, uint8: DTypeCode.U8 };
const names: DType[] = ['float32', 'int32', 'uint8'];

/** @internal */
export function dtypeCode(dtype: DType): DTypeCode {
  return codes[dtype];
}

/** @internal */
export function dtypeFromCode(code: number): DType {
  const d = names[code];
  if (!d) throw new TypeError(`Unknown dtype code ${code}`);
  return d;
}

/** Validates a dtype argument. */
export function checkDType(name: string, dtype: unknown): DType {
  if (dtype === 'float32' || dtype === 'int32' || dtype === 'uint8') return dtype;
  throw invalidParam(name, "one of 'float32', 'int32', 'uint8'", dtype, 'type');
}

/** The dtype matching a typed array, or undefined. */
export function dtypeOfArray(data: unknown): DType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  return undefined;
}

/** Bytes per element. */
export function dtypeBytes(dtype: DType): number {
  return dtype === 'uint8' ? 1 : 4;
}

/** @internal */
export function allocArray(dtype: DType, length: number): DataArray {
  return dtype === 'float32'
    ? new Float32Array(length)
    : dtype === 'int32'
      ? new Int32Array(length)
      : new Uint8Array(length);
}
