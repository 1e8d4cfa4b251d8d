import { checkInt, checkNumber, invalidParam, type Tensor, tensor } from '@dlf/tensor-core';
import { Dataset } from './dataset.js';
import { permutation } from './rng.js';
import { type Transform, TransformPlan } from './transforms.js';

/**
 * Options for a {@link DataLoader}.
 *
 * @example
 * ```ts
 * new DataLoader(train, { batchSize: 128, shuffle: true, seed: 7, dropLast: true, prefetch: 4 });
 * ```
 */
export interface DataLoaderOptions {
  /** Samples per batch (default 64). */
  batchSize?: number;
  /** Visit the samples in a new seeded order every epoch (default false: dataset order). */
  shuffle?: boolean;
  /** Seed of shuffling and augmentation (default 0). */
  seed?: number;
  /** Leave out the last batch when it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /**
   * Batches assembled ahead of the consumer (default 2; 0 assembles each batch on request). The
   * next batch is built while the consumer awaits its training step.
   */
  prefetch?: number;
  /** Transforms, fused into batch assembly (see {@link normalize}, {@link randomCrop}, …). */
  transforms?: readonly Transform[];
  /** Multiplier applied to samples before the transforms (default 1/255 for uint8 images, else 1). */
  scale?: number;
  /** The epoch the first iteration uses (default 0); set it to resume. */
  epoch?: number;
}

/**
 * One batch. `x` and `y` are new tensors owned by the consumer: dispose them (or create them inside
 * a `tidy` scope that ends after the step) when done.
 *
 * @example
 * ```ts
 * for await (const { x, y, epoch, index } of loader) {
 *   console.log(epoch, index, x.shape);
 *   x.dispose();
 *   y.dispose();
 * }
 * ```
 */
export interface Batch {
  /** Samples, float32 `[B, ...sample shape]` (images `[B, C, H, W]`), scaled and transformed. */
  x: Tensor;
  /** Labels, int32 `[B]`. */
  y: Tensor;
  /** Dataset indices of the samples. */
  indices: Int32Array;
  /** The epoch this batch belongs to. */
  epoch: number;
  /** The batch's position in the epoch. */
  index: number;
}

/** Stream id of shuffling draws. */
const SHUFFLE_STREAM = 0x5f1;

/**
 * Serves a {@link Dataset} in batches, as an async iterable:
 * - seeded shuffling: epoch `e`'s order is a permutation determined by `(seed, e)`: different every
 *   epoch, identical across runs and machines;
 * - seeded augmentation: a sample's crop and flip depend only on `(seed, epoch, sample index)`;
 * - fast assembly: one tight pass converts the uint8 samples to float32 (scaled, cropped, flipped,
 *   normalised) into a reused buffer, then one tensor is created per batch;
 * - prefetch: up to `prefetch` batches are assembled ahead while the consumer awaits its step.
 *
 * Each `for await` over the loader runs the next epoch (starting at `options.epoch`); use
 * {@link DataLoader.epochBatches} for a given epoch. Batches belong to the consumer: dispose them.
 *
 * @example
 * ```ts
 * const loader = new DataLoader(train, {
 *   batchSize: 64, shuffle: true, seed: 1,
 *   transforms: [randomCrop(32, { padding: 4 }), randomHorizontalFlip(), normalize(0.5, 0.25)],
 * });
 * for (let epoch = 0; epoch < 10; epoch++) {
 *   for await (const { x, y } of loader) {
 *     await step(x, y);
 *     x.dispose();
 *     y.dispose();
 *   }
 * }
 * ```
 */
export class DataLoader implements AsyncIterable<Batch> {
  /** The dataset served. */
  readonly dataset: Dataset;
  /** Samples per batch. */
  readonly batchSize: number;
  /** Whether each epoch has its own order. */
  readonly shuffle: boolean;
  /** Seed of shuffling and augmentation. */
  readonly seed: number;
  /** Whether a last, smaller batch is left out. */
  readonly dropLast: boolean;
  /** Batches assembled ahead. */
  readonly prefetch: number;
  /** Shape of one output sample (after a crop). */
  readonly sampleShape: readonly number[];
  readonly #plan: TransformPlan;
  readonly #x: Float32Array;
  readonly #y: Int32Array;
  #epoch: number;
  #order: { epoch: number; order: Int32Array } | undefined;

