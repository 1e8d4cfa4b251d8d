/**
 * `@dlf/data`: datasets (image folders decoded with sharp, MNIST / Fashion-MNIST idx, CIFAR-10/100
 * binary, in-memory tensors), a decode cache, seeded transforms and a prefetching `DataLoader`.
 *
 * @example
 * ```ts
 * import { openDataset, DataLoader, normalize } from '@dlf/data';
 * const { train, classes } = await openDataset('data/pets'); // detects the layout
 * const loader = new DataLoader(train, { batchSize: 64, shuffle: true, seed: 1, transforms: [normalize(0.5, 0.25)] });
 * for await (const { x, y } of loader) {
 *   // x: float32 [64, 3, 32, 32], y: int32 [64]; the consumer disposes them
 *   x.dispose();
 *   y.dispose();
 * }
 * ```
 *
 * @module @dlf/data
 * @packageDocumentation
 */

export {
  type CacheContents,
  type CacheMeta,
  defaultCacheDir,
  hashKey,
  readCache,
  writeCache,
} from './cache.js';
export {
  CIFAR10_CLASSES,
  CIFAR100_COARSE_CLASSES,
  CIFAR100_FINE_CLASSES,
  type CifarLabelMode,
  openCifar,
  readCifarBatches,
} from './cifar.js';
export {
  Dataset,
  type DatasetInit,
  fromArrays,
  fromTensors,
  type InMemoryOptions,
  type SampleArray,
} from './dataset.js';
export {
  type DecodeOptions,
  type DecodeResult,
  decodeImage,
  DEFAULT_MAX_PIXELS,
  decodeImages,
  defaultDecodeConcurrency,
  type FitMode,
} from './decode.js';
export { DatasetError, type DatasetErrorCode } from './errors.js';
export { classFolderName, type ExportOptions, exportImageFolder } from './export.js';
export {
  FASHION_MNIST_CLASSES,
  type IdxArray,
  MNIST_CLASSES,
  readIdx,
  readIdxPair,
} from './idx.js';
export {
  IMAGE_EXTENSIONS,
  type ImageFolderOptions,
  type ImageFolderScan,
  type OpenedDataset,
  openImageFolder,
  type ScannedFile,
  SPLIT_NAMES,
  type SkippedEntry,
  scanImageFolder,
  scanImageFolderAsync,
} from './imagefolder.js';
export { DEFAULT_MAX_FILE_BYTES } from './files.js';
export { type Batch, DataLoader, type DataLoaderOptions } from './loader.js';
export {
  type DatasetFormat,
  type DatasetSource,
  datasetFormats,
  datasetSource,
  type OpenOptions,
  registerDatasetFormat,
  registerDatasetSource,
} from './formats.js';
export { loadMnist, type MnistOptions, mnistDataDir, openMnist } from './mnist.js';
export { openDataset } from './open.js';
export { type ResizeOptions, resizeDataset } from './resize.js';
export { mix32, permutation, Rng } from './rng.js';
export { stratifiedSplit, stratifiedSplitIndices, testCount } from './split.js';
export {
  type CustomTransform,
  customTransform,
  type HorizontalFlipTransform,
  type NormalizeTransform,
  normalize,
  type RandomCropTransform,
  randomCrop,
  randomHorizontalFlip,
  type Transform,
  type TransformContext,
} from './transforms.js';
