/**
 * Scanning an image folder: its layout, class folders and image files, without decoding anything.
 */
import { readdirSync, realpathSync, type Stats, statSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { DatasetError, fmt, reason } from './errors.js';
import { fileKind } from './files.js';

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
  /** Entries passed over: non-regular files with image names, names whose links loop, folder loops. */
  skipped: SkippedEntry[];
}

function isHidden(name: string): boolean {
  return name.charCodeAt(0) === 46 /* . */ || name.startsWith('__');
}

/**
 * A file-system request of the scan. The scan is written once, as a generator that yields these and
 * receives the answers, and run by two drivers: a synchronous one ({@link scanImageFolder}) and one
 * on libuv's threads that never holds the event loop for long ({@link scanImageFolderAsync}). Both
 * ask the same questions in the same order, so both find the same files in the same order.
 */
type FsRequest =
  /** The names in a folder (throws what `readdir` throws). */
  | { op: 'readdir'; path: string }
  /** Each path's stat: Stats, `undefined` when missing (a broken link), or the error. */
  | { op: 'stat'; paths: string[] }
  /** A folder's real path, or `undefined` when it cannot be resolved. */
  | { op: 'realpath'; path: string };
type StatResult = Stats | undefined | Error;
type Scan<T> = Generator<FsRequest, T, unknown>;

function* readdirOf(path: string): Scan<string[]> {
  return (yield { op: 'readdir', path }) as string[];
}

function* statsOf(paths: string[]): Scan<StatResult[]> {
  return (yield { op: 'stat', paths }) as StatResult[];
}

function* realDir(path: string): Scan<string | undefined> {
  return (yield { op: 'realpath', path }) as string | undefined;
}

/** The visible entries of a folder and which of them are folders (links followed; loops are not). */
function* list(dir: string): Scan<{ names: string[]; dirs: string[] }> {
  let names: string[];
  try {
    names = (yield* readdirOf(dir)).filter((n) => !isHidden(n));
  } catch (e) {
    throw new DatasetError('UNREADABLE', dir, `Cannot read the folder ${dir} (${reason(e)}).`, { cause: e });
  }
  const stats = yield* statsOf(names.map((n) => `${dir}${sep}${n}`));
  // A link that loops (ELOOP) or cannot be followed is not a class folder.
  const dirs = names.filter((_, i) => {
    const st = stats[i];
    return st !== undefined && !(st instanceof Error) && st.isDirectory();
  });
  return { names, dirs };
}

/** An image found under a class folder. */
interface Found {
  /** Path relative to the class folder. */
  name: string;
  size: number;
  mtimeMs: number;
}

/** A file or folder the scan passed over, with why. */
export interface SkippedEntry {
  /** Absolute path. */
  path: string;
  /** Why it was not read, e.g. "a named pipe (FIFO), not a regular file". */
  reason: string;
}

/**
 * Image files under `dir`, recursively, sorted by relative path (UTF-16 code-unit order), each
 * stat-ed once (the stat also tells folders apart). A broken link with an image name is kept
 * (size −1) so that decoding reports it as unreadable.
 *
 * Only regular files are kept: a FIFO, device or socket with an image name is skipped (reading a
 * FIFO blocks forever, /dev/zero never ends), as is a name whose links loop (ELOOP). Folders are
 * tracked by real path in `seen`, shared by the whole scan: a link back to a folder already read
 * (`self -> .`, `up -> ..`, a link to another class folder) is skipped instead of reading its
 * images again under this class. The entries of a folder are stat-ed together, then handled in name
 * order (folders entered depth first), so which link to a folder counts first never depends on
 * timing.
 */
function* imagesUnder(dir: string, seen: Set<string>, skipped: SkippedEntry[]): Scan<Found[]> {
  const out: Found[] = [];
  const walk = function* (d: string, prefix: string): Scan<void> {
    let names: string[];
    try {
      names = (yield* readdirOf(d)).filter((n) => !isHidden(n));
    } catch (e) {
      throw new DatasetError('UNREADABLE', d, `Cannot read the folder ${d} (${reason(e)}).`, { cause: e });
    }
    const stats = yield* statsOf(names.map((name) => `${d}${sep}${name}`));
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const path = `${d}${sep}${name}`;
      const image = isImageName(name);
      const st = stats[i];
      if (st instanceof Error) {
        if (image) skipped.push({ path, reason: `it cannot be read (${reason(st)})` });
      } else if (st === undefined) {
        if (image) out.push({ name: prefix + name, size: -1, mtimeMs: -1 });
      } else if (st.isDirectory()) {
        const real = yield* realDir(path);
        if (real === undefined || seen.has(real)) {
          skipped.push({ path, reason: `it leads back to the folder ${real ?? '?'}, which is already read` });
          continue;
        }
        seen.add(real);
        yield* walk(path, `${prefix}${name}${sep}`);
      } else if (!image) {
        // not an image: ignored
      } else if (st.isFile()) out.push({ name: prefix + name, size: st.size, mtimeMs: st.mtimeMs });
      else skipped.push({ path, reason: `it is ${fileKind(st)}, not a regular file` });
    }
  };
  yield* walk(dir, '');
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function* classFolders(dir: string): Scan<string[]> {
  return (yield* list(dir)).dirs.sort();
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
  return runSync(scanSteps(folder));
}

