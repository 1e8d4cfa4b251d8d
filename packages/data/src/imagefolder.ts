import { realpathSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { checkInt, checkNumber, invalidParam } from '@dlf/tensor-core';
import sharp from 'sharp';
import {
  type CacheMeta,
  cacheLabelsProblem,
  defaultCacheDir,
  hashKey,
  startCacheRead,
  writeCacheAsync,
} from './cache.js';
import { Dataset } from './dataset.js';
import {
  checkDecodeOptions,
  DECODE_PIPELINE_VERSION,
  DEFAULT_MAX_PIXELS,
  decodeImages,
  type FitMode,
} from './decode.js';
import { DatasetError, reason } from './errors.js';
import { stratifiedSplitIndices } from './split.js';

export {
  IMAGE_EXTENSIONS,
  type ImageFolderScan,
  isImageName,
  type ScannedFile,
  SPLIT_NAMES,
  type SkippedEntry,
  scanImageFolder,
  scanImageFolderAsync,
} from './scan.js';

import { type ImageFolderScan, scanImageFolderAsync } from './scan.js';

/**
 * Options for reading an image folder.
 *
 * @example
 * ```ts
 * await openImageFolder('pets', { size: 64, channels: 1, strict: true, cacheDir: '/tmp/dlf-cache' });
 * ```
 */
export interface ImageFolderOptions {
  /** Output size: a side length, or `[height, width]`. Default 32. */
  size?: number | readonly [number, number];
  /** 3 for RGB (default), 1 for grey. */
  channels?: 1 | 3;
  /** How images are fitted to the size (default `'fill'`, see {@link FitMode}). */
  fit?: FitMode;
  /** Use the decode cache (default true). */
  cache?: boolean;
  /** The cache folder (default {@link defaultCacheDir}). */
  cacheDir?: string;
  /** Throw on the first unreadable or corrupt image instead of skipping it with a warning. */
  strict?: boolean;
  /** Receives each warning; default `process.emitWarning` (code `DLF_DATA`). */
  onWarning?: (message: string, path: string) => void;
  /** Decodes in flight at once (default 4 × the cores). */
  concurrency?: number;
  /** The most pixels decoded from one image, from its header (default {@link DEFAULT_MAX_PIXELS}). */
  maxPixels?: number;
  /** Decode progress: images done and total (not called on a cache hit). */
  onProgress?: (done: number, total: number) => void;
  /** Seed of the stratified train/test split for a folder of class folders (default 0). */
  seed?: number;
  /** Fraction of each class that goes to test when the split is made here (default 0.2). */
  testFraction?: number;
}

/**
 * The result of opening a dataset folder.
 *
 * @example
 * ```ts
 * const { train, test, classes, format, cache } = await openDataset('pets');
 * console.log(format, classes, train.length, test.length, cache?.hit);
 * ```
 */
export interface OpenedDataset {
  /** Training samples. */
  train: Dataset;
  /** Test samples (the `val/` folder when there is no `test/`). */
  test: Dataset;
  /** Validation samples, when the folder has a `val/` folder. */
  val?: Dataset;
  /** Class names, shared by every split. */
  classes: readonly string[];
  /** What was detected. */
  format: 'image-folder' | 'mnist' | 'fashion-mnist' | 'cifar10' | 'cifar100' | 'in-memory';
  /** The folder that was read (after descending into a lone wrapper folder, if any). */
  path: string;
  /** For image folders: `'splits'` or `'classes'`. */
  layout?: 'splits' | 'classes';
  /** Set when the train/test split was made here (seeded and stratified). */
  split?: { seed: number; testFraction: number };
  /** For image folders: the cache file and whether it was a hit. */
  cache?: { file: string; hit: boolean };
  /** Files skipped because they could not be read or decoded. */
  skipped: string[];
}

function defaultWarning(message: string): void {
  process.emitWarning(message, { code: 'DLF_DATA' });
}

function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60) || 'data';
}

