import { invalidParam, isTensor, type Tensor, tensor } from '@dlf/tensor-core';

/**
 * Sample storage: uint8 pixels (images) or float32 values (in-memory data).
 *
 * @example
 * ```ts
 * const pixels: SampleArray = ds.image(0);
 * ```
 */
export type SampleArray = Uint8Array | Float32Array;

/**
 * What a {@link Dataset} is built from.
 *
 * @example
 * ```ts
 * new Dataset({ images: new Uint8Array(784), labels: Int32Array.of(7), shape: [1, 28, 28], classes: MNIST_CLASSES });
 * ```
 */
export interface DatasetInit {
  /** All samples, back to back, each `shape` in row-major order (images: channel-major C, H, W). */
  images: SampleArray;
  /** One label per sample, each in [0, classes.length). */
  labels: Int32Array;
  /** The shape of one sample, e.g. [3, 32, 32]. */
  shape: readonly number[];
  /** Class names; label `k` is `classes[k]`. */
  classes: readonly string[];
  /** A short description (a path, or a split name) used in messages. */
  name?: string;
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Labelled samples held compactly in memory: one typed array for all samples (uint8 pixels, or
 * float32 values for in-memory data) and one `Int32Array` of labels. Images are channel-major
 * `[C, H, W]`, as in PyTorch; `images` is the whole `[N, C, H, W]` block.
 *
 * Datasets are immutable by convention: {@link Dataset.subset} and the loaders copy.
 *
 * @example
 * ```ts
 * const ds = new Dataset({
 *   images: new Uint8Array(2 * 3 * 4 * 4), labels: Int32Array.of(0, 1),
 *   shape: [3, 4, 4], classes: ['cat', 'dog'],
 * });
 * ds.length;        // 2
 * ds.image(1);      // Uint8Array(48), a view
 * ```
 */
export class Dataset {
  /** All samples back to back (`[N, ...shape]`). */
  readonly images: SampleArray;
  /** One label per sample. */
  readonly labels: Int32Array;
  /** The shape of one sample, e.g. `[C, H, W]`. */
  readonly shape: readonly number[];
  /** Class names in label order. */
  readonly classes: readonly string[];
  /** Elements per sample. */
  readonly sampleSize: number;
  /** A short description used in messages. */
  readonly name: string;

  /** @param init - samples, labels, sample shape and class names (validated) */
  constructor(init: DatasetInit) {
    if (typeof init !== 'object' || init === null) throw invalidParam('init', 'an object', init, 'type');
    const { images, labels, shape, classes } = init;
    if (!(images instanceof Uint8Array) && !(images instanceof Float32Array)) {
      throw invalidParam('images', 'a Uint8Array or Float32Array', images, 'type');
    }
    if (!(labels instanceof Int32Array)) throw invalidParam('labels', 'an Int32Array', labels, 'type');
    if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw invalidParam('shape', 'a non-empty array of positive integers', shape);
    }
    if (!Array.isArray(classes) || classes.length === 0 || classes.some((c) => typeof c !== 'string')) {
      throw invalidParam('classes', 'a non-empty array of strings', classes, 'type');
    }
    const sampleSize = product(shape);
    if (images.length !== labels.length * sampleSize) {
      throw invalidParam(
        'images',
        `${labels.length} samples of shape [${shape.join(', ')}] (${labels.length * sampleSize} elements)`,
        images,
      );
    }
    const k = classes.length;
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i]!;
      if (l < 0 || l >= k) throw invalidParam(`labels[${i}]`, `a class index in [0, ${k - 1}]`, l);
    }
    this.images = images;
    this.labels = labels;
    this.shape = Object.freeze([...shape]);
    this.classes = Object.freeze([...classes]);
    this.sampleSize = sampleSize;
    this.name = init.name ?? 'dataset';
  }

  /** The number of samples. */
  get length(): number {
    return this.labels.length;
  }

  /** The element type of the samples. */
  get dtype(): 'uint8' | 'float32' {
    return this.images instanceof Uint8Array ? 'uint8' : 'float32';
  }

  /**
   * Sample `i` as a view into {@link Dataset.images} (no copy).
   *
   * @example
   * ```ts
   * const pixels = ds.image(0); // C*H*W values, channel-major
   * ```
   */
  image(i: number): SampleArray {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw invalidParam('i', `a sample index in [0, ${this.length - 1}]`, i);
    }
    return this.images.subarray(i * this.sampleSize, (i + 1) * this.sampleSize);
  }

  /** The label of sample `i`. @example `ds.classes[ds.label(0)]` */
  label(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw invalidParam('i', `a sample index in [0, ${this.length - 1}]`, i);
    }
    return this.labels[i]!;
  }

  /**
   * How many samples each class has, in class order.
   *
   * @example
   * ```ts
   * ds.classCounts(); // [5000, 5000, ...]
   * ```
   */
  classCounts(): number[] {
    const counts = new Array<number>(this.classes.length).fill(0);
    for (let i = 0; i < this.labels.length; i++) counts[this.labels[i]!]!++;
    return counts;
  }

  /**
   * A new dataset holding the given samples, in the given order (a compact copy).
   *
   * @example
   * ```ts
   * const firstTen = ds.subset(Array.from({ length: 10 }, (_, i) => i));
   * ```
   */
  subset(indices: ArrayLike<number>, name = this.name): Dataset {
    const n = indices.length;
    const s = this.sampleSize;
    const images = this.images instanceof Uint8Array ? new Uint8Array(n * s) : new Float32Array(n * s);
    const labels = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      const i = indices[j]!;
      if (!Number.isInteger(i) || i < 0 || i >= this.length) {
        throw invalidParam(`indices[${j}]`, `a sample index in [0, ${this.length - 1}]`, i);
      }
      images.set(this.images.subarray(i * s, (i + 1) * s), j * s);
      labels[j] = this.labels[i]!;
    }
    return new Dataset({ images, labels, shape: this.shape, classes: this.classes, name });
  }

  /**
   * The whole dataset as two new tensors: `x` (uint8 or float32, `[N, ...shape]`) and `y` (int32,
   * `[N]`). The caller owns them.
   *
   * @example
   * ```ts
   * const { x, y } = ds.toTensors();
   * const xf = x.astype('float32', 1 / 255);
   * ```
   */
  toTensors(): { x: Tensor; y: Tensor } {
    const x = tensor(this.images, { shape: [this.length, ...this.shape] });
    const y = tensor(this.labels, { shape: [this.length] });
    return { x, y };
  }

  /** A one-line description. */
  toString(): string {
    return `Dataset(${this.name}: ${this.length} samples of [${this.shape.join(', ')}] ${this.dtype}, ${this.classes.length} classes)`;
  }
}

