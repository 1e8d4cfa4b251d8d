import { createHash } from 'node:crypto';
import { close, closeSync, fstatSync, mkdirSync, openSync, read, readSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { endianness, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '@dlf/tensor-core';

/**
 * The decode cache: decoded uint8 images and int32 labels in one file, so a second run skips
 * decoding.
 *
 * File layout (all integers little-endian):
 *
 * | bytes | content |
 * |---|---|
 * | 0–7 | magic `DLFDATA1` |
 * | 8–11 | format version (1) |
 * | 12–15 | header length H (a multiple of 8) |
 * | 16 … 16+H | UTF-8 JSON {@link CacheMeta}, right-padded with spaces |
 * | then | `count` int32 labels, zero-padded to a multiple of 8 bytes |
 * | then | `count × sampleSize` uint8 pixels, `[N, C, H, W]` |
 *
 * The file is written to a temporary name in the same folder, flushed to disk, then renamed over
 * the target, so a reader never sees a partial file. A file whose key, size or header does not
 * match is treated as a miss and rewritten.
 */

const MAGIC = 'DLFDATA1';
const VERSION = 1;

/**
 * What a cache file's header records.
 *
 * @example
 * ```ts
 * const hit = readCache(file, key);
 * hit?.meta.splits; // [{ name: 'train', count: 50000 }, { name: 'test', count: 10000 }]
 * ```
 */
export interface CacheMeta {
  /** The hash of everything the contents depend on (files, sizes, mtimes, preprocessing). */
  key: string;
  /** Number of samples. */
  count: number;
  /** Shape of one sample, `[C, H, W]`. */
  shape: number[];
  /** Class names in label order. */
  classes: string[];
  /** Consecutive runs of samples: `{ name: 'train', count: 50000 }, …`, in file order. */
  splits: { name: string; count: number }[];
  /** Files that failed to decode when the cache was written (they are re-reported on a hit). */
  skipped: { path: string; reason: string }[];
  /** The dataset folder, for people reading the header. */
  source: string;
}

/**
 * A cache file's contents.
 *
 * @example
 * ```ts
 * writeCache(file, { meta, labels: Int32Array.of(0, 1), images: new Uint8Array(2 * 3072) });
 * ```
 */
export interface CacheContents {
  /** What the cache holds: the key, the splits, the skipped files. */
  meta: CacheMeta;
  /** One class index per image. */
  labels: Int32Array;
  /** The decoded pixels, image after image (uint8, C×H×W each). */
  images: Uint8Array;
}

/**
 * The default cache folder: `$DLF_CACHE_DIR`, else `$XDG_CACHE_HOME/dlf/decoded`, else
 * `~/.cache/dlf/decoded`.
 *
 * @example
 * ```ts
 * defaultCacheDir(); // '/home/me/.cache/dlf/decoded'
 * ```
 */
export function defaultCacheDir(): string {
  if (process.env['DLF_CACHE_DIR']) return process.env['DLF_CACHE_DIR'];
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'dlf', 'decoded');
}

/**
 * A SHA-256 hex digest of a JSON-serialisable value (the cache key).
 *
 * @example
 * ```ts
 * hashKey({ files: [['a.png', 120, 1700000000000]], size: 32 }); // '3f0c…'
 * ```
 */
export function hashKey(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

function readFully(fd: number, target: Uint8Array, position: number): void {
  let done = 0;
  while (done < target.length) {
    const chunk = Math.min(target.length - done, 1 << 30);
    const n = readSync(fd, target, done, chunk, position + done);
    if (n === 0) throw new Error('unexpected end of file');
    done += n;
  }
}

/**
 * Reads a cache file. Returns `undefined` on a miss: no file, another key, another format version,
 * a file of the wrong size (e.g. cut short by a full disk), or a header or labels that do not hold
 * together (a count that is not a count, splits that do not add up, a label past the classes).
 *
 * @example
 * ```ts
 * const hit = readCache('/home/me/.cache/dlf/decoded/pets-1a2b.dlfdata', key);
 * if (hit) console.log(hit.meta.count);
 * ```
 */
export function readCache(file: string, key: string): CacheContents | undefined {
  if (endianness() !== 'LE') return undefined;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 16) return undefined;
    const head = new Uint8Array(16);
    readFully(fd, head, 0);
    if (Buffer.from(head.subarray(0, 8)).toString('latin1') !== MAGIC) return undefined;
    const dv = new DataView(head.buffer);
    if (dv.getUint32(8, true) !== VERSION) return undefined;
    const hlen = dv.getUint32(12, true);
    if (hlen % 8 !== 0 || 16 + hlen > size) return undefined;
    const hbytes = new Uint8Array(hlen);
    readFully(fd, hbytes, 16);
    const meta = JSON.parse(Buffer.from(hbytes).toString('utf8')) as CacheMeta;
    if (cacheMetaProblem(meta, hlen, size) !== undefined || meta.key !== key) return undefined;
    const sampleSize = meta.shape.reduce((a, b) => a * b, 1);
    const labelsAt = 16 + hlen;
    const imagesAt = labelsAt + pad8(meta.count * 4);
    const labels = new Int32Array(meta.count);
    readFully(fd, new Uint8Array(labels.buffer), labelsAt);
    if (cacheLabelsProblem(labels, meta.classes.length) !== undefined) return undefined;
    const images = new Uint8Array(meta.count * sampleSize);
    readFully(fd, images, imagesAt);
    return { meta, labels, images };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Why a cache header cannot be trusted, or `undefined` when it is consistent: every count a safe
 * non-negative integer, the shape three positive integers, the splits adding up to the count, the
 * class names strings, and the file exactly as long as the header says. Checked before anything is
 * allocated from the header's numbers.
 * @internal
 */
export function cacheMetaProblem(meta: unknown, hlen: number, size: number): string | undefined {
  if (typeof meta !== 'object' || meta === null) return 'its header is not an object';
  const m = meta as Partial<CacheMeta>;
  if (typeof m.key !== 'string') return 'its header has no key';
  if (!Number.isSafeInteger(m.count) || m.count! < 0)
    return `its sample count ${String(m.count)} is not a count`;
  if (
    !Array.isArray(m.shape) ||
    m.shape.length !== 3 ||
    !m.shape.every((d) => Number.isSafeInteger(d) && d > 0)
  )
    return `its sample shape ${JSON.stringify(m.shape)} is not three positive integers`;
  if (!Array.isArray(m.classes) || m.classes.length === 0 || !m.classes.every((c) => typeof c === 'string'))
    return 'its class names are not a list of names';
  if (
    !Array.isArray(m.splits) ||
    !m.splits.every((s) => typeof s?.name === 'string' && Number.isSafeInteger(s.count) && s.count >= 0) ||
    m.splits.reduce((a, s) => a + s.count, 0) !== m.count
  )
    return `its splits do not add up to its ${m.count} samples`;
  if (
    !Array.isArray(m.skipped) ||
    !m.skipped.every((s) => typeof s?.path === 'string' && typeof s?.reason === 'string')
  )
    return 'its list of skipped files is malformed';
  const sampleSize = m.shape[0]! * m.shape[1]! * m.shape[2]!;
  const expected = 16 + hlen + pad8(m.count! * 4) + m.count! * sampleSize;
  if (size !== expected) return `it has ${size} bytes where its header announces ${expected}`;
  return undefined;
}

/**
 * The first label outside `[0, classes)`, as a problem, or `undefined` when every label is valid.
 * @internal
 */
export function cacheLabelsProblem(labels: Int32Array, classes: number): string | undefined {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l < 0 || l >= classes) return `label ${l} of sample ${i} is not one of its ${classes} classes`;
  }
  return undefined;
}

