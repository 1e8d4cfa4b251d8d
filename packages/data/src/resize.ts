import { checkInt, invalidParam } from '@dlf/tensor-core';
import { Dataset } from './dataset.js';

/** Target of {@link resizeDataset}. */
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
 * (0.299 R + 0.587 G + 0.114 B), rounded. Returns the dataset itself when nothing changes.
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
  // Precompute the bilinear taps for rows and columns.
  const taps = (inSize: number, outSize: number) => {
    const i0 = new Int32Array(outSize);
    const i1 = new Int32Array(outSize);
    const f = new Float32Array(outSize);
    const scale = inSize / outSize;
    for (let o = 0; o < outSize; o++) {
      let x = (o + 0.5) * scale - 0.5;
      if (x < 0) x = 0;
      let a = Math.floor(x);
      if (a > inSize - 1) a = inSize - 1;
      i0[o] = a;
      i1[o] = Math.min(a + 1, inSize - 1);
      f[o] = x - a;
    }
    return { i0, i1, f };
  };
  const ry = taps(h0, h1);
  const rx = taps(w0, w1);
  const plane0 = h0 * w0;
  const plane1 = h1 * w1;
  const resized = new Float32Array(c0 * plane1);
  for (let s = 0; s < n; s++) {
    const base = s * c0 * plane0;
    for (let c = 0; c < c0; c++) {
      const p = base + c * plane0;
      for (let y = 0; y < h1; y++) {
        const r0 = p + ry.i0[y]! * w0;
        const r1 = p + ry.i1[y]! * w0;
        const fy = ry.f[y]!;
        for (let x = 0; x < w1; x++) {
          const a = rx.i0[x]!;
          const b = rx.i1[x]!;
          const fx = rx.f[x]!;
          const top = src[r0 + a]! + (src[r0 + b]! - src[r0 + a]!) * fx;
          const bot = src[r1 + a]! + (src[r1 + b]! - src[r1 + a]!) * fx;
          resized[c * plane1 + y * w1 + x] = top + (bot - top) * fy;
        }
      }
    }
    const o = s * c1 * plane1;
    if (c1 === c0) {
      for (let i = 0; i < c1 * plane1; i++) out[o + i] = Math.round(resized[i]!);
    } else if (c1 === 3) {
      for (let i = 0; i < plane1; i++) {
        const v = Math.round(resized[i]!);
        out[o + i] = v;
        out[o + plane1 + i] = v;
        out[o + 2 * plane1 + i] = v;
      }
    } else {
      for (let i = 0; i < plane1; i++) {
        out[o + i] = Math.round(
          0.299 * resized[i]! + 0.587 * resized[plane1 + i]! + 0.114 * resized[2 * plane1 + i]!,
        );
      }
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