/**
 * {@link scanImageFolder} on libuv's threads: the same files in the same order, without holding the
 * event loop (each folder's entries are stat-ed concurrently, at most 64 at a time).
 *
 * @example
 * ```ts
 * const scan = await scanImageFolderAsync('pets');
 * scan.files.length; // every image, as scanImageFolder finds them
 * ```
 */
export function scanImageFolderAsync(folder: string): Promise<ImageFolderScan> {
  return runAsync(scanSteps(folder));
}

function* scanSteps(folder: string): Scan<ImageFolderScan> {
  const root = resolve(folder);
  const { names: entries, dirs } = yield* list(root);
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
      const classes = yield* classFolders(dir);
      if (classes.length === 0) {
        throw new DatasetError(
          (yield* imagesUnder(dir, new Set([(yield* realDir(dir)) ?? dir]), [])).length > 0
            ? 'UNKNOWN_LAYOUT'
            : 'NO_IMAGES',
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
      const images = entries.filter((e) => isImageName(e)).length;
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
  const skipped: SkippedEntry[] = [];
  // Every folder the layout names is read once, as itself: links into them from inside a class
  // folder are loops or relabelling, not more images.
  const seen = new Set<string>();
  for (const d of [root, ...groups.map((g) => g.dir)]) seen.add((yield* realDir(d)) ?? d);
  const classDirs = groups.flatMap((g) => g.classes.map((cls) => join(g.dir, cls)));
  for (const d of classDirs) seen.add((yield* realDir(d)) ?? d);
  for (const g of groups) {
    for (const cls of g.classes) {
      const dir = join(g.dir, cls);
      const images = yield* imagesUnder(dir, seen, skipped);
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
  return { root, layout, splits: groups.map((g) => g.split), classes, files, skipped };
}

/** What a driver hands back to the scan: the request's result, or the error it threw. */
type Answer = { value: unknown } | { error: unknown };

function advance<T>(steps: Scan<T>, answer: Answer): IteratorResult<FsRequest, T> {
  return 'error' in answer ? steps.throw(answer.error) : steps.next(answer.value);
}

/** Runs a scan with synchronous file-system calls. */
function runSync<T>(steps: Scan<T>): T {
  let answer: Answer = { value: undefined };
  for (;;) {
    const r: IteratorResult<FsRequest, T> = advance(steps, answer);
    if (r.done) return r.value;
    try {
      answer = { value: answerSync(r.value) };
    } catch (error) {
      answer = { error };
    }
  }
}

function answerSync(q: FsRequest): unknown {
  if (q.op === 'readdir') return readdirSync(q.path);
  if (q.op === 'realpath') {
    try {
      return realpathSync.native(q.path);
    } catch {
      return undefined;
    }
  }
  return q.paths.map((path): StatResult => {
    try {
      return statSync(path, { throwIfNoEntry: false });
    } catch (e) {
      return e as Error;
    }
  });
}

/** Stats in flight at once per folder: enough to keep libuv's pool busy, few enough to bound memory. */
const STAT_CONCURRENCY = 64;

/** Runs a scan with file-system calls on libuv's threads; the event loop runs between them. */
async function runAsync<T>(steps: Scan<T>): Promise<T> {
  let answer: Answer = { value: undefined };
  for (;;) {
    const r: IteratorResult<FsRequest, T> = advance(steps, answer);
    if (r.done) return r.value;
    try {
      answer = { value: await answerAsync(r.value) };
    } catch (error) {
      answer = { error };
    }
  }
}

async function answerAsync(q: FsRequest): Promise<unknown> {
  if (q.op === 'readdir') return readdir(q.path);
  if (q.op === 'realpath') return realpath(q.path).catch(() => undefined);
  const out: StatResult[] = new Array(q.paths.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < q.paths.length) {
      const i = next++;
      out[i] = await stat(q.paths[i]!).catch((e: NodeJS.ErrnoException) =>
        e.code === 'ENOENT' ? undefined : e,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, q.paths.length) }, worker));
  return out;
}