/**
 * Options for {@link fromTensors} and {@link fromArrays}.
 *
 * @example
 * ```ts
 * fromTensors(x, y, { classes: ['no', 'yes'], name: 'toy' });
 * ```
 */
export interface InMemoryOptions {
  /** Class names; default `'0'`, `'1'`, … up to the largest label. */
  classes?: readonly string[];
  /** A short description used in messages. */
  name?: string;
}

function defaultClasses(labels: Int32Array): string[] {
  let max = -1;
  for (let i = 0; i < labels.length; i++) if (labels[i]! > max) max = labels[i]!;
  return Array.from({ length: Math.max(1, max + 1) }, (_, i) => String(i));
}

/**
 * A dataset from in-memory tensors: `x` of shape `[N, ...]` (uint8 pixels or float32 values; images
 * as `[N, C, H, W]`) and integer labels `y` of shape `[N]`. The data are copied, so the tensors may
 * be disposed afterwards.
 *
 * @example
 * ```ts
 * const ds = fromTensors(randn([100, 1, 8, 8]), randint([100], 0, 3), { classes: ['a', 'b', 'c'] });
 * ```
 */
export function fromTensors(x: Tensor, y: Tensor, options: InMemoryOptions = {}): Dataset {
  if (!isTensor(x)) throw invalidParam('x', 'a Tensor', x, 'type');
  if (!isTensor(y)) throw invalidParam('y', 'a Tensor', y, 'type');
  if (x.rank < 2)
    throw invalidParam('x', 'a tensor of rank >= 2 ([N, ...sample shape])', `shape [${x.shape.join(', ')}]`);
  if (y.rank !== 1 || y.shape[0] !== x.shape[0]) {
    throw invalidParam('y', `a rank-1 tensor of ${x.shape[0]} labels`, `shape [${y.shape.join(', ')}]`);
  }
  const raw = x.toTypedArray();
  const images = raw instanceof Int32Array ? Float32Array.from(raw) : raw;
  const yRaw = y.toTypedArray();
  let labels: Int32Array;
  if (yRaw instanceof Int32Array) labels = yRaw;
  else {
    labels = new Int32Array(yRaw.length);
    for (let i = 0; i < yRaw.length; i++) {
      const v = yRaw[i]!;
      if (!Number.isInteger(v)) throw invalidParam(`y[${i}]`, 'an integer class index', v);
      labels[i] = v;
    }
  }
  return fromArrays(images, labels, x.shape.slice(1), options);
}

/**
 * A dataset from typed arrays (not copied): `images` holds `labels.length` samples of `shape`.
 *
 * @example
 * ```ts
 * const ds = fromArrays(new Uint8Array(10 * 784), new Int32Array(10), [1, 28, 28]);
 * ```
 */
export function fromArrays(
  images: SampleArray,
  labels: Int32Array,
  shape: readonly number[],
  options: InMemoryOptions = {},
): Dataset {
  return new Dataset({
    images,
    labels,
    shape,
    classes: options.classes ?? defaultClasses(labels),
    name: options.name ?? 'in-memory',
  });
}