  /**
   * @param dataset - the samples to serve
   * @param options - batch size, shuffling, seed, transforms, prefetch
   */
  constructor(dataset: Dataset, options: DataLoaderOptions = {}) {
    if (!(dataset instanceof Dataset)) throw invalidParam('dataset', 'a Dataset', dataset, 'type');
    if (typeof options !== 'object' || options === null)
      throw invalidParam('options', 'an object', options, 'type');
    this.dataset = dataset;
    this.batchSize = checkInt('batchSize', options.batchSize ?? 64, 1, 1 << 24);
    this.shuffle = Boolean(options.shuffle ?? false);
    this.seed = checkInt('seed', options.seed ?? 0, 0);
    this.dropLast = Boolean(options.dropLast ?? false);
    this.prefetch = checkInt('prefetch', options.prefetch ?? 2, 0, 64);
    this.#epoch = checkInt('epoch', options.epoch ?? 0, 0, 2 ** 32 - 1);
    const scale = checkNumber('scale', options.scale ?? (dataset.dtype === 'uint8' ? 1 / 255 : 1));
    this.#plan = new TransformPlan(dataset, options.transforms ?? [], scale);
    this.sampleShape = this.#plan.outShape;
    const b = Math.min(this.batchSize, Math.max(1, dataset.length));
    this.#x = new Float32Array(b * this.#plan.outSize);
    this.#y = new Int32Array(b);
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The epoch the next `for await` will run. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Sets the epoch the next `for await` will run (to resume a run). */
  set epoch(value: number) {
    this.#epoch = checkInt('epoch', value, 0, 2 ** 32 - 1);
  }

  /**
   * The order in which epoch `epoch` visits the samples: a seeded permutation when shuffling,
   * else `0 … n−1`.
   *
   * @example
   * ```ts
   * loader.order(3).slice(0, 5); // the first five sample indices of epoch 3
   * ```
   */
  order(epoch: number): Int32Array {
    checkInt('epoch', epoch, 0, 2 ** 32 - 1);
    if (this.#order?.epoch === epoch) return this.#order.order;
    const n = this.dataset.length;
    let order: Int32Array;
    if (this.shuffle) order = permutation(n, this.seed, SHUFFLE_STREAM, epoch);
    else {
      order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
    }
    this.#order = { epoch, order };
    return order;
  }

  /**
   * Assembles batch `index` of epoch `epoch` synchronously. The same (epoch, index) always gives
   * the same batch. The caller owns the returned tensors.
   *
   * @example
   * ```ts
   * const { x, y } = loader.batch(0, 0);
   * x.shape; // [64, 3, 32, 32]
   * ```
   */
  batch(epoch: number, index: number): Batch {
    return this.batchOf(epoch, index, this.batchIndices(epoch, index));
  }

  /**
   * The dataset indices of batch `index` of epoch `epoch` (a slice of {@link order}). A distributed
   * sampler shards these so that N processes together see exactly this batch.
   *
   * @example
   * ```ts
   * loader.batchIndices(0, 0).length; // 64
   * ```
   */
  batchIndices(epoch: number, index: number): Int32Array {
    const order = this.order(epoch);
    checkInt('index', index, 0, Math.max(0, this.length - 1));
    if (this.length === 0) throw invalidParam('index', 'a batch index, but the loader has no batches', index);
    const start = index * this.batchSize;
    return order.slice(start, Math.min(start + this.batchSize, order.length));
  }

  /**
   * Assembles a batch from given dataset indices (at most `batchSize`), with the transforms and
   * augmentation of epoch `epoch`; `index` is only recorded in the result.
   *
   * @example
   * ```ts
   * const { x } = loader.batchOf(0, 0, loader.batchIndices(0, 0).subarray(0, 32));
   * x.shape[0]; // 32
   * ```
   */
  batchOf(epoch: number, index: number, indices: Int32Array): Batch {
    const b = indices.length;
    if (b > this.#y.length) throw invalidParam('indices', `at most ${this.#y.length} indices`, b);
    const xs = this.#x.subarray(0, b * this.#plan.outSize);
    this.#plan.run(this.dataset, indices, xs, this.seed, epoch);
    const labels = this.dataset.labels;
    const ys = this.#y.subarray(0, b);
    for (let i = 0; i < b; i++) ys[i] = labels[indices[i]!]!;
    const x = tensor(xs, { shape: [b, ...this.#plan.outShape] });
    let y: Tensor;
    try {
      y = tensor(ys, { shape: [b] });
    } catch (e) {
      x.dispose();
      throw e;
    }
    return { x, y, indices, epoch, index };
  }

  /**
   * The batches of one epoch, as an async iterator with bounded prefetch. Breaking out of the loop
   * disposes the batches assembled ahead.
   *
   * @example
   * ```ts
   * for await (const { x, y } of loader.epochBatches(5)) { … }
   * ```
   */
  epochBatches(epoch: number): AsyncIterableIterator<Batch> {
    checkInt('epoch', epoch, 0, 2 ** 32 - 1);
    return this.#run(epoch);
  }

  /** Runs the next epoch (see {@link DataLoader.epoch}). */
  [Symbol.asyncIterator](): AsyncIterableIterator<Batch> {
    const epoch = this.#epoch;
    this.#epoch = epoch + 1;
    return this.#run(epoch);
  }

  async *#run(epoch: number): AsyncIterableIterator<Batch> {
    const total = this.length;
    const queue: Batch[] = [];
    let made = 0;
    let failure: { error: unknown } | undefined;
    let timer: NodeJS.Immediate | undefined;
    const ahead = (): void => {
      timer = undefined;
      if (failure || made >= total || queue.length >= this.prefetch) return;
      try {
        queue.push(this.batch(epoch, made++));
      } catch (error) {
        failure = { error };
        return;
      }
      // One batch per turn of the event loop keeps the loop responsive.
      if (made < total && queue.length < this.prefetch) timer = setImmediate(ahead);
    };
    try {
      for (let i = 0; i < total; i++) {
        if (queue.length === 0) {
          if (failure) throw failure.error;
          queue.push(this.batch(epoch, made++));
        }
        const next = queue.shift()!;
        if (this.prefetch > 0 && timer === undefined && made < total) timer = setImmediate(ahead);
        yield next;
      }
    } finally {
      if (timer !== undefined) clearImmediate(timer);
      for (const b of queue) {
        b.x.dispose();
        b.y.dispose();
      }
      queue.length = 0;
    }
  }
}
