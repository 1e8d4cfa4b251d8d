/** Reading safetensors files and buffers: validate the whole header, then allocate and fill. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { tensor as native } from '@dlf/native/tensor';
import { dtypeBytes, dtypeCode } from '../dtype.js';
import { checkPath, invalidParam } from '../errors.js';
import { Tensor } from '../tensor.js';
import { MetadataIncompleteBufferError } from './errors.js';
import { bytesOf, IO_CHUNK, LITTLE_ENDIAN, show, swap4 } from './format.js';
import { headerSize, type LoadPlan, planLoad } from './header.js';

/** Allocates each tensor (uninitialised) and returns the byte view to fill; disposes all on failure. */
function allocate(plan: LoadPlan): {
  tensors: Map<string, Tensor>;
  slots: { bytes: Uint8Array; offset: number }[];
} {
  const tensors = new Map<string, Tensor>();
  const slots: { bytes: Uint8Array; offset: number }[] = [];
  try {
    for (const p of plan.tensors) {
      const t = new Tensor(native.empty(p.shape, dtypeCode(p.dtype)), p.shape, p.dtype);
      tensors.set(p.name, t);
      const bytes = bytesOf(t.data());
      if (bytes.length !== p.byteLength) {
        throw new Error(`internal: tensor ${show(p.name)} has ${bytes.length} bytes`);
      }
      slots.push({ bytes, offset: p.offset });
    }
  } catch (e) {
    disposeAll(tensors);
    throw e;
  }
  return { tensors, slots };
}

function disposeAll(tensors: Map<string, Tensor>): void {
  for (const t of tensors.values()) t.dispose();
}

function fromLittleEndian(slots: { bytes: Uint8Array }[], plan: LoadPlan): void {
  if (LITTLE_ENDIAN) return;
  plan.tensors.forEach((p, i) => {
    if (dtypeBytes(p.dtype) === 4) swap4(slots[i]!.bytes);
  });
}

/** The tensors and metadata of a safetensors file. */
export interface SafetensorsContents {
  /** The tensors by name, in the order of their data in the file. */
  tensors: Map<string, Tensor>;
  /**
   * The `__metadata__` strings (empty when the file has none). A null-prototype object, so a key
   * such as `__proto__` is stored as an ordinary property.
   */
  metadata: Record<string, string>;
}

/**
 * Parses a whole safetensors file held in memory, enforcing every rule of the format in the
 * reference reader's order, then copies each tensor into a new dlf tensor. Throws a
 * {@link SafetensorsError} subclass naming `source` (and the tensor) for any invalid file; nothing
 * is allocated for tensor data before the whole header is validated, and then exactly
 * `bytes.length - 8 - N` bytes.
 *
 * @param bytes - the file's bytes
 * @param source - a name for the bytes in error messages
 * @example
 * ```ts
 * const { tensors, metadata } = parseSafetensors(await readFile('model.safetensors'), 'model.safetensors');
 * tensors.get('fc.weight')?.shape;
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsContents {
  if (!(bytes instanceof Uint8Array)) throw invalidParam('bytes', 'a Uint8Array', bytes, 'type');
  if (typeof source !== 'string') throw invalidParam('source', 'a string', source, 'type');
  const n = headerSize(bytes, bytes.length, source);
  const plan = planLoad(bytes.subarray(8, 8 + n), bytes.length, source);
  const { tensors, slots } = allocate(plan);
  for (const s of slots) s.bytes.set(bytes.subarray(s.offset, s.offset + s.bytes.length));
  fromLittleEndian(slots, plan);
  return { tensors, metadata: plan.metadata };
}

function shrank(file: string): MetadataIncompleteBufferError {
  return new MetadataIncompleteBufferError(file, 'the file ended early (was it changed while loading?)');
}

function readFullySync(fd: number, target: Uint8Array, position: number, file: string): void {
  for (let done = 0; done < target.length; ) {
    const got = readSync(fd, target, done, Math.min(target.length - done, IO_CHUNK), position + done);
    if (got === 0) throw shrank(file);
    done += got;
  }
}

async function readFully(fh: FileHandle, target: Uint8Array, position: number, file: string): Promise<void> {
  for (let done = 0; done < target.length; ) {
    const { bytesRead } = await fh.read(
      target,
      done,
      Math.min(target.length - done, IO_CHUNK),
      position + done,
    );
    if (bytesRead === 0) throw shrank(file);
    done += bytesRead;
  }
}

/**
 * Loads a safetensors file with the checks of {@link parseSafetensors}, reading the header first and
 * then each tensor's bytes straight into its memory (the file is never held whole in memory).
 * Errors name the file.
 *
 * @param path - the file
 * @example
 * ```ts
 * const { tensors, metadata } = await loadSafetensors('runs/a/model.safetensors');
 * console.log([...tensors.keys()], metadata);
 * ```
 */
export async function loadSafetensors(path: string): Promise<SafetensorsContents> {
  checkPath(path);
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const prefix = new Uint8Array(8);
    if (size >= 8) await readFully(fh, prefix, 0, path);
    const n = headerSize(prefix, size, path);
    const header = new Uint8Array(n);
    await readFully(fh, header, 8, path);
    const plan = planLoad(header, size, path);
    const { tensors, slots } = allocate(plan);
    try {
      for (const s of slots) await readFully(fh, s.bytes, s.offset, path);
    } catch (e) {
      disposeAll(tensors);
      throw e;
    }
    fromLittleEndian(slots, plan);
    return { tensors, metadata: plan.metadata };
  } finally {
    await fh.close();
  }
}

/**
 * The synchronous form of {@link loadSafetensors}.
 *
 * @param path - the file
 * @example
 * ```ts
 * const { tensors } = loadSafetensorsSync('model.safetensors');
 * ```
 */
export function loadSafetensorsSync(path: string): SafetensorsContents {
  checkPath(path);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const prefix = new Uint8Array(8);
    if (size >= 8) readFullySync(fd, prefix, 0, path);
    const n = headerSize(prefix, size, path);
    const header = new Uint8Array(n);
    readFullySync(fd, header, 8, path);
    const plan = planLoad(header, size, path);
    const { tensors, slots } = allocate(plan);
    try {
      for (const s of slots) readFullySync(fd, s.bytes, s.offset, path);
    } catch (e) {
      disposeAll(tensors);
      throw e;
    }
    fromLittleEndian(slots, plan);
    return { tensors, metadata: plan.metadata };
  } finally {
    closeSync(fd);
  }
}