/** @internal Resolves image-folder options. */
export function resolveImageOptions(options: ImageFolderOptions) {
  const size = options.size ?? 32;
  let height: number;
  let width: number;
  if (typeof size === 'number') {
    height = checkInt('size', size, 1, 65535);
    width = height;
  } else if (Array.isArray(size) && size.length === 2) {
    height = checkInt('size[0]', size[0], 1, 65535);
    width = checkInt('size[1]', size[1], 1, 65535);
  } else {
    throw invalidParam('size', 'a positive integer or [height, width]', size);
  }
  const channels = options.channels ?? 3;
  const decode = checkDecodeOptions({
    width,
    height,
    channels,
    fit: options.fit,
    concurrency: options.concurrency,
    maxPixels: options.maxPixels,
  });
  const seed = checkInt('seed', options.seed ?? 0, 0);
  const testFraction = checkNumber('testFraction', options.testFraction ?? 0.2, 0, 1);
  return { decode, seed, testFraction };
}

/**
 * Opens an image folder: scans it ({@link scanImageFolderAsync}), decodes every image with sharp to the
 * configured size and channels (spread over all cores), or loads the decoded images from the cache
 * when nothing changed. The cache key covers every file's path, size and modification time and the
 * preprocessing, so adding, removing or touching a file, or changing the size, re-decodes.
 *
 * Unreadable or corrupt images are skipped with a warning naming each one (`strict: true` throws
 * instead). With class folders at the root, or only `train/`, the train/test split is made here,
 * seeded and stratified.
 *
 * @example
 * ```ts
 * const { train, test, classes } = await openImageFolder('pets', { size: 64, channels: 3 });
 * ```
 */
export async function openImageFolder(
  folder: string,
  options: ImageFolderOptions = {},
): Promise<OpenedDataset> {
  const { decode, seed, testFraction } = resolveImageOptions(options);
  const warn = options.onWarning ?? defaultWarning;
  const strict = options.strict ?? false;
  let root: string;
  try {
    root = realpathSync(resolve(folder));
  } catch {
    root = resolve(folder); // the scan reports the problem
  }
  const shape = [decode.channels, decode.height, decode.width];
  const preprocess = {
    width: decode.width,
    height: decode.height,
    channels: decode.channels,
    fit: decode.fit,
    pipeline: DECODE_PIPELINE_VERSION,
    sharp: sharp.versions.sharp,
    vips: sharp.versions.vips,
    // A raised pixel budget decodes images a default run skipped: a cache of its own. (The default
    // adds nothing, so existing caches stay valid.)
    ...(decode.maxPixels !== DEFAULT_MAX_PIXELS ? { maxPixels: decode.maxPixels } : {}),
  };
  const useCache = options.cache ?? true;
  const cacheFile = join(
    options.cacheDir ?? defaultCacheDir(),
    `${sanitize(basename(root))}-${hashKey({ root, preprocess }).slice(0, 16)}.dlfdata`,
  );
  // Start reading the cache file (on libuv threads) while this thread scans and stats the folder.
  const pending = useCache
    ? startCacheRead(cacheFile, (problem) =>
        warn(
          `The decode cache ${cacheFile} is damaged (${problem}); decoding again and rewriting it.`,
          cacheFile,
        ),
      )
    : undefined;
  const scan = await scanImageFolderAsync(folder);
  for (const s of scan.skipped) warn(`Skipped ${s.path}: ${s.reason}.`, s.path);
  const key = hashKey({
    format: 1,
    root,
    preprocess,
    classes: scan.classes,
    // One line per file: relative path, split, label, size, mtime. Joined, not nested, for speed.
    files: scan.files
      .map((f) => `${f.rel}\u0000${f.split}\u0000${f.label}\u0000${f.size}\u0000${f.mtimeMs}`)
      .join('\n'),
  });
  // A stale file's reads finish (and close it) in the background; only a matching one is awaited.
  let hit: { meta: CacheMeta; labels: Int32Array; images: Uint8Array } | undefined;
  if (pending && pending.meta.key === key && (await pending.done)) {
    const problem =
      pending.meta.classes.length === scan.classes.length && pending.meta.shape.join() === shape.join()
        ? cacheLabelsProblem(pending.labels, scan.classes.length)
        : 'its classes or sample shape differ from the folder';
    if (problem === undefined) hit = pending;
    else
      warn(
        `The decode cache ${cacheFile} is damaged (${problem}); decoding again and rewriting it.`,
        cacheFile,
      );
  }
  let images: Uint8Array;
  let labels: Int32Array;
  let splits: { name: string; count: number }[];
  let skipped: { path: string; reason: string }[];
  if (hit) {
    ({ images, labels } = hit);
    splits = hit.meta.splits;
    skipped = hit.meta.skipped;
    if (strict && skipped.length > 0) throw corruptError(skipped);
    for (const s of skipped) warn(skipMessage(s), s.path);
  } else {
    const result = await decodeImages(
      scan.files.map((f) => f.path),
      { ...decode, onProgress: options.onProgress },
    );
    skipped = result.failures.map((f) => ({ path: f.path, reason: f.reason }));
    if (strict && skipped.length > 0) throw corruptError(skipped);
    for (const s of skipped) warn(skipMessage(s), s.path);
    const size = shape[0]! * shape[1]! * shape[2]!;
    const n = scan.files.length - skipped.length;
    images = skipped.length === 0 ? result.images : new Uint8Array(n * size);
    labels = new Int32Array(n);
    splits = scan.splits.map((name) => ({ name, count: 0 }));
    let k = 0;
    for (let i = 0; i < scan.files.length; i++) {
      if (!result.ok[i]) continue;
      const f = scan.files[i]!;
      if (images !== result.images) images.set(result.images.subarray(i * size, (i + 1) * size), k * size);
      labels[k++] = f.label;
      splits[scan.splits.indexOf(f.split)]!.count++;
    }
    checkClassesSurvived(scan, result.ok);
    if (useCache) {
      try {
        await writeCacheAsync(cacheFile, {
          meta: { key, count: n, shape, classes: scan.classes, splits, skipped, source: root },
          labels,
          images,
        });
      } catch (e) {
        warn(
          `Could not write the decode cache ${cacheFile} (${reason(e)}); the next run will decode again.`,
          cacheFile,
        );
      }
    }
  }

  const size = shape[0]! * shape[1]! * shape[2]!;
  const parts = new Map<string, Dataset>();
  let start = 0;
  for (const s of splits) {
    parts.set(
      s.name,
      new Dataset({
        images: images.subarray(start * size, (start + s.count) * size),
        labels: labels.subarray(start, start + s.count),
        shape,
        classes: scan.classes,
        name: `${root}${s.name === 'all' ? '' : `/${s.name}`}`,
      }),
    );
    start += s.count;
  }
  const base: Omit<OpenedDataset, 'train' | 'test'> = {
    classes: scan.classes,
    format: 'image-folder',
    path: root,
    layout: scan.layout,
    cache: useCache ? { file: cacheFile, hit: hit !== undefined } : undefined,
    skipped: [...scan.skipped.map((s) => s.path), ...skipped.map((s) => s.path)],
  };
  const test = parts.get('test') ?? parts.get('val');
  const val = parts.get('val');
  if (test) return { ...base, train: parts.get('train')!, test, ...(val ? { val } : {}) };
  // Class folders at the root, or only train/: make the seeded, stratified split here.
  const all = (parts.get('all') ?? parts.get('train'))!;
  const idx = stratifiedSplitIndices(all.labels, all.classes.length, testFraction, seed);
  return {
    ...base,
    train: all.subset(idx.train, `${all.name} (train split)`),
    test: all.subset(idx.test, `${all.name} (test split)`),
    split: { seed, testFraction },
  };
}

