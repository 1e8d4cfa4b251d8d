import { availableParallelism } from 'node:os';
import { checkInt, invalidParam } from '@dlf/tensor-core';
import sharp, { type Sharp } from 'sharp';
import { fmt, reason } from './errors.js';
import { DEFAULT_MAX_FILE_BYTES, readRegularFile } from './files.js';
import { convertChannels, headerSize, resample } from './pixels.js';
import { decodeSimplePng } from './png.js';

/**
 * How an image is fitted to the output size (sharp's `fit`).
 *
 * @example
 * ```ts
 * await openDataset('photos', { size: 64, fit: 'cover' });
 * ```
 */
export type FitMode = 'fill' | 'cover' | 'contain';

/**
 * Preprocessing applied while decoding.
 *
 * @example
 * ```ts
 * await decodeImages(paths, { width: 32, height: 32, channels: 1, concurrency: 4 });
 * ```
 */
export interface DecodeOptions {
  /** Output width in pixels. */
  width: number;
  /** Output height in pixels. */
  height: number;
  /** 3 for RGB, 1 for grey (luminance). */
  channels: 1 | 3;
  /**
   * `'fill'` (default) stretches to the output size, ignoring the aspect ratio (like OpenCV's
   * `resize`); `'cover'` crops the centre to keep it; `'contain'` letterboxes with black.
   */
  fit?: FitMode;
  /**
   * Decodes in flight at once (default: 4 × the available cores). sharp runs each decode on a libuv
   * worker thread, so this spreads the work over all cores; more than the libuv pool size
   * (`UV_THREADPOOL_SIZE`, 4 by default) only keeps the pool fed.
   */
  concurrency?: number;
  /** Called after each image with the number done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * The most pixels (width × height, from the image's header) decoded from one image, default
   * {@link DEFAULT_MAX_PIXELS}. A larger image is skipped before any pixel memory is allocated.
   */
  maxPixels?: number;
  /** The largest image file read, in bytes (default 256 MiB). */
  maxFileBytes?: number;
}

/**
 * The default pixel budget of one image: 40 million pixels (e.g. 8000 × 5000), about 120 MB
 * decoded as RGB. Raise it with the `maxPixels` option.
 *
 * @example
 * ```ts
 * await decodeImages(paths, { width: 64, height: 64, channels: 3, maxPixels: 2 * DEFAULT_MAX_PIXELS });
 * ```
 */
export const DEFAULT_MAX_PIXELS = 40_000_000;

/**
 * The outcome of {@link decodeImages}.
 *
 * @example
 * ```ts
 * const { images, ok, failures } = await decodeImages(paths, { width: 32, height: 32, channels: 3 });
 * for (const f of failures) console.warn(f.path, f.reason);
 * ```
 */
export interface DecodeResult {
  /** `paths.length` images of `[channels, height, width]` back to back; failed slots stay zero. */
  images: Uint8Array;
  /** 1 where the image decoded, 0 where it failed. */
  ok: Uint8Array;
  /** The files that could not be read or decoded, with the reason, in input order. */
  failures: { index: number; path: string; reason: string }[];
}

/**
 * The default number of decodes in flight.
 *
 * @example
 * ```ts
 * defaultDecodeConcurrency(); // 8 on a 2-core machine
 * ```
 */
export function defaultDecodeConcurrency(): number {
  return 4 * availableParallelism();
}

/** @internal Validates decode options. */
export function checkDecodeOptions(options: DecodeOptions): Required<Omit<DecodeOptions, 'onProgress'>> {
  checkInt('width', options.width, 1, 65535);
  checkInt('height', options.height, 1, 65535);
  if (options.channels !== 1 && options.channels !== 3)
    throw invalidParam('channels', '1 or 3', options.channels);
  const fit = options.fit ?? 'fill';
  if (fit !== 'fill' && fit !== 'cover' && fit !== 'contain')
    throw invalidParam('fit', "'fill', 'cover' or 'contain'", fit);
  const concurrency = options.concurrency ?? defaultDecodeConcurrency();
  checkInt('concurrency', concurrency, 1, 1024);
  const maxPixels = checkInt('maxPixels', options.maxPixels ?? DEFAULT_MAX_PIXELS, 1);
  const maxFileBytes = checkInt('maxFileBytes', options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES, 1);
  return {
    width: options.width,
    height: options.height,
    channels: options.channels,
    fit,
    concurrency,
    maxPixels,
    maxFileBytes,
  };
}

type Resolved = Required<Omit<DecodeOptions, 'onProgress'>>;

/** Thrown before decoding an image whose header announces more pixels than the budget. */
function checkPixelBudget(dims: { width: number; height: number } | undefined, o: Resolved): void {
  if (dims === undefined || dims.width * dims.height <= o.maxPixels) return;
  throw new RangeError(
    `its header announces ${fmt(dims.width)}×${fmt(dims.height)} pixels, more than the ${fmt(o.maxPixels)}-pixel budget (raise maxPixels to read it)`,
  );
}

/** @internal Bumped whenever decoding can produce different pixels (part of the cache key). */
export const DECODE_PIPELINE_VERSION = 3;

function pipelineFull(input: Buffer, o: Resolved): Sharp {
  const p = sharp(input, { limitInputPixels: o.maxPixels })
    .autoOrient()
    .resize(o.width, o.height, { fit: o.fit, background: { r: 0, g: 0, b: 0 } })
    .removeAlpha();
  return (o.channels === 1 ? p.toColourspace('b-w') : p.toColourspace('srgb')).raw({ depth: 'uchar' });
}

