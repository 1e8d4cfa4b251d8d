import { checkInt, checkNumber, invalidParam } from '@dlf/tensor-core';
import type { Dataset } from './dataset.js';
import { Rng } from './rng.js';

/**
 * Normalises each channel: `(x − mean[c]) / std[c]`, with x already scaled (to [0, 1] for images).
 *
 * @example
 * ```ts
 * const t: NormalizeTransform = normalize(0.5, 0.25);
 * ```
 */
export interface NormalizeTransform {
  /** Marks a normalisation. */
  readonly kind: 'normalize';
  /** Per-channel mean subtracted (in [0, 1] pixel units). */
  readonly mean: readonly number[];
  /** Per-channel standard deviation divided by. */
  readonly std: readonly number[];
}

/**
 * Pads each side by `padding` pixels of `fill`, then crops a random `size` window.
 *
 * @example
 * ```ts
 * const t: RandomCropTransform = randomCrop(28, { padding: 2 });
 * ```
 */
export interface RandomCropTransform {
  /** Marks a random crop. */
  readonly kind: 'randomCrop';
  /** Crop height and width. */
  readonly size: readonly [number, number];
  /** Pixels of `fill` added on each side before cropping. */
  readonly padding: number;
  /** Value of the padding pixels. */
  readonly fill: number;
}

/**
 * Mirrors an image left–right with probability `p`.
 *
 * @example
 * ```ts
 * const t: HorizontalFlipTransform = randomHorizontalFlip(0.5);
 * ```
 */
export interface HorizontalFlipTransform {
  /** Marks a horizontal flip. */
  readonly kind: 'horizontalFlip';
  /** Probability of flipping a sample. */
  readonly p: number;
  /**
   * Mirror each sample in every other epoch instead of at random: whether a sample starts mirrored
   * is drawn once, then it alternates (airbench's alternating flip: every sample is seen both ways
   * in any two consecutive epochs).
   */
  readonly alternate: boolean;
}

/**
 * What a {@link CustomTransform} receives besides the batch.
 *
 * @example
 * ```ts
 * customTransform('log', (_x, _shape, ctx) => console.log(ctx.epoch, ctx.indices.length));
 * ```
 */
export interface TransformContext {
  /** The loader's seed. */
  seed: number;
  /** The epoch being assembled. */
  epoch: number;
  /** Dataset indices of the batch's samples. */
  indices: Int32Array;
}

/**
 * Any other transform: a function that edits the float32 batch `x` (shape `[B, ...sample shape]`)
 * in place, after the built-in transforms. For randomness, derive an {@link Rng} from
 * `(ctx.seed, ctx.epoch, ctx.indices[i])` to stay reproducible.
 *
 * @example
 * ```ts
 * const noise = customTransform('noise', (x, _shape, ctx) => {
 *   const rng = new Rng(ctx.seed, ctx.epoch);
 *   for (let i = 0; i < x.length; i++) x[i] += 0.01 * (rng.next() - 0.5);
 * });
 * ```
 */
export interface CustomTransform {
  /** Marks a custom transform. */
  readonly kind: 'custom';
  /** A name for messages. */
  readonly name: string;
  /** Changes one sample in place: its float pixels, its shape [C, H, W] and the context (seeded random numbers). */
  readonly apply: (x: Float32Array, shape: readonly number[], ctx: TransformContext) => void;
}

/**
 * A batch transform for the {@link DataLoader}.
 *
 * @example
 * ```ts
 * const transforms: Transform[] = [randomCrop(32, { padding: 4 }), randomHorizontalFlip(), normalize(0.5, 0.25)];
 * ```
 */
export type Transform = NormalizeTransform | RandomCropTransform | HorizontalFlipTransform | CustomTransform;

function numbers(name: string, v: number | readonly number[], min: number): number[] {
  const arr = typeof v === 'number' ? [v] : Array.isArray(v) ? [...v] : undefined;
  if (!arr || arr.length === 0)
    throw invalidParam(name, 'a number or a non-empty array of numbers', v, 'type');
  arr.forEach((x, i) => {
    checkNumber(`${name}[${i}]`, x, min);
  });
  return arr;
}