function skipMessage(s: { path: string; reason: string }): string {
  return `Skipped ${s.path}: it could not be read or decoded (${s.reason}).`;
}

function corruptError(skipped: { path: string; reason: string }[]): DatasetError {
  const first = skipped[0]!;
  return new DatasetError(
    'CORRUPT_IMAGE',
    first.path,
    `${first.path} could not be read or decoded (${first.reason})${skipped.length > 1 ? `, nor could ${skipped.length - 1} other file(s)` : ''}; strict mode stops here.`,
  );
}

function checkClassesSurvived(scan: ImageFolderScan, ok: Uint8Array): void {
  const alive = new Map<string, boolean>();
  scan.files.forEach((f, i) => {
    const id = `${f.split}\u0000${f.label}`;
    alive.set(id, (alive.get(id) ?? false) || ok[i] === 1);
  });
  for (const [id, live] of alive) {
    if (live) continue;
    const [split, label] = id.split('\u0000') as [string, string];
    const cls = scan.classes[Number(label)]!;
    const dir = split === 'all' ? join(scan.root, cls) : join(scan.root, split, cls);
    throw new DatasetError(
      'EMPTY_CLASS',
      dir,
      `The class folder ${dir} holds no image that could be decoded; every file in it was skipped.`,
    );
  }
}