/** A cache read started by {@link startCacheRead}. @internal */
export interface PendingCacheRead {
  /** The header, already read. */
  meta: CacheMeta;
  labels: Int32Array;
  images: Uint8Array;
  /** Settles when the labels and pixels are read: true when complete. */
  done: Promise<boolean>;
}

const CHUNK = 32 * 1024 * 1024;

/**
 * Reads a cache file's header synchronously and starts reading its labels and pixels on libuv's
 * worker threads, in 32 MB chunks, without waiting. The reads proceed while the JavaScript thread is
 * busy (e.g. scanning and stat-ing the dataset folder to compute the key), so on a hit the file is
 * mostly read by the time the key is known. Returns `undefined` when there is no valid file.
 * @internal
 */
export function startCacheRead(
  file: string,
  onInvalid?: (problem: string) => void,
): PendingCacheRead | undefined {
  if (endianness() !== 'LE') return undefined;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  let meta: CacheMeta;
  let labelsAt: number;
  let imagesAt: number;
  let sampleSize: number;
  try {
    const size = fstatSync(fd).size;
    if (size < 16) throw new Error(`it has only ${size} bytes`);
    const head = new Uint8Array(16);
    readFully(fd, head, 0);
    if (Buffer.from(head.subarray(0, 8)).toString('latin1') !== MAGIC)
      throw new Error('it is not a dlf cache file');
    const dv = new DataView(head.buffer);
    // Another format version is a plain miss (written by another dlf), not damage.
    if (dv.getUint32(8, true) !== VERSION) throw undefined;
    const hlen = dv.getUint32(12, true);
    if (hlen % 8 !== 0 || 16 + hlen > size) throw new Error('its header length is out of range');
    const hbytes = new Uint8Array(hlen);
    readFully(fd, hbytes, 16);
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(hbytes).toString('utf8'));
    } catch {
      throw new Error('its header is not JSON');
    }
    const problem = cacheMetaProblem(parsed, hlen, size);
    if (problem) throw new Error(problem);
    meta = parsed as CacheMeta;
    sampleSize = meta.shape.reduce((a, b) => a * b, 1);
    labelsAt = 16 + hlen;
    imagesAt = labelsAt + pad8(meta.count * 4);
  } catch (e) {
    closeSync(fd);
    if (e instanceof Error) onInvalid?.(e.message);
    return undefined;
  }
  const labels = new Int32Array(meta.count);
  const images = new Uint8Array(meta.count * sampleSize);
  const jobs: [Uint8Array, number][] = [[new Uint8Array(labels.buffer), labelsAt]];
  for (let off = 0; off < images.length; off += CHUNK) {
    jobs.push([images.subarray(off, Math.min(off + CHUNK, images.length)), imagesAt + off]);
  }
  const readAt = (target: Uint8Array, position: number): Promise<boolean> =>
    new Promise((resolve) => {
      const step = (done: number): void => {
        if (done === target.length) {
          resolve(true);
          return;
        }
        read(fd, target, done, target.length - done, position + done, (err, n) => {
          if (err || n === 0) resolve(false);
          else step(done + n);
        });
      };
      step(0);
    });
  const done = Promise.all(jobs.map(([t, p]) => readAt(t, p))).then(
    (oks) =>
      new Promise<boolean>((resolve) => {
        close(fd, () => resolve(oks.every(Boolean)));
      }),
  );
  return { meta, labels, images, done };
}