/**
 * Per-channel normalisation, applied after scaling to [0, 1]: `(x − mean[c]) / std[c]`. A single
 * number applies to every channel.
 *
 * @example
 * ```ts
 * normalize([0.4914, 0.4822, 0.4465], [0.247, 0.243, 0.261]); // CIFAR-10 statistics
 * normalize(0.1307, 0.3081);                                   // MNIST
 * ```
 */
export function normalize(
  mean: number | readonly number[],
  std: number | readonly number[],
): NormalizeTransform {
  const m = numbers('mean', mean, -Infinity);
  const s = numbers('std', std, 0);
  s.forEach((x, i) => {
    if (x === 0) throw invalidParam(`std[${i}]`, 'a positive number', x);
  });
  return Object.freeze({ kind: 'normalize', mean: Object.freeze(m), std: Object.freeze(s) });
}

/**
 * Random crop with padding (as torchvision's `RandomCrop(size, padding)`): the image is padded by
 * `padding` pixels of `fill` (in [0, 1] units, before normalisation; default 0, black) on every
 * side, and a `size` window is cut at a uniformly random position.
 *
 * @example
 * ```ts
 * randomCrop(32, { padding: 4 }); // the usual CIFAR augmentation
 * ```
 */
export function randomCrop(
  size: number | readonly [number, number],
  options: { padding?: number; fill?: number } = {},
): RandomCropTransform {
  const hw: [number, number] =
    typeof size === 'number'
      ? [checkInt('size', size, 1), checkInt('size', size, 1)]
      : Array.isArray(size) && size.length === 2
        ? [checkInt('size[0]', size[0], 1), checkInt('size[1]', size[1], 1)]
        : (() => {
            throw invalidParam('size', 'a positive integer or [height, width]', size);
          })();
  const padding = checkInt('padding', options.padding ?? 0, 0, 4096);
  const fill = checkNumber('fill', options.fill ?? 0);
  return Object.freeze({
    kind: 'randomCrop',
    size: Object.freeze(hw) as readonly [number, number],
    padding,
    fill,
  });
}

/**
 * Mirrors images left–right with probability `p` (default 0.5). With `alternate`, each image is
 * mirrored in every other epoch instead, starting mirrored or not at random (then `p` must be 0.5).
 *
 * @example
 * ```ts
 * randomHorizontalFlip();
 * randomHorizontalFlip(0.5, { alternate: true });
 * ```
 */
export function randomHorizontalFlip(
  p = 0.5,
  options: { alternate?: boolean } = {},
): HorizontalFlipTransform {
  const alternate = options.alternate ?? false;
  if (typeof alternate !== 'boolean') throw invalidParam('alternate', 'a boolean', alternate, 'type');
  checkNumber('p', p, 0, 1);
  if (alternate && p !== 0.5)
    throw invalidParam('p', '0.5 with alternate (half the images start mirrored)', p);
  return Object.freeze({ kind: 'horizontalFlip', p, alternate });
}

/**
 * Wraps a function as a transform that edits the float32 batch in place, after the built-in ones.
 *
 * @example
 * ```ts
 * const invert = customTransform('invert', (x) => { for (let i = 0; i < x.length; i++) x[i] = 1 - x[i]; });
 * ```
 */
export function customTransform(
  name: string,
  apply: (x: Float32Array, shape: readonly number[], ctx: TransformContext) => void,
): CustomTransform {
  if (typeof apply !== 'function') throw invalidParam('apply', 'a function', apply, 'type');
  return Object.freeze({ kind: 'custom', name: String(name), apply });
}

/** Stream id of augmentation draws (separate from shuffling and splitting). */
const AUGMENT_STREAM = 0xa06;
/** Stream id of the alternating flip's one draw per sample (the same in every epoch). */
const FLIP_STREAM = 0xf11;

