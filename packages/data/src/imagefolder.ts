import { type Dirent, readdirSync, realpathSync, type Stats, statSync } from 'node:fs';
import { basename, extname, join, resolve, sep } from 'node:path';
import { checkInt, checkNumber, invalidParam } from '@dlf/tensor-core';
import sharp from 'sharp';
import { type CacheMeta, defaultCacheDir, hashKey, startCacheRead, writeCache } from './cache.js';
import { Dataset } from './dataset.js';
import { checkDecodeOptions, DECODE_PIPELINE_VERSION, decodeImages, type FitMode } from './decode.js';
import { DatasetError, fmt, reason } from './errors.js';
import { stratifiedSplitIndices } from './split.js';

/**
 * File extensions read as images (case-insensitive): the formats sharp decodes.
 *
 * @example
 * ```ts
 * IMAGE_EXTENSIONS.includes('.png'); // true
 * ```
 */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze([
  '.jpg',
  '.jpeg',
  '.jpe',
  '.jfif',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
  '.svg',
]);
const imageExt = new Set(IMAGE_EXTENSIONS);

/**
 * Split folder names recognised at the top of an image folder.
 *
 * @example
 * ```ts
 * SPLIT_NAMES; // ['train', 'val', 'test']
 * ```
 */
export const SPLIT_NAMES = Object.freeze(['train', 'val', 'test'] as const);

/** @internal True when a file name has an image extension. */
export function isImageName(name: string): boolean {
  return imageExt.has(extname(name).toLowerCase());
}

/**
 * One image file found by {@link scanImageFolder}.
 *
 * @example
 * ```ts
 * const { path, size, mtimeMs } = scanImageFolder('pets').files[0];
 * ```
 */
export interface ScannedFile {
  /** Absolute path. */
  path: string;
  /** Path relative to the dataset folder. */
  rel: string;
  /** `'train'`, `'val'`, `'test'`, or `'all'` for a folder of class folders. */
  split: string;
  /** Index into the scan's `classes`. */
  label: number;
  /** Size in bytes. */
  size: number;
  /** Modification time in milliseconds. */
  mtimeMs: number;
}

/**
 * The result of {@link scanImageFolder}.
 *
 * @example
 * ```ts
 * const scan = scanImageFolder('pets');
 * console.log(scan.layout, scan.classes, scan.files.length);
 * ```
 */
export interface ImageFolderScan {
  /** The folder, resolved. */
  root: string;
  /** `'splits'`: `train/`, `test/` (and `val/`) holding class folders; `'classes'`: class folders at the root. */
  layout: 'splits' | 'classes';
  /** The split folders found, in the order train, val, test (`['all']` for the class layout). */
  splits: string[];
  /** Class names: the union of the class folders' names, sorted (JavaScript's default string order). */
  classes: string[];
  /** Every image, by split, then class, then relative path (sorted). */
  files: ScannedFile[];
}

function isHidden(name: string): boolean {
  return name.charCodeAt(0) === 46 /* . */ || name.startsWith('__');
}

function isDir(parent: string, e: Dirent): boolean {
  if (e.isDirectory()) return true;
  if (!e.isSymbolicLink()) return false;
  return statSync(`${parent}${sep}${e.name}`, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

function list(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => !isHidden(e.name));
  } catch (e) {
    throw new DatasetError('UNREADABLE', dir, `Cannot read the folder ${dir} (${reason(e)}).`, { cause: e });
  }
}

/** An image found under a class folder. */
interface Found {
  /** Path relative to the class folder. */
  name: string;
  size: number;
  mtimeMs: number;
}

/**
 * Image files under `dir`, recursively, sorted by relative path (UTF-16 code-unit order), each
 * stat-ed once (the stat also tells folders apart, so no Dirent objects are made). A broken link
 * with an image name is kept (size −1) so that decoding reports it as unreadable.
 */
