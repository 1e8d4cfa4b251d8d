import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { Dataset } from './dataset.js';
import { DatasetError, fmt, reason } from './errors.js';
import { DEFAULT_MAX_FILE_BYTES, readRegularFileSync } from './files.js';

/**
 * The contents of an idx file: its dimensions and its unsigned bytes.
 *
 * @example
 * ```ts
 * const { dims, data } = readIdx('t10k-labels-idx1-ubyte', 1); // dims [10000]
 * ```
 */
export interface IdxArray {
  /** Dimensions, outermost first (e.g. [60000, 28, 28]). */
  dims: number[];
  /** The elements (type 0x08, unsigned bytes). */
  data: Uint8Array;
}

/**
 * The size an idx file's header announces (header + elements), read from the first bytes of the
 * decompressed stream, or `undefined` when those bytes are not an idx header.
 */
function announcedSize(head: Uint8Array): number | undefined {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0 || head[3] === 0) return undefined;
  const rank = head[3]!;
  const header = 4 + 4 * rank;
  if (head.length < header) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let count = 1;
  for (let i = 0; i < rank; i++) count *= view.getUint32(4 + 4 * i, false);
  return header + count;
}

/**
 * Decompresses a gzipped idx file without ever producing more than its header announces: the
 * first kilobytes are inflated alone to read the header, then the whole stream is inflated with
 * that size as the output limit (and the limit itself must fit the budget). A 1 MB file that
 * inflates to gigabytes stops at the announced size.
 */
function gunzipBounded(path: string, raw: Uint8Array, maxBytes: number): Uint8Array {
  const fail = (e: unknown): DatasetError =>
    new DatasetError(
      'TRUNCATED',
      path,
      `Cannot decompress ${path}: the gzip data is truncated or corrupt (${reason(e)}).`,
      { cause: e },
    );
  let head: Uint8Array;
  try {
    head = gunzipSync(raw.subarray(0, 4096), { finishFlush: constants.Z_SYNC_FLUSH });
  } catch (e) {
    throw fail(e);
  }
  const announced = announcedSize(head);
  // Not an idx header: inflate a little more so that readIdx names what is wrong.
  const limit = announced ?? Math.min(maxBytes, 1 << 16);
  if (limit > maxBytes) {
    throw new DatasetError(
      'TOO_LARGE',
      path,
      `${path} announces ${fmt(limit)} bytes of data, more than the ${fmt(maxBytes)}-byte budget for one file.`,
    );
  }
  try {
    return gunzipSync(raw, { maxOutputLength: Math.max(limit, 1) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' && announced !== undefined) {
      throw new DatasetError(
        'MISMATCH',
        path,
        `${path} decompresses to more than the ${fmt(announced)} bytes its header announces.`,
        { cause: e },
      );
    }
    if (announced === undefined) return head;
    throw fail(e);
  }
}

function readMaybeGzip(path: string, maxBytes = DEFAULT_MAX_FILE_BYTES): Uint8Array {
  const raw = readRegularFileSync(path, maxBytes);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) return gunzipBounded(path, raw, maxBytes);
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
}

/**
 * Reads an idx file (the MNIST format; gzipped or not, detected from the content), checking the
 * magic number, the element type (unsigned bytes), the number of dimensions when `expectedRank` is
 * given, and that the file holds exactly the elements its header announces.
 *
 * @example
 * ```ts
 * const { dims, data } = readIdx('train-images-idx3-ubyte.gz', 3); // dims [60000, 28, 28]
 * ```
 */