/** A cache file's bytes: the header, the labels (padded to 8 bytes) and the pixels. */
function cacheChunks(contents: CacheContents): Uint8Array[] {
  const { meta, labels, images } = contents;
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const hlen = pad8(json.length);
  const header = Buffer.alloc(16 + hlen, 0x20);
  header.write(MAGIC, 0, 'latin1');
  header.writeUInt32LE(VERSION, 8);
  header.writeUInt32LE(hlen, 12);
  json.copy(header, 16);
  const labelBytes = Buffer.alloc(pad8(labels.length * 4));
  Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength).copy(labelBytes);
  return [header, labelBytes, images];
}

/**
 * Writes a cache file atomically with `writeFileAtomicSync`: into a temporary file next to the
 * target, flushed with `fsync`, then renamed over the target (and the folder synced, where the
 * platform allows).
 *
 * @example
 * ```ts
 * writeCache(file, { meta, labels, images });
 * ```
 */
export function writeCache(file: string, contents: CacheContents): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomicSync(file, cacheChunks(contents));
}

/**
 * {@link writeCache} on libuv's threads (`writeFileAtomic`): a large cache is written and flushed
 * without holding the event loop.
 * @internal
 */
export async function writeCacheAsync(file: string, contents: CacheContents): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, cacheChunks(contents));
}
