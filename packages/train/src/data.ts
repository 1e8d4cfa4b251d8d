/**
 * The data stage of a run: opening the dataset, holding out validation data, the per-channel
 * statistics that become the model's preprocessing, the transforms, and the data facts reported.
 */
import {
  DataLoader,
  type Dataset,
  datasetSource,
  normalize,
  type OpenedDataset,
  openDataset,
  randomCrop,
  randomHorizontalFlip,
  stratifiedSplit,
  type Transform,
} from '@dlf/data';
import type { Preprocess } from '@dlf/nn';
import type { TrainConfig } from './config.js';
import { FileError } from './errors.js';
import type { DataFacts } from './report.js';
import type { TrainEvent } from './train.js';

/** Per-channel mean and standard deviation of a uint8 image dataset, scaled to [0, 1]. */
export function channelStats(ds: Dataset): { mean: number[]; std: number[] } {
  const c = ds.shape.length === 3 ? ds.shape[0]! : 1;
  const plane = ds.sampleSize / c;
  const scale = ds.dtype === 'uint8' ? 1 / 255 : 1;
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  const img = ds.images;
  for (let i = 0; i < ds.length; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = i * ds.sampleSize + ch * plane;
      let s = 0;
      let s2 = 0;
      for (let p = 0; p < plane; p++) {
        const v = img[o + p]!;
        s += v;
        s2 += v * v;
      }
      sum[ch]! += s;
      sq[ch]! += s2;
    }
  }
  const n = Math.max(1, ds.length * plane);
  const mean = Array.from(sum, (s) => (s / n) * scale);
  const std = Array.from(sq, (s2, ch) => {
    const m = sum[ch]! / n;
    return Math.sqrt(Math.max(0, s2 / n - m * m)) * scale;
  }).map((s) => (s > 1e-6 ? s : 1));
  return { mean: mean.map((v) => Number(v.toFixed(6))), std: std.map((v) => Number(v.toFixed(6))) };
}

/**
 * Opens the data of a configuration: a dataset folder, or a named source such as `'mnist'` (the
 * bundled MNIST).
 *
 * @example
 * ```ts
 * const { train, test, classes } = await openData({ data: 'mnist', seed: 0 });
 * ```
 */
export async function openData(
  config: Pick<TrainConfig, 'data' | 'size' | 'channels' | 'seed'>,
  options: {
    cacheDir?: string;
    onWarning?: (message: string) => void;
    /** Decode progress of an image folder: images done and total (not called on a cache hit). */
    onProgress?: (done: number, total: number) => void;
    /** The most pixels decoded from one image (default: `@dlf/data`'s `DEFAULT_MAX_PIXELS`). */
    maxPixels?: number;
  } = {},
): Promise<OpenedDataset & { seconds: number }> {
  const t0 = performance.now();
  const opened = await openDataset(config.data, {
    ...(config.size !== undefined ? { size: config.size } : {}),
    ...(config.channels !== undefined ? { channels: config.channels } : {}),
    seed: config.seed,
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    onWarning: options.onWarning ?? ((m) => process.emitWarning(m, { code: 'DLF_DATA' })),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {}),
  });
  return { ...opened, seconds: (performance.now() - t0) / 1000 };
}

/** The training transforms (augmentation, then normalisation) and the evaluation ones. */
function transformsFor(
  config: TrainConfig,
  shape: readonly number[],
  stats: { mean: number[]; std: number[] },
) {
  const norm = normalize(stats.mean, stats.std);
  const train: Transform[] = [];
  if (config.augment.includes('crop')) {
    const side = Math.min(shape[1]!, shape[2]!);
    const padding = config.cropPadding ?? Math.max(1, Math.round(side / 8));
    train.push(randomCrop([shape[1]!, shape[2]!], { padding }));
  }
  if (config.augment.includes('flip')) train.push(randomHorizontalFlip());
  if (config.augment.includes('alternating-flip')) train.push(randomHorizontalFlip(0.5, { alternate: true }));
  train.push(norm);
  return { train, eval: [norm] };
}

/** What {@link prepareData} gives the later stages. */
export interface PreparedData {
  opened: OpenedDataset & { seconds: number };
  train: Dataset;
  val: Dataset | undefined;
  test: Dataset;
  /** Where the validation data come from. */
  valSource: DataFacts['valSource'];
  /** One example's shape, [C, H, W]. */
  shape: [number, number, number];
  stats: { mean: number[]; std: number[] };
  /** How the final model file says images are turned into input. */
  preprocess: Preprocess;
  transforms: { train: Transform[]; eval: Transform[] };
}

/** Stage 1 of {@link train}: opens the data, holds out validation data and derives the preprocessing. */
export async function prepareData(
  config: TrainConfig,
  options: { cacheDir?: string; maxImagePixels?: number },
  emit: (event: TrainEvent) => void,
): Promise<PreparedData> {
  emit({ type: 'loading', data: config.data });
  const opened = await openData(config, {
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.maxImagePixels !== undefined ? { maxPixels: options.maxImagePixels } : {}),
    onWarning: (message) => emit({ type: 'warning', message }),
    onProgress: (done, total) => emit({ type: 'decoding', done, total }),
  });
  let train = opened.train;
  let val: Dataset | undefined = opened.val;
  let valSource: DataFacts['valSource'] = val ? 'folder' : 'none';
  if (!val && config.valSplit > 0) {
    const s = stratifiedSplit(train, config.valSplit, config.seed);
    train = s.train;
    val = s.test;
    valSource = 'split';
  }
  if (train.shape.length !== 3)
    throw new FileError(opened.path, `The data in ${opened.path} are not images [C, H, W].`);
  const shape = train.shape as [number, number, number];
  const stats = channelStats(train);
  const preprocess: Preprocess = {
    size: [shape[1], shape[2]],
    channels: shape[0] === 1 ? 1 : 3,
    fit: 'fill',
    scale: 1 / 255,
    mean: stats.mean,
    std: stats.std,
  };
  const transforms = transformsFor(config, shape, stats);
  return { opened, train, val, test: opened.test, valSource, shape, stats, preprocess, transforms };
}

/** The data facts of a run, with the time a training batch takes to assemble (a few batches timed). */
export function describeData(config: TrainConfig, data: PreparedData): DataFacts {
  const { opened, train, shape, stats } = data;
  const probe = new DataLoader(train, {
    batchSize: config.batchSize,
    shuffle: true,
    seed: config.seed,
    prefetch: 0,
    transforms: data.transforms.train,
  });
  const nProbe = Math.min(5, probe.length);
  const tb = performance.now();
  for (let i = 0; i < nProbe; i++) {
    const b = probe.batch(0, i);
    b.x.dispose();
    b.y.dispose();
  }
  const batchMs = nProbe ? (performance.now() - tb) / nProbe : 0;
  const source = datasetSource(config.data);
  return {
    format: opened.format,
    path: source ? `${opened.path} (${source.origin})` : opened.path,
    classes: opened.classes,
    train: train.length,
    val: data.val?.length ?? 0,
    test: data.test.length,
    shape,
    valSource: data.valSource,
    loadSeconds: opened.seconds,
    ...(opened.cache ? { cacheHit: opened.cache.hit } : {}),
    batchMs,
    batchImagesPerSecond: batchMs > 0 ? (Math.min(config.batchSize, train.length) / batchMs) * 1000 : 0,
    mean: stats.mean,
    std: stats.std,
    augment: config.augment,
    skipped: opened.skipped.length,
  };
}