export function readIdx(path: string, expectedRank?: number): IdxArray {
  const bytes = readMaybeGzip(path);
  if (bytes.length < 4) {
    throw new DatasetError(
      'TRUNCATED',
      path,
      `${path} is truncated: an idx file needs at least a 4-byte header but it has ${bytes.length} bytes.`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const type = bytes[2]!;
  const rank = bytes[3]!;
  if (bytes[0] !== 0 || bytes[1] !== 0 || rank === 0) {
    throw new DatasetError(
      'BAD_MAGIC',
      path,
      `${path} is not an idx file: wrong magic number 0x${magic.toString(16).padStart(8, '0')} (expected 0x0000080${expectedRank ?? 'N'}).`,
    );
  }
  if (type !== 0x08) {
    throw new DatasetError(
      'BAD_MAGIC',
      path,
      `${path} holds idx element type 0x${type.toString(16).padStart(2, '0')}, but only unsigned bytes (0x08) are supported (magic number 0x${magic.toString(16).padStart(8, '0')}).`,
    );
  }
  if (expectedRank !== undefined && rank !== expectedRank) {
    throw new DatasetError(
      'BAD_MAGIC',
      path,
      `${path} has the wrong magic number 0x${magic.toString(16).padStart(8, '0')}: it holds ${rank} dimension(s) where ${expectedRank} were expected (0x0000080${expectedRank}).`,
    );
  }
  const header = 4 + 4 * rank;
  if (bytes.length < header) {
    throw new DatasetError(
      'TRUNCATED',
      path,
      `${path} is truncated: its header needs ${header} bytes but the file has ${bytes.length}.`,
    );
  }
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = header + count;
  if (bytes.length < expected) {
    throw new DatasetError(
      'TRUNCATED',
      path,
      `${path} is truncated: its header announces [${dims.join(', ')}] (${fmt(expected)} bytes) but the file has ${fmt(bytes.length)} bytes.`,
    );
  }
  if (bytes.length > expected) {
    throw new DatasetError(
      'MISMATCH',
      path,
      `${path} has ${fmt(bytes.length - expected)} unexpected bytes after the [${dims.join(', ')}] elements its header announces.`,
    );
  }
  return { dims, data: bytes.subarray(header, expected) };
}

/**
 * Class names of MNIST (the digits).
 *
 * @example
 * ```ts
 * MNIST_CLASSES[7]; // '7'
 * ```
 */
export const MNIST_CLASSES: readonly string[] = Object.freeze([
  '0',
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  '8',
  '9',
]);

/**
 * Class names of Fashion-MNIST, in label order.
 *
 * @example
 * ```ts
 * FASHION_MNIST_CLASSES[9]; // 'Ankle boot'
 * ```
 */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/**
 * Builds a dataset from an idx image file (`[N, H, W]`) and an idx label file (`[N]`).
 *
 * @example
 * ```ts
 * const test = readIdxPair('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', MNIST_CLASSES);
 * test.shape; // [1, 28, 28]
 * ```
 */
export function readIdxPair(
  imagesPath: string,
  labelsPath: string,
  classes: readonly string[],
  name?: string,
): Dataset {
  const img = readIdx(imagesPath, 3);
  const lab = readIdx(labelsPath, 1);
  const n = img.dims[0]!;
  if (lab.dims[0] !== n) {
    throw new DatasetError(
      'MISMATCH',
      labelsPath,
      `${labelsPath} holds ${fmt(lab.dims[0]!)} labels but ${imagesPath} holds ${fmt(n)} images.`,
    );
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = lab.data[i]!;
    if (l >= classes.length) {
      throw new DatasetError(
        'BAD_LABEL',
        labelsPath,
        `${labelsPath} has label ${l} at record ${i}, outside the ${classes.length} classes [0, ${classes.length - 1}].`,
      );
    }
    labels[i] = l;
  }
  const [, h, w] = img.dims as [number, number, number];
  // img.data is a view into the file's bytes: only the few header bytes are kept alive besides it.
  return new Dataset({ images: img.data, labels, shape: [1, h, w], classes, name: name ?? imagesPath });
}

const IMAGES_RE = /^(train|t10k|test)-images[-.]idx3-ubyte(\.gz)?$/;
const LABELS_RE = /^(train|t10k|test)-labels[-.]idx1-ubyte(\.gz)?$/;

/** @internal The idx files of a folder by split, or undefined when there are none. */
export function findIdxFiles(
  dir: string,
  names: string[] = readdirSync(dir),
): { train?: [string, string]; test?: [string, string] } | undefined {
  const images = names.filter((n) => IMAGES_RE.test(n));
  if (images.length === 0) return undefined;
  const out: { train?: [string, string]; test?: [string, string] } = {};
  for (const split of ['train', 'test'] as const) {
    const prefixes = split === 'train' ? ['train'] : ['t10k', 'test'];
    const img = images.filter((n) => prefixes.includes(IMAGES_RE.exec(n)![1]!)).sort()[0];
    if (img === undefined) continue;
    const prefix = IMAGES_RE.exec(img)![1]!;
    const lab = names
      .filter((n) => LABELS_RE.test(n) && LABELS_RE.exec(n)![1] === prefix)
      .sort((a, b) => Number(a.endsWith('.gz')) - Number(b.endsWith('.gz')))[0];
    if (lab === undefined) {
      throw new DatasetError(
        'NOT_FOUND',
        join(dir, img),
        `${join(dir, img)} has no matching label file (${prefix}-labels-idx1-ubyte, optionally .gz) in ${dir}.`,
      );
    }
    out[split] = [join(dir, img), join(dir, lab)];
  }
  return out;
}
