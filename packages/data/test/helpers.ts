import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DatasetError } from '@dlf/data';
import sharp from 'sharp';
import { afterAll, expect } from 'vitest';

/** A fresh temporary folder; remove it with cleanup(). */
export function tempDir(prefix = 'dlf-data-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A maker of fresh temporary folders for one test file; they are removed after its tests. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(cleanup));
  return () => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
}

/** The DatasetError that a promise (or a function) throws; fails the test when it throws none. */
export async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<DatasetError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(DatasetError);
    return e as DatasetError;
  }
  throw new Error('expected an error');
}

/** Deterministic pixel value for (seed, channel, y, x). */
export function pixel(seed: number, c: number, y: number, x: number): number {
  return (seed * 37 + c * 91 + y * 13 + x * 7) % 256;
}

/** Interleaved HWC pixels from pixel(). */
export function hwc(seed: number, w: number, h: number, channels: number): Buffer {
  const b = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < channels; c++) b[(y * w + x) * channels + c] = pixel(seed, c, y, x);
  return b;
}

/** Writes an image file; the format follows the extension. */
export async function writeImage(
  path: string,
  seed: number,
  w = 8,
  h = 8,
  channels: 1 | 3 | 4 = 3,
): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  let p = sharp(hwc(seed, w, h, channels), { raw: { width: w, height: h, channels } });
  if (channels === 1) p = p.toColourspace('b-w');
  await p.toFile(path);
}

/** Writes an idx file of unsigned bytes (optionally gzipped). */
export function writeIdx(
  path: string,
  dims: number[],
  data: Uint8Array,
  options: { gzip?: boolean; magic?: number } = {},
): void {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(options.magic ?? 0x0800 + dims.length, 0);
  dims.forEach((d, i) => {
    header.writeUInt32BE(d, 4 + 4 * i);
  });
  const raw = Buffer.concat([header, Buffer.from(data)]);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, options.gzip ? gzipSync(raw) : raw);
}

/** A tiny MNIST-like folder: n train, m test images of 28×28 with labels i % 10. */
export function writeMnist(dir: string, n = 20, m = 10, options: { gzip?: boolean } = {}): void {
  const ext = options.gzip ? '.gz' : '';
  for (const [prefix, count] of [
    ['train', n],
    ['t10k', m],
  ] as const) {
    const img = new Uint8Array(count * 784);
    for (let i = 0; i < img.length; i++) img[i] = (i * 7 + (prefix === 'train' ? 0 : 3)) % 256;
    const lab = Uint8Array.from({ length: count }, (_, i) => i % 10);
    writeIdx(join(dir, `${prefix}-images-idx3-ubyte${ext}`), [count, 28, 28], img, options);
    writeIdx(join(dir, `${prefix}-labels-idx1-ubyte${ext}`), [count], lab, options);
  }
}

/** CIFAR records: label byte(s) then 3,072 pixels; pixel = (record + offset) % 256. */
export function cifarRecords(count: number, labels: (i: number) => number[]): Buffer {
  const nl = labels(0).length;
  const rec = nl + 3072;
  const b = Buffer.alloc(count * rec);
  for (let i = 0; i < count; i++) {
    labels(i).forEach((l, j) => {
      b[i * rec + j] = l;
    });
    for (let p = 0; p < 3072; p++) b[i * rec + nl + p] = (i + p) % 256;
  }
  return b;
}
