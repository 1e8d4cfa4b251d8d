/**
 * Constant values in an imported graph: TensorProto data decoded with every size checked before
 * anything is allocated, including data stored in external files, which must lie inside the model's
 * folder.
 */
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { OnnxError } from '../errors.js';
import { DataType, type TensorProto } from '../proto/onnx.js';

/** A constant: float values in a Float32Array, integers (and booleans) in a Float64Array. */
export interface Const {
  dims: number[];
  float: boolean;
  data: Float32Array | Float64Array;
}

/** The most elements one constant may have (1 GiB of float32). */
export const MAX_ELEMENTS = 1 << 28;

/** Where external data may come from, and how much of it is left to read. */
export interface DataSource {
  /** The model's folder; external data is refused without it. */
  baseDir?: string;
  /** Bytes of tensor data still allowed (a total budget across the model). */
  budget: { bytes: number };
}

const ELEMENT_BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.DOUBLE]: 8,
  [DataType.INT64]: 8,
  [DataType.INT32]: 4,
  [DataType.INT8]: 1,
  [DataType.UINT8]: 1,
  [DataType.BOOL]: 1,
};

/** The element count of dims, checked. */
export function elementCount(dims: readonly number[], where: string): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new OnnxError(`${where} has the invalid dimension ${d}`);
    n *= d;
    if (n > MAX_ELEMENTS) {
      throw new OnnxError(`${where} declares [${dims.join(', ')}]: more than ${MAX_ELEMENTS} elements`);
    }
  }
  return n;
}

function externalBytes(t: TensorProto, bytes: number, src: DataSource, where: string): Uint8Array {
  const entries = new Map(t.externalData.map((e) => [e.key, e.value]));
  const location = entries.get('location');
  if (!location) throw new OnnxError(`${where} has external data without a location`);
  if (!src.baseDir) {
    throw new OnnxError(
      `${where} keeps its data in the external file '${location}'; import the model from its path`,
    );
  }
  const num = (key: string): number => {
    const v = entries.get(key);
    if (v === undefined) return -1;
    if (!/^\d{1,15}$/.test(v)) throw new OnnxError(`${where} has the invalid external data ${key} '${v}'`);
    return Number(v);
  };
  const offset = Math.max(num('offset'), 0);
  const length = num('length');
  if (length !== -1 && length !== bytes) {
    throw new OnnxError(`${where} declares ${length} bytes of external data but its shape needs ${bytes}`);
  }
  if (isAbsolute(location) || location.includes('\0')) {
    throw new OnnxError(`${where} points at external data '${location}' outside the model's folder`);
  }
  let base: string;
  let file: string;
  try {
    base = realpathSync(src.baseDir);
    file = realpathSync(join(base, location));
  } catch {
    throw new OnnxError(`${where} points at the external data file '${location}', which does not exist`);
  }
  const rel = relative(base, file);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new OnnxError(`${where} points at external data '${location}' outside the model's folder`);
  }
  const fd = openSync(file, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new OnnxError(`${where}: the external data '${location}' is not a file`);
    if (offset + bytes > st.size) {
      throw new OnnxError(
        `${where} needs bytes ${offset}–${offset + bytes} of '${location}', which has only ${st.size}`,
      );
    }
    const out = new Uint8Array(bytes);
    let done = 0;
    while (done < bytes) {
      const n = readSync(fd, out, done, bytes - done, offset + done);
      if (n === 0) throw new OnnxError(`${where}: '${location}' ended early`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function fromRaw(raw: Uint8Array, dataType: number, n: number): Float32Array | Float64Array {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (dataType === DataType.FLOAT) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
    return out;
  }
  if (dataType === DataType.DOUBLE) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
    return out;
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (dataType === DataType.INT64) out[i] = Number(dv.getBigInt64(i * 8, true));
    else if (dataType === DataType.INT32) out[i] = dv.getInt32(i * 4, true);
    else if (dataType === DataType.INT8) out[i] = dv.getInt8(i);
    else out[i] = dv.getUint8(i);
  }
  return out;
}

/**
 * The values of a TensorProto (float types become float32; integer and boolean types become a
 * Float64Array of integers). `where` names the tensor in errors.
 */
export function constValue(t: TensorProto, src: DataSource, where: string): Const {
  const elemBytes = ELEMENT_BYTES[t.dataType];
  if (elemBytes === undefined) {
    throw new OnnxError(
      `${where} has data type ${t.dataType}, which dlf does not import (float, int64, int32, int8, uint8, bool)`,
    );
  }
  const n = elementCount(t.dims, where);
  const float = t.dataType === DataType.FLOAT || t.dataType === DataType.DOUBLE;
  const bytes = n * elemBytes;
  if (t.dataLocation === 1) {
    if (bytes > src.budget.bytes)
      throw new OnnxError(`${where}: the model's tensor data is over its size budget`);
    src.budget.bytes -= bytes;
    return { dims: t.dims, float, data: fromRaw(externalBytes(t, bytes, src, where), t.dataType, n) };
  }
  if (t.rawData) {
    if (t.rawData.length !== bytes) {
      throw new OnnxError(
        `${where} has ${t.rawData.length} bytes of data but its shape [${t.dims.join(', ')}] needs ${bytes}`,
      );
    }
    return { dims: t.dims, float, data: fromRaw(t.rawData, t.dataType, n) };
  }
  const list =
    t.dataType === DataType.FLOAT
      ? t.floatData
      : t.dataType === DataType.INT64
        ? t.int64Data
        : t.dataType === DataType.DOUBLE
          ? t.doubleData
          : t.int32Data;
  if (list.length !== n) {
    throw new OnnxError(`${where} has ${list.length} values but its shape [${t.dims.join(', ')}] needs ${n}`);
  }
  return { dims: t.dims, float, data: float ? Float32Array.from(list) : Float64Array.from(list) };
}