/**
 * Decodes one file's bytes into `out` at `offset` as channel-major `[C, H, W]` uint8.
 *
 * Small images skip libvips' resize and colour conversion (each libvips operation costs about
 * 0.5 ms of CPU even on a 28×28 image): when the header says the image is at most twice the output
 * size in each dimension (`fit: 'fill'`), or exactly the output size (any fit), sharp only decodes
 * (auto-orienting, dropping alpha) and the resize (bilinear, half-pixel centres, as OpenCV's
 * INTER_LINEAR) and grey/RGB conversion (BT.601 luma) run in JavaScript. Larger images are resized
 * by sharp (Lanczos-3, with shrink-on-load). Small plain PNGs are not even given to sharp: they are
 * decoded in JavaScript ({@link decodeSimplePng}). The same file always takes the same path.
 * Resolves to true when no sharp call was made (the work was synchronous).
 */
async function decodeInto(buf: Buffer, o: Resolved, out: Uint8Array, offset: number): Promise<boolean> {
  const dims = headerSize(buf);
  checkPixelBudget(dims, o);
  const small =
    dims !== undefined &&
    ((dims.width === o.width && dims.height === o.height) ||
      (o.fit === 'fill' && dims.width <= 2 * o.width && dims.height <= 2 * o.height));
  const png = small ? decodeSimplePng(buf) : undefined;
  if (png) {
    place(png.data, png.width, png.height, png.channels, o, out, offset);
    return true;
  }
  let p = sharp(buf, { limitInputPixels: o.maxPixels }).autoOrient();
  if (!small) p = p.resize(o.width, o.height, { fit: o.fit, background: { r: 0, g: 0, b: 0 } });
  let { data, info } = await p.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 1 && info.channels !== 3) {
    // An unusual colour space: let libvips convert it.
    ({ data, info } = await pipelineFull(buf, o).toBuffer({ resolveWithObject: true }));
  }
  if (data.length !== info.width * info.height * info.channels) {
    throw new Error(
      `sharp returned ${data.length} bytes for ${info.width}×${info.height}×${info.channels} pixels`,
    );
  }
  place(data, info.width, info.height, info.channels, o, out, offset);
  return false;
}

/** Resamples interleaved pixels to the output size and channels, channel-major, into `out`. */
function place(
  data: Uint8Array,
  w: number,
  h: number,
  sc: number,
  o: Resolved,
  out: Uint8Array,
  offset: number,
): void {
  if (sc === o.channels) {
    resample(data, 0, w, h, sc, 1, sc, out, offset, o.width, o.height);
  } else {
    const plane = o.width * o.height;
    const tmp = new Uint8Array(sc * plane);
    resample(data, 0, w, h, sc, 1, sc, tmp, 0, o.width, o.height);
    convertChannels(tmp, 0, sc, o.channels, out, offset, plane);
  }
}

/**
 * Decodes one image (a path or the file's bytes) to `[channels, height, width]` uint8 pixels, as
 * {@link decodeImages} does. Throws sharp's error for an unreadable or corrupt image.
 *
 * @example
 * ```ts
 * const pixels = await decodeImage('cat.jpg', { width: 32, height: 32, channels: 3 }); // 3,072 bytes
 * ```
 */
export async function decodeImage(input: string | Buffer, options: DecodeOptions): Promise<Uint8Array> {
  const o = checkDecodeOptions(options);
  const buf = typeof input === 'string' ? await readRegularFile(input, o.maxFileBytes) : input;
  const out = new Uint8Array(o.width * o.height * o.channels);
  await decodeInto(buf, o, out, 0);
  return out;
}

/**
 * Decodes many image files concurrently into one uint8 block (`[N, C, H, W]`). Files are read on
 * libuv's threads (only regular files, within `maxFileBytes`; a FIFO or device is a failure, not a
 * hang), checked against the pixel budget from their header, and decoded on libuv's worker threads by sharp, `concurrency` at a time. Images no larger than twice the output
 * size (by their header) are only decoded by sharp, then resized (bilinear, half-pixel centres) and
 * converted (grey to RGB by copying, RGB to grey by BT.601 luma) in JavaScript, which costs 2–3×
 * less CPU for tiny images; small plain 8-bit PNGs are decoded entirely in JavaScript (zlib +
 * unfiltering, microseconds each); larger images are resized by sharp (Lanczos-3, shrink-on-load).
 *
 * A file that cannot be read or decoded does not stop the others: it is reported in `failures`
 * and its slot stays zero.
 *
 * @example
 * ```ts
 * const { images, failures } = await decodeImages(paths, { width: 32, height: 32, channels: 3 });
 * ```
 */
export async function decodeImages(paths: readonly string[], options: DecodeOptions): Promise<DecodeResult> {
  const o = checkDecodeOptions(options);
  const n = paths.length;
  const size = o.width * o.height * o.channels;
  const images = new Uint8Array(n * size);
  const ok = new Uint8Array(n);
  const failures: DecodeResult['failures'] = [];
  let next = 0;
  let done = 0;
  let lastYield = performance.now();
  const onProgress = options.onProgress;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const path = paths[i]!;
      try {
        const sync = await decodeInto(await readRegularFile(path, o.maxFileBytes), o, images, i * size);
        ok[i] = 1;
        // Decodes done in JavaScript never wait: every 10 ms of them, let the event loop (and sharp's
        // callbacks) run. Each image has its own slot, so when this yields never changes the result.
        if (sync && performance.now() - lastYield > 10) {
          await new Promise((r) => setImmediate(r));
          lastYield = performance.now();
        }
      } catch (e) {
        failures.push({ index: i, path, reason: reason(e) });
      }
      done++;
      onProgress?.(done, n);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, Math.max(1, n)) }, worker));
  failures.sort((a, b) => a.index - b.index);
  return { images, ok, failures };
}