/**
 * A compiled set of transforms: the built-in ones fused into one pass that reads each sample once
 * and writes the float32 batch once (`out = src × a[c] + b[c]`, with crop/flip folded into the
 * source indices). @internal
 */
export class TransformPlan {
  readonly inShape: readonly number[];
  /** Shape of one output sample. */
  readonly outShape: readonly number[];
  readonly outSize: number;
  readonly #channels: number;
  readonly #a: Float32Array;
  readonly #b: Float32Array;
  readonly #pad: Float32Array;
  readonly #crop: RandomCropTransform | undefined;
  readonly #flip: HorizontalFlipTransform | undefined;
  readonly #flipFirst: boolean;
  readonly #custom: CustomTransform[];
  readonly #geometric: boolean;

  constructor(dataset: Dataset, transforms: readonly Transform[], scale: number) {
    if (!Array.isArray(transforms))
      throw invalidParam('transforms', 'an array of transforms', transforms, 'type');
    const shape = dataset.shape;
    const channels = shape.length === 3 ? shape[0]! : 1;
    let norm: NormalizeTransform | undefined;
    let crop: RandomCropTransform | undefined;
    let flip: HorizontalFlipTransform | undefined;
    let flipFirst = false;
    const custom: CustomTransform[] = [];
    transforms.forEach((t, i) => {
      const kind = (t as { kind?: unknown })?.kind;
      const once = (seen: unknown) => {
        if (seen) throw invalidParam(`transforms[${i}]`, `at most one ${kind} transform`, kind);
      };
      if (kind === 'normalize') {
        once(norm);
        norm = t as NormalizeTransform;
      } else if (kind === 'randomCrop' || kind === 'horizontalFlip') {
        if (shape.length !== 3) {
          throw invalidParam(
            `transforms[${i}]`,
            `image samples [C, H, W] for ${kind}`,
            `shape [${shape.join(', ')}]`,
          );
        }
        if (kind === 'randomCrop') {
          once(crop);
          crop = t as RandomCropTransform;
          const [oh, ow] = crop.size;
          if (oh > shape[1]! + 2 * crop.padding || ow > shape[2]! + 2 * crop.padding) {
            throw invalidParam(
              `transforms[${i}].size`,
              `a crop no larger than the padded image ${shape[1]! + 2 * crop.padding}×${shape[2]! + 2 * crop.padding}`,
              [oh, ow],
            );
          }
        } else {
          once(flip);
          flip = t as HorizontalFlipTransform;
          flipFirst = crop === undefined;
        }
      } else if (kind === 'custom') custom.push(t as CustomTransform);
      else
        throw invalidParam(
          `transforms[${i}]`,
          'a transform from normalize(), randomCrop(), randomHorizontalFlip() or customTransform()',
          t,
          'type',
        );
    });
    const mean = norm ? norm.mean : [0];
    const std = norm ? norm.std : [1];
    for (const [name, arr] of [
      ['mean', mean],
      ['std', std],
    ] as const) {
      if (arr.length !== 1 && arr.length !== channels) {
        throw invalidParam(`normalize ${name}`, `1 or ${channels} values (one per channel)`, [...arr]);
      }
    }
    this.#channels = channels;
    this.#a = new Float32Array(channels);
    this.#b = new Float32Array(channels);
    this.#pad = new Float32Array(channels);
    const fill = crop?.fill ?? 0;
    for (let c = 0; c < channels; c++) {
      const m = mean.length === 1 ? mean[0]! : mean[c]!;
      const s = std.length === 1 ? std[0]! : std[c]!;
      this.#a[c] = scale / s;
      this.#b[c] = -m / s;
      this.#pad[c] = (fill - m) / s;
    }
    this.#crop = crop;
    this.#flip = flip && flip.p > 0 ? flip : undefined;
    this.#flipFirst = flipFirst;
    this.#custom = custom;
    this.#geometric = this.#crop !== undefined || this.#flip !== undefined;
    this.inShape = shape;
    this.outShape = crop ? [shape[0]!, crop.size[0], crop.size[1]] : [...shape];
    this.outSize = this.outShape.reduce((x, y) => x * y, 1);
  }

