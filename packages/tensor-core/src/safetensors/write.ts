/** Writing safetensors files, laid out exactly as the reference writer does. */
import { dtypeBytes } from '../dtype.js';
import { checkPath, invalidParam } from '../errors.js';
import { writeFileAtomic, writeFileAtomicSync } from '../io/atomic.js';
import { isTensor, type Tensor } from '../tensor.js';
import {
  bytesOf,
  compareCodePoints,
  FILE_DTYPE,
  isWellFormed,
  LITTLE_ENDIAN,
  MAX_HEADER_SIZE,
  show,
  swap4,
  utf8,
  WRITE_ORDER,
} from './format.js';

/** Tensors to write: a Map or a record, by name. */
export type SafetensorsInput = Map<string, Tensor> | Record<string, Tensor>;

interface WritePlan {
  /** The 8-byte size and the padded header. */
  head: Uint8Array;
  items: { name: string; tensor: Tensor; byteLength: number }[];
  totalLength: number;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string') throw invalidParam('tensor name', 'a string', name, 'type');
  if (name.length === 0) throw invalidParam('tensor name', 'a non-empty string', name);
  if (name === '__metadata__') {
    throw invalidParam('tensor name', "a name other than '__metadata__' (reserved)", name);
  }
  if (!isWellFormed(name)) throw invalidParam('tensor name', 'a string without lone surrogates', name);
  return name;
}

function planWrite(tensors: SafetensorsInput, metadata: Record<string, string> | undefined): WritePlan {
  let pairs: [unknown, unknown][];
  if (tensors instanceof Map) {
    pairs = [...tensors];
  } else if (
    typeof tensors === 'object' &&
    tensors !== null &&
    !Array.isArray(tensors) &&
    !isTensor(tensors)
  ) {
    pairs = Object.entries(tensors);
  } else {
    throw invalidParam('tensors', 'a Map or a record of tensors by name', tensors, 'type');
  }
  const items = pairs.map(([rawName, t]) => {
    const name = checkName(rawName);
    if (!isTensor(t)) throw invalidParam(`tensors[${show(name)}]`, 'a Tensor', t, 'type');
    if (t.isDisposed) {
      throw new TypeError(
        `Expected a tensor that is not disposed for tensors[${show(name)}] but received a disposed tensor of shape [${t.shape.join(', ')}]`,
      );
    }
    if (!Object.hasOwn(FILE_DTYPE, t.dtype)) {
      throw invalidParam(`tensors[${show(name)}].dtype`, "'float32', 'int32' or 'uint8'", t.dtype);
    }
    return { name, tensor: t, key: Buffer.from(name, 'utf8'), byteLength: t.size * dtypeBytes(t.dtype) };
  });

  let meta: [string, string][] = [];
  if (metadata !== undefined) {
    if (
      typeof metadata !== 'object' ||
      metadata === null ||
      Array.isArray(metadata) ||
      metadata instanceof Map
    ) {
      throw invalidParam('metadata', 'a record of strings', metadata, 'type');
    }
    meta = Object.entries(metadata);
    for (const [k, v] of meta) {
      if (typeof v !== 'string') {
        throw invalidParam(`metadata[${show(k)}]`, 'a string (metadata holds strings only)', v, 'type');
      }
      if (!isWellFormed(k)) throw invalidParam('metadata key', 'a string without lone surrogates', k);
      if (!isWellFormed(v)) throw invalidParam(`metadata[${show(k)}]`, 'a string without lone surrogates', v);
    }
    meta.sort((a, b) => compareCodePoints(a[0], b[0]));
  }

  // The reference writer's order: dtype (F32, I32, U8), then name by UTF-8 bytes.
  items.sort(
    (a, b) => WRITE_ORDER[a.tensor.dtype] - WRITE_ORDER[b.tensor.dtype] || Buffer.compare(a.key, b.key),
  );
  const parts: string[] = [];
  if (meta.length > 0) {
    parts.push(
      `"__metadata__":{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`,
    );
  }
  let offset = 0;
  for (const it of items) {
    const t = it.tensor;
    parts.push(
      `${JSON.stringify(it.name)}:{"dtype":"${FILE_DTYPE[t.dtype]}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + it.byteLength}]}`,
    );
    offset += it.byteLength;
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.length / 8) * 8; // every tensor then starts at a multiple of 8
  if (n > MAX_HEADER_SIZE) {
    throw invalidParam('tensors', `a header of at most ${MAX_HEADER_SIZE} bytes`, `a header of ${n} bytes`);
  }
  const head = new Uint8Array(8 + n);
  new DataView(head.buffer).setBigUint64(0, BigInt(n), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length);
  return { head, items, totalLength: 8 + n + offset };
}

