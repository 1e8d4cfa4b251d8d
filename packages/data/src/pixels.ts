/**
 * Small pixel routines in JavaScript: reading an image's size from its header, bilinear
 * resampling, and channel conversion. Used where calling into libvips would cost more than the work
 * itself (tiny images: one sharp operation costs about 0.5 ms of CPU whatever the image size).
 * @internal
 */

/**
 * Width and height from a PNG, GIF or JPEG header, or `undefined` for other formats and
 * malformed headers. Reads only the first bytes (JPEG: up to the frame header).
 */
export function headerSize(b: Uint8Array): { width: number; height: number } | undefined {
  const n = b.length;
  // PNG: signature, then the IHDR chunk with big-endian width and height.
  if (
    n >= 24 &&
    b[0] === 0x89 &&
    b[1] === 0x50 &&
    b[2] === 0x4e &&
    b[3] === 0x47 &&
    b[12] === 0x49 &&
    b[15] === 0x52
  ) {
    const width = ((b[16]! << 24) | (b[17]! << 16) | (b[18]! << 8) | b[19]!) >>> 0;
    const height = ((b[20]! << 24) | (b[21]! << 16) | (b[22]! << 8) | b[23]!) >>> 0;
    return width > 0 && height > 0 ? { width, height } : undefined;
  }
  // GIF: "GIF8", then the logical screen size, little-endian.
  if (n >= 10 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) {
    const width = b[6]! | (b[7]! << 8);
    const height = b[8]! | (b[9]! << 8);
    return width > 0 && height > 0 ? { width, height } : undefined;
  }
  // JPEG: walk the markers to the first start-of-frame (SOF0–SOF15 except DHT, JPG, DAC).
  if (n >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 3 < n) {
      if (b[i] !== 0xff) return undefined;
      const m = b[i + 1]!;
      if (m === 0xff) {
        i++;
        continue;
      }
      if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
        i += 2;
        continue;
      }
      if (m === 0xd9 || m === 0xda) return undefined;
      const len = (b[i + 2]! << 8) | b[i + 3]!;
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        if (i + 8 >= n) return undefined;
        const height = (b[i + 5]! << 8) | b[i + 6]!;
        const width = (b[i + 7]! << 8) | b[i + 8]!;
        return width > 0 && height > 0 ? { width, height } : undefined;
      }
      if (len < 2) return undefined;
      i += 2 + len;
    }
  }
  return undefined;
}

interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  f: Float32Array;
}

const tapCache = new Map<number, Taps>();

/** Bilinear taps with half-pixel centres (as OpenCV's INTER_LINEAR), edge-clamped. */
function taps(inSize: number, outSize: number): Taps {
  const key = inSize * 65536 + outSize;
  let t = tapCache.get(key);
  if (t) return t;
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
  t = { i0, i1, f };
  if (tapCache.size > 256) tapCache.clear();
  tapCache.set(key, t);
  return t;
}

/**
 * Resamples `channels` planes of `src` (element of channel c at pixel (y, x) is
 * `src[base + (y·sw + x)·pixStride + c·chStride]`, so HWC and CHW sources both work) to `th × tw`,
 * writing channel-major uint8 into `dst` at `dstOffset`. Bilinear with half-pixel centres, rounded;
 * a plain copy when the size does not change.
 */
export function resample(
  src: Uint8Array,
  base: number,
  sw: number,
  sh: number,
  pixStride: number,
  chStride: number,
  channels: number,
  dst: Uint8Array,
  dstOffset: number,
  tw: number,
  th: number,
): void {
  const plane = tw * th;
  if (sw === tw && sh === th) {
    for (let c = 0; c < channels; c++) {
      const o = dstOffset + c * plane;
      const s = base + c * chStride;
      if (pixStride === 1) dst.set(src.subarray(s, s + plane), o);
      else for (let p = 0, q = s; p < plane; p++, q += pixStride) dst[o + p] = src[q]!;
    }
    return;
  }
  const ry = taps(sh, th);
  const rx = taps(sw, tw);
  const row = sw * pixStride;
  for (let c = 0; c < channels; c++) {
    const s = base + c * chStride;
    let o = dstOffset + c * plane;
    for (let y = 0; y < th; y++) {
      const r0 = s + ry.i0[y]! * row;
      const r1 = s + ry.i1[y]! * row;
      const fy = ry.f[y]!;
      for (let x = 0; x < tw; x++) {
        const a = rx.i0[x]! * pixStride;
        const b = rx.i1[x]! * pixStride;
        const fx = rx.f[x]!;
        const top = src[r0 + a]! + (src[r0 + b]! - src[r0 + a]!) * fx;
        const bot = src[r1 + a]! + (src[r1 + b]! - src[r1 + a]!) * fx;
        dst[o++] = Math.round(top + (bot - top) * fy);
      }
    }
  }
}

/**
 * Converts channel-major uint8 pixels from `from` to `to` channels in place of a copy: grey → RGB
 * copies the plane, RGB → grey is BT.601 luma (0.299 R + 0.587 G + 0.114 B), rounded.
 */
export function convertChannels(
  src: Uint8Array,
  srcOffset: number,
  from: number,
  to: number,
  dst: Uint8Array,
  dstOffset: number,
  plane: number,
): void {
  if (from === to) {
    dst.set(src.subarray(srcOffset, srcOffset + from * plane), dstOffset);
  } else if (from === 1 && to === 3) {
    const g = src.subarray(srcOffset, srcOffset + plane);
    dst.set(g, dstOffset);
    dst.set(g, dstOffset + plane);
    dst.set(g, dstOffset + 2 * plane);
  } else if (from === 3 && to === 1) {
    for (let i = 0; i < plane; i++) {
      const r = src[srcOffset + i]!;
      const g = src[srcOffset + plane + i]!;
      const b = src[srcOffset + 2 * plane + i]!;
      dst[dstOffset + i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
  } else {
    throw new RangeError(`Cannot convert ${from} channels to ${to}`);
  }
}
