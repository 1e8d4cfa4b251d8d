/**
 * Atomic file and folder replacement, the one implementation every dlf package uses: the new content
 * is written under a temporary name in the same folder (so the final rename stays on one file system
 * and is atomic), flushed to disk, renamed over the target, and then the folder itself is flushed.
 * A crash or an error at any moment leaves either the old content or the new one, never a mix.
 *
 * Temporary names are `.tmp-<name>-<pid>-<12 random hex digits>`: unique per writer, even for two
 * writers of one process, and recognisable (`.tmp-` prefix) for clean-up after a crash.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { type FileHandle, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { checkPath, invalidParam } from '../errors.js';

/**
 * What {@link writeFileAtomic} writes: a string (as UTF-8), bytes, or an iterable of byte chunks
 * written in turn. A generator streams a large file without ever assembling it in memory, and an
 * error it throws part-way aborts the write like any other.
 *
 * @example
 * ```ts
 * const data: AtomicData = (function* () {
 *   yield header;
 *   for (const t of tensors) yield bytesOf(t);
 * })();
 * ```
 */
export type AtomicData = string | Uint8Array | Iterable<Uint8Array>;

/** Writes go through in slices of at most this many bytes (fs calls cap near 2 GiB). */
const WRITE_CHUNK = 1 << 30;

/** The longest part of a file name kept in a temporary name, in code points (names cap near 255 bytes). */
const MAX_LABEL = 100;

/** A fresh temporary path next to `path`: `.tmp-<label>-<pid>-<random>`. */
function tempPathFor(path: string, label = basename(path)): string {
  const short = Array.from(label).slice(0, MAX_LABEL).join('');
  return join(dirname(path), `.tmp-${short}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

function chunksOf(data: unknown): Iterable<unknown> {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (data instanceof Uint8Array) return [data];
  if (typeof data === 'object' && data !== null && Symbol.iterator in data) return data as Iterable<unknown>;
  throw invalidParam('data', 'a string, a Uint8Array or an iterable of Uint8Array chunks', data, 'type');
}

function checkChunk(chunk: unknown): Uint8Array {
  if (!(chunk instanceof Uint8Array)) throw invalidParam('data chunk', 'a Uint8Array', chunk, 'type');
  return chunk;
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    done += (await fh.write(bytes, done, Math.min(bytes.length - done, WRITE_CHUNK))).bytesWritten;
  }
}

function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, WRITE_CHUNK));
  }
}

/** Flushes a folder's entries (a rename) to disk. Best effort: some platforms cannot fsync a folder. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // The rename is atomic all the same; only its durability across a power cut is not guaranteed.
  }
}

/** The synchronous form of {@link syncDir}. */
function syncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // As in syncDir.
  }
}

/**
 * Creates or replaces a file atomically: `data` goes to a temporary file in the same folder, which is
 * fsynced and renamed over `path`; the folder is then fsynced (best effort). On any failure (a write
 * error, an error thrown by a data generator, a failing rename) the temporary file is removed and an
 * existing `path` is left untouched. The folder must exist. A symbolic link at `path` is replaced,
 * not followed.
 *
 * @param path - the file to create or replace
 * @param data - text (written as UTF-8), bytes, or byte chunks
 * @example
 * ```ts
 * await writeFileAtomic('runs/a/last', 'ckpt-e0007\n');
 * await writeFileAtomic('runs/a/loss.png', await renderPng());
 * ```
 */
export async function writeFileAtomic(path: string, data: AtomicData): Promise<void> {
  checkPath(path);
  const chunks = chunksOf(data);
  const tmp = tempPathFor(path);
  let fh: FileHandle | undefined;
  let created = false;
  try {
    fh = await open(tmp, 'wx');
    created = true;
    for (const chunk of chunks) await writeAll(fh, checkChunk(chunk));
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => {});
    // Only a temporary file this call made is removed (never another writer's).
    if (created) await rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  await syncDir(dirname(path));
}

/**
 * The synchronous form of {@link writeFileAtomic}, with the same guarantees.
 *
 * @param path - the file to create or replace
 * @param data - text (written as UTF-8), bytes, or byte chunks
 * @example
 * ```ts
 * writeFileAtomicSync('cache/pets.dlfdata', [header, labels, pixels]);
 * ```
 */
export function writeFileAtomicSync(path: string, data: AtomicData): void {
  checkPath(path);
  const chunks = chunksOf(data);
  const tmp = tempPathFor(path);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, 'wx');
    created = true;
    for (const chunk of chunks) writeAllSync(fd, checkChunk(chunk));
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    // Best effort, each step on its own: the original error is the one that matters.
    try {
      if (fd !== undefined) closeSync(fd);
    } catch {}
    try {
      // Only a temporary file this call made is removed (never another writer's).
      if (created) rmSync(tmp, { force: true });
    } catch {}
    throw e;
  }
  syncDirSync(dirname(path));
}

/**
 * Options for {@link replaceDirAtomic}.
 *
 * @example
 * ```ts
 * const options: ReplaceDirOptions = { keepTempOnError: (e) => e instanceof SimulatedCrash };
 * ```
 */
export interface ReplaceDirOptions {
  /**
   * Decides, for an error thrown while filling, whether the temporary folder stays behind instead of
   * being removed. Crash tests use it: a simulated crash leaves its debris, as a real one would.
   * Default: always removed.
   */
  keepTempOnError?: (error: unknown) => boolean;
}

/**
 * Creates or replaces a folder atomically: `fill` writes the content into a fresh temporary folder
 * next to `path` (its parent is created if needed); the temporary folder is then fsynced and renamed
 * into place, and the parent fsynced (best effort). An existing folder at `path` is first moved aside
 * under a temporary name and removed once the new one is in place (put back if the rename fails).
 * If `fill` or a rename fails, the temporary folder is removed (unless
 * {@link ReplaceDirOptions.keepTempOnError} says otherwise) and `path` is left as it was. `fill`
 * should make its files durable itself (e.g. with {@link writeFileAtomic}) when that matters.
 *
 * @param path - the folder to create or replace
 * @param fill - writes the content into the folder it is given
 * @param options - see {@link ReplaceDirOptions}
 * @example
 * ```ts
 * await replaceDirAtomic('runs/a/ckpt-e0007', async (dir) => {
 *   await saveSafetensors(join(dir, 'model.safetensors'), model.stateDict());
 *   await writeFileAtomic(join(dir, 'state.json'), JSON.stringify(state));
 * });
 * ```
 */
export async function replaceDirAtomic(
  path: string,
  fill: (tempDir: string) => void | Promise<void>,
  options: ReplaceDirOptions = {},
): Promise<void> {
  checkPath(path);
  if (typeof fill !== 'function') throw invalidParam('fill', 'a function', fill, 'type');
  const parent = dirname(path);
  await mkdir(parent, { recursive: true });
  const tmp = tempPathFor(path);
  await mkdir(tmp);
  try {
    await fill(tmp);
    await syncDir(tmp);
    if (
      await stat(path).then(
        () => true,
        () => false,
      )
    ) {
      const old = tempPathFor(path, `old-${basename(path)}`);
      await rename(path, old);
      try {
        await rename(tmp, path);
      } catch (e) {
        await rename(old, path).catch(() => {});
        throw e;
      }
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, path);
    }
  } catch (e) {
    if (!options.keepTempOnError?.(e)) await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
  await syncDir(parent);
}
