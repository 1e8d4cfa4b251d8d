import { checkInt, invalidParam } from '@dlf/tensor-core';
import { Dataset } from './dataset.js';
import { convertChannels, resample } from './pixels.js';

/**
 * Target of {@link resizeDataset}.
 *
 * @example
 * ```ts
 * resizeDataset(ds, { size: [32, 32], channels: 3 });
 * ```
 */
export interface ResizeOptions {
  /** Output size: a side length or `[height, width]`; default: unchanged. */
  size?: number | readonly [number, number];
  /** Output channels, 1 or 3; default: unchanged. */
  channels?: 1 | 3;
}

/**
 * Converts every image of a uint8 `[C, H, W]` dataset to another size and/or channel count, in
 * JavaScript (no decode): bilinear interpolation with half-pixel centres (as OpenCV's
 * `INTER_LINEAR`), grey→RGB by copying the channel, RGB→grey by BT.601 luma
 * (0.299 R + 0.587 G + 0.114 B), rounded: the routines the image-folder decoder uses for small
 * images. Returns the dataset itself when nothing changes.
 *
 * Used to feed MNIST (1×28×28) to a model built for 3×32×32 input.
 *
 * @example
 * ```ts
 * const rgb32 = resizeDataset(mnistTrain, { size: 32, channels: 3 }); // shape [3, 32, 32]
 * ```
 */
export function resizeDataset(ds: Dataset, options: ResizeOptions): Dataset {
  if (ds.shape.length !== 3)
    throw invalidParam('dataset', 'images of shape [C, H, W]', `shape [${ds.shape.join(', ')}]`);
  if (!(ds.images instanceof Uint8Array)) throw invalidParam('dataset', 'uint8 images', ds.dtype);
  const [c0, h0, w0] = ds.shape as [number, number, number];
  if (c0 !== 1 && c0 !== 3) throw invalidParam('dataset', 'images with 1 or 3 channels', c0);
  let h1 = h0;
  let w1 = w0;
  if (typeof options.size === 'number') h1 = w1 = checkInt('size', options.size, 1, 65535);
  else if (options.size !== undefined) {
    h1 = checkInt('size[0]', options.size[0], 1, 65535);
    w1 = checkInt('size[1]', options.size[1], 1, 65535);
  }
  const c1 = options.channels ?? c0;
  if (c1 !== 1 && c1 !== 3) throw invalidParam('channels', '1 or 3', c1);
  if (c1 === c0 && h1 === h0 && w1 === w0) return ds;

  const n = ds.length;
  const src = ds.images;
  const out = new Uint8Array(n * c1 * h1 * w1);
  const plane0 = h0 * w0;
  const plane1 = h1 * w1;
  const tmp = c1 === c0 ? undefined : new Uint8Array(c0 * plane1);
  for (let s = 0; s < n; s++) {
    const base = s * c0 * plane0;
    if (!tmp) resample(src, base, w0, h0, 1, plane0, c0, out, s * c1 * plane1, w1, h1);
    else {
      resample(src, base, w0, h0, 1, plane0, c0, tmp, 0, w1, h1);
      convertChannels(tmp, 0, c0, c1, out, s * c1 * plane1, plane1);
    }
  }
  return new Dataset({
    images: out,
    labels: ds.labels,
    shape: [c1, h1, w1],
    classes: ds.classes,
    name: ds.name,
  });
}