  /** True when some step draws random numbers. */
  get random(): boolean {
    return this.#geometric;
  }

  /**
   * Writes the transformed samples `indices` of `dataset` into `out` (`indices.length × outSize`
   * floats), then runs the custom transforms.
   */
  run(dataset: Dataset, indices: Int32Array, out: Float32Array, seed: number, epoch: number): void {
    const src = dataset.images;
    const inSize = dataset.sampleSize;
    const C = this.#channels;
    const a = this.#a;
    const b = this.#b;
    if (!this.#geometric) {
      const plane = inSize / C;
      for (let j = 0; j < indices.length; j++) {
        const s0 = indices[j]! * inSize;
        const o0 = j * inSize;
        for (let c = 0; c < C; c++) {
          const ac = a[c]!;
          const bc = b[c]!;
          const s = s0 + c * plane;
          const o = o0 + c * plane;
          for (let i = 0; i < plane; i++) out[o + i] = src[s + i]! * ac + bc;
        }
      }
    } else {
      const [, H, W] = this.inShape as [number, number, number];
      const [, OH, OW] = this.outShape as [number, number, number];
      const crop = this.#crop;
      const flip = this.#flip;
      const pad = crop?.padding ?? 0;
      const maxTop = H + 2 * pad - OH;
      const maxLeft = W + 2 * pad - OW;
      for (let j = 0; j < indices.length; j++) {
        const idx = indices[j]!;
        const rng = new Rng(seed, AUGMENT_STREAM, epoch, idx);
        const top = crop ? rng.nextInt(maxTop + 1) : 0;
        const left = crop ? rng.nextInt(maxLeft + 1) : 0;
        const flipped = !flip
          ? false
          : flip.alternate
            ? new Rng(seed, FLIP_STREAM, 0, idx).next() < 0.5 !== (epoch % 2 === 1)
            : rng.next() < flip.p;
        // Source column of output column x is base + dir·x; source row of output row y is y + dy.
        const dy = top - pad;
        let base: number;
        let dir: number;
        if (!flipped) {
          base = left - pad;
          dir = 1;
        } else if (this.#flipFirst) {
          base = W + pad - 1 - left;
          dir = -1;
        } else {
          base = OW - 1 + left - pad;
          dir = -1;
        }
        const lastCol = base + dir * (OW - 1);
        const inside = Math.min(base, lastCol) >= 0 && Math.max(base, lastCol) < W;
        const s0 = idx * inSize;
        const o0 = j * this.outSize;
        for (let c = 0; c < C; c++) {
          const ac = a[c]!;
          const bc = b[c]!;
          const pc = this.#pad[c]!;
          const sp = s0 + c * H * W;
          let o = o0 + c * OH * OW;
          for (let y = 0; y < OH; y++) {
            const sy = y + dy;
            if (sy < 0 || sy >= H) {
              for (let x = 0; x < OW; x++) out[o++] = pc;
              continue;
            }
            const row = sp + sy * W + base;
            if (inside) {
              if (dir === 1) for (let x = 0; x < OW; x++) out[o++] = src[row + x]! * ac + bc;
              else for (let x = 0; x < OW; x++) out[o++] = src[row - x]! * ac + bc;
            } else {
              for (let x = 0; x < OW; x++) {
                const sx = base + dir * x;
                out[o++] = sx < 0 || sx >= W ? pc : src[row + dir * x]! * ac + bc;
              }
            }
          }
        }
      }
    }
    if (this.#custom.length > 0) {
      const shape = [indices.length, ...this.outShape];
      const ctx: TransformContext = { seed, epoch, indices };
      for (const t of this.#custom) t.apply(out, shape, ctx);
    }
  }
}