function imagesUnder(dir: string): Found[] {
  const out: Found[] = [];
  const walk = (d: string, prefix: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch (e) {
      throw new DatasetError('UNREADABLE', d, `Cannot read the folder ${d} (${reason(e)}).`, { cause: e });
    }
    for (const name of names) {
      if (isHidden(name)) continue;
      const path = `${d}${sep}${name}`;
      const image = isImageName(name);
      let st: Stats | undefined;
      try {
        st = statSync(path, { throwIfNoEntry: false });
      } catch (e) {
        if (!image) continue;
        throw new DatasetError('UNREADABLE', path, `Cannot read ${path} (${reason(e)}).`, { cause: e });
      }
      if (st === undefined) {
        if (image) out.push({ name: prefix + name, size: -1, mtimeMs: -1 });
      } else if (st.isDirectory()) walk(path, `${prefix}${name}${sep}`);
      else if (image) out.push({ name: prefix + name, size: st.size, mtimeMs: st.mtimeMs });
    }
  };
  walk(dir, '');
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function classFolders(dir: string): string[] {
  return list(dir)
    .filter((e) => isDir(dir, e))
    .map((e) => e.name)
    .sort();
}

/**
 * Finds the images of an image folder and detects its layout, without decoding anything:
 * - `train/`, `test/` (and/or `val/`) each holding `<class>/` folders (layout `'splits'`);
 * - `<class>/` folders at the root (layout `'classes'`).
 *
 * Hidden entries (names starting with `.` or `__`) are ignored; images may sit in nested folders
 * inside a class folder. Throws a {@link DatasetError} naming the path for an empty class folder,
 * a folder with no images, or an unknown layout.
 *
 * @example
 * ```ts
 * const scan = scanImageFolder('pets');
 * scan.layout;  // 'classes'
 * scan.classes; // ['cat', 'dog']
 * ```
 */
export function scanImageFolder(folder: string): ImageFolderScan {
  const root = resolve(folder);
  const entries = list(root);
  const dirs = entries.filter((e) => isDir(root, e)).map((e) => e.name);
  const splitDirs = SPLIT_NAMES.filter((s) => dirs.includes(s));
  const groups: { split: string; dir: string; classes: string[] }[] = [];
  let layout: 'splits' | 'classes';
  if (splitDirs.length > 0) {
    if (!splitDirs.includes('train')) {
      throw new DatasetError(
        'UNKNOWN_LAYOUT',
        root,
        `${root} has ${splitDirs.map((s) => `${s}/`).join(' and ')} but no train/ folder; expected train/ and test/ (or val/) each holding <class>/ folders.`,
      );
    }
    layout = 'splits';
    for (const split of splitDirs) {
      const dir = join(root, split);
      const classes = classFolders(dir);
      if (classes.length === 0) {
        throw new DatasetError(
          imagesUnder(dir).length > 0 ? 'UNKNOWN_LAYOUT' : 'NO_IMAGES',
          dir,
          `${dir} holds no <class>/ folders; put each class's images in a folder named after the class.`,
        );
      }
      groups.push({ split, dir, classes });
    }
  } else {
    if (entries.length === 0)
      throw new DatasetError('NO_IMAGES', root, `${root} is empty: it holds no images.`);
    if (dirs.length === 0) {
      const images = entries.filter((e) => isImageName(e.name)).length;
      throw new DatasetError(
        'UNKNOWN_LAYOUT',
        root,
        images > 0
          ? `${root} holds ${fmt(images)} images but no <class>/ folders; put each class's images in a folder named after the class.`
          : `${root} has an unknown layout: expected <class>/ folders of images, train/ and test/ folders, MNIST idx files or CIFAR binary files.`,
      );
    }
    layout = 'classes';
    groups.push({ split: 'all', dir: root, classes: [...dirs].sort() });
  }
  const classes = [...new Set(groups.flatMap((g) => g.classes))].sort();
  const labelOf = new Map(classes.map((c, i) => [c, i]));
  const files: ScannedFile[] = [];
  const empty: string[] = [];
  for (const g of groups) {
    for (const cls of g.classes) {
      const dir = join(g.dir, cls);
      const images = imagesUnder(dir);
      if (images.length === 0) empty.push(dir);
      const label = labelOf.get(cls)!;
      const relDir = g.split === 'all' ? `${cls}${sep}` : `${g.split}${sep}${cls}${sep}`;
      for (const f of images) {
        files.push({
          path: `${dir}${sep}${f.name}`,
          rel: relDir + f.name,
          split: g.split,
          label,
          size: f.size,
          mtimeMs: f.mtimeMs,
        });
      }
    }
  }
  if (files.length === 0) {
    throw new DatasetError(
      'NO_IMAGES',
      root,
      `${root} holds no images (looked for ${IMAGE_EXTENSIONS.join(' ')} in its class folders).`,
    );
  }
  if (empty.length > 0) {
    throw new DatasetError(
      'EMPTY_CLASS',
      empty[0]!,
      `The class folder ${empty[0]} holds no images${empty.length > 1 ? ` (nor do ${empty.length - 1} other class folders)` : ''}; remove it or add images.`,
    );
  }
  return { root, layout, splits: groups.map((g) => g.split), classes, files };
}

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
  });
  const seed = checkInt('seed', options.seed ?? 0, 0);
  const testFraction = checkNumber('testFraction', options.testFraction ?? 0.2, 0, 1);
  return { decode, seed, testFraction };
}

/**
 * Opens an image folder: scans it ({@link scanImageFolder}), decodes every image with sharp to the
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
  };
  const useCache = options.cache ?? true;
  const cacheFile = join(
    options.cacheDir ?? defaultCacheDir(),
    `${sanitize(basename(root))}-${hashKey({ root, preprocess }).slice(0, 16)}.dlfdata`,
  );
  // Start reading the cache file (on libuv threads) while this thread scans and stats the folder.
  const pending = useCache ? startCacheRead(cacheFile) : undefined;
  const scan = scanImageFolder(folder);
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
  if (pending && pending.meta.key === key && (await pending.done)) hit = pending;
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
        writeCache(cacheFile, {
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
    skipped: skipped.map((s) => s.path),
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
