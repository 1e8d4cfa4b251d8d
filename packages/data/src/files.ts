/**
 * Reading dataset files with a budget: only regular files are read (a FIFO would block forever, a
 * link to /dev/zero never ends), opened without blocking and checked with `fstat` on the open
 * descriptor (so a file swapped between the scan and the read is still checked), and never more
 * than a byte budget.
 * @internal
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { DatasetError, fmt, reason } from './errors.js';

/** The largest file read as one image or one dataset file unless told otherwise (256 MiB). */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

/** Open flags: read-only, and never block on a FIFO or a device. */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** What a `stat` says a non-regular file is, for messages. */
export function fileKind(st: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notRegular(path: string, kind: string): DatasetError {
  return new DatasetError(
    'UNREADABLE',
    path,
    `${path} is ${kind}, not a regular file; only regular files are read.`,
  );
}

function tooLarge(path: string, size: number, maxBytes: number): DatasetError {
  return new DatasetError(
    'TOO_LARGE',
    path,
    `${path} has ${fmt(size)} bytes, more than the ${fmt(maxBytes)}-byte budget for one file.`,
  );
}

function unreadable(path: string, e: unknown): DatasetError {
  if (e instanceof DatasetError) return e;
  return new DatasetError('UNREADABLE', path, `Cannot read ${path} (${reason(e)}).`, { cause: e });
}

/**
 * Reads a regular file whole, synchronously, refusing anything else (FIFO, device, socket,
 * folder) and any file over `maxBytes`, with a {@link DatasetError} naming the path.
 *
 * @example
 * ```ts
 * const bytes = readRegularFileSync('train-labels-idx1-ubyte', 64 * 1024 * 1024);
 * ```
 */
export function readRegularFileSync(path: string, maxBytes = DEFAULT_MAX_FILE_BYTES): Buffer {
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch (e) {
    throw unreadable(path, e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notRegular(path, fileKind(st));
    if (st.size > maxBytes) throw tooLarge(path, st.size, maxBytes);
    const buf = Buffer.allocUnsafe(st.size);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return done === buf.length ? buf : buf.subarray(0, done);
  } catch (e) {
    throw unreadable(path, e);
  } finally {
    closeSync(fd);
  }
}

/**
 * {@link readRegularFileSync} on libuv's threads: the open, the check and the read do not hold up
 * the event loop.
 *
 * @example
 * ```ts
 * const bytes = await readRegularFile('cat.png');
 * ```
 */
export async function readRegularFile(path: string, maxBytes = DEFAULT_MAX_FILE_BYTES): Promise<Buffer> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, READ_FLAGS);
  } catch (e) {
    throw unreadable(path, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(path, fileKind(st));
    if (st.size > maxBytes) throw tooLarge(path, st.size, maxBytes);
    const buf = Buffer.allocUnsafe(st.size);
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await fh.read(buf, done, buf.length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === buf.length ? buf : buf.subarray(0, done);
  } catch (e) {
    throw unreadable(path, e);
  } finally {
    await fh.close();
  }
}