/** The bytes of one tensor, little-endian and row-major (a zero-copy view when possible). */
function tensorBytes(item: WritePlan['items'][number]): Uint8Array {
  const t = item.tensor;
  const bytes = bytesOf(t.isContiguous ? t.data() : t.toTypedArray());
  if (bytes.length !== item.byteLength) {
    throw new Error(
      `Tensor ${show(item.name)} has ${bytes.length} bytes of data, expected ${item.byteLength}`,
    );
  }
  if (LITTLE_ENDIAN || dtypeBytes(t.dtype) === 1) return bytes;
  const copy = bytes.slice();
  swap4(copy);
  return copy;
}

/**
 * Serializes tensors (and optional string metadata) to the bytes of a safetensors file, laid out as
 * the reference writer does: tensors sorted by dtype (F32, I32, then U8) then name, offsets
 * contiguous from 0, header padded with spaces to a multiple of 8 so the data starts 8-byte aligned
 * (and, with that order, every tensor at a multiple of its element size: the format allows no
 * padding between tensors). Views are written as their elements in row-major order. `__metadata__`
 * is written only when `metadata` has entries, with its keys sorted.
 *
 * @param tensors - the tensors by name (names non-empty, not `__metadata__`)
 * @param metadata - string values only
 * @example
 * ```ts
 * const bytes = serializeSafetensors({ 'fc.weight': randn([4, 3]) }, { format: 'pt' });
 * ```
 */
export function serializeSafetensors(
  tensors: SafetensorsInput,
  metadata?: Record<string, string>,
): Uint8Array {
  const plan = planWrite(tensors, metadata);
  const out = new Uint8Array(plan.totalLength);
  out.set(plan.head, 0);
  let pos = plan.head.length;
  for (const it of plan.items) {
    out.set(tensorBytes(it), pos);
    pos += it.byteLength;
  }
  return out;
}

/** The file's bytes in order: the head, then each tensor, produced one at a time. */
function* fileChunks(plan: WritePlan): Generator<Uint8Array> {
  yield plan.head;
  for (const it of plan.items) yield tensorBytes(it);
}

/**
 * Writes a safetensors file atomically with {@link writeFileAtomic}: the bytes go to a temporary file
 * in the same folder (`.tmp-<name>-<pid>-<random>`), which is fsynced and then renamed over `path`;
 * the folder is then fsynced (best effort). On any failure the temporary file is removed and an
 * existing `path` is left untouched. Arguments are checked before anything is written. Tensors are
 * streamed to the file one by one, never assembled in memory. A symbolic link at `path` is replaced,
 * not followed.
 *
 * @param path - the file to create or replace
 * @param tensors - the tensors by name
 * @param metadata - string values only
 * @example
 * ```ts
 * await saveSafetensors('runs/a/model.safetensors', new Map([['w', w], ['b', b]]), { epoch: '7' });
 * ```
 */
export async function saveSafetensors(
  path: string,
  tensors: SafetensorsInput,
  metadata?: Record<string, string>,
): Promise<void> {
  checkPath(path);
  await writeFileAtomic(path, fileChunks(planWrite(tensors, metadata)));
}

/**
 * The synchronous form of {@link saveSafetensors}, with the same atomic replacement.
 *
 * @param path - the file to create or replace
 * @param tensors - the tensors by name
 * @param metadata - string values only
 * @example
 * ```ts
 * saveSafetensorsSync('model.safetensors', { w: tensor([1, 2, 3]) });
 * ```
 */
export function saveSafetensorsSync(
  path: string,
  tensors: SafetensorsInput,
  metadata?: Record<string, string>,
): void {
  checkPath(path);
  writeFileAtomicSync(path, fileChunks(planWrite(tensors, metadata)));
}
