import { inflateSync } from 'node:zlib';

/**
 * A decoder for the plain PNGs that small datasets are made of (8-bit grey, grey+alpha, RGB, RGBA
 * or palette; not interlaced; no colour profile or EXIF orientation). Node's zlib inflates the
 * pixel data and JavaScript undoes the row filters: for a 28×28 image this takes microseconds,
 * where a libvips pipeline costs about 0.8 ms of CPU. Alpha is dropped and palettes are expanded,
 * giving what sharp gives after `removeAlpha()`.
 *
 * Returns `undefined` for anything else (other bit depths, interlacing, an ICC profile, an eXIf
 * chunk, or any inconsistency or corruption), in which case the caller lets sharp decode the file,
 * so sharp's error names what is wrong with a broken file.
 * @internal
 */
export function decodeSimplePng(
  b: Uint8Array,
): { data: Uint8Array; width: number; height: number; channels: 1 | 3 } | undefined {
  const n = b.length;
  if (n < 33 || b[0] !== 0x89 || b[1] !== 0x50 || b[2] !== 0x4e || b[3] !== 0x47) return undefined;
  if (b[4] !== 0x0d || b[5] !== 0x0a || b[6] !== 0x1a || b[7] !== 0x0a) return undefined;
  const u32 = (i: number): number => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
  let width = 0;
  let height = 0;
  let colorType = -1;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  for (let i = 8; i + 12 <= n; ) {
    const len = u32(i);
    if (i + 12 + len > n) return undefined;
    const type = String.fromCharCode(b[i + 4]!, b[i + 5]!, b[i + 6]!, b[i + 7]!);
    const d = i + 8;
    if (type === 'IHDR') {
      if (len !== 13) return undefined;
      width = u32(d);
      height = u32(d + 4);
      const depth = b[d + 8]!;
      colorType = b[d + 9]!;
      if (depth !== 8 || b[d + 10] !== 0 || b[d + 11] !== 0 || b[d + 12] !== 0) return undefined;
      if (colorType !== 0 && colorType !== 2 && colorType !== 3 && colorType !== 4 && colorType !== 6)
        return undefined;
    } else if (type === 'PLTE') {
      if (len % 3 !== 0 || len === 0) return undefined;
      palette = b.subarray(d, d + len);
    } else if (type === 'IDAT') {
      idat.push(b.subarray(d, d + len));
    } else if (type === 'IEND') {
      ended = true;
      break;
    } else if (type === 'iCCP' || type === 'eXIf') {
      return undefined;
    }
    i = d + len + 4;
  }
  if (!ended || width === 0 || height === 0 || idat.length === 0) return undefined;
  if (width * height > 1 << 22) return undefined;
  if (colorType === 3 && !palette) return undefined;
  const inCh = colorType === 0 || colorType === 3 ? 1 : colorType === 4 ? 2 : colorType === 2 ? 3 : 4;
  const stride = width * inCh;
  let raw: Uint8Array;
  try {
    // Bounded by what the header announces: a small IDAT that inflates to gigabytes stops there.
    raw = inflateSync(idat.length === 1 ? idat[0]! : Buffer.concat(idat), {
      maxOutputLength: height * (stride + 1),
    });
  } catch {
    return undefined;
  }
  if (raw.length !== height * (stride + 1)) return undefined;
  // Undo the row filters in place (each row: one filter byte, then `stride` bytes).
  const bpp = inCh;
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    const prev = row - stride - 1; // the previous row's first byte (only read when y > 0)
    const filter = raw[row - 1]!;
    if (filter === 0) continue;
    if (filter === 1) {
      for (let x = bpp; x < stride; x++) raw[row + x] = raw[row + x]! + raw[row + x - bpp]!;
    } else if (filter === 2) {
      if (y > 0) for (let x = 0; x < stride; x++) raw[row + x] = raw[row + x]! + raw[prev + x]!;
    } else if (filter === 3) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? raw[row + x - bpp]! : 0;
        const up = y > 0 ? raw[prev + x]! : 0;
        raw[row + x] = raw[row + x]! + ((a + up) >> 1);
      }
    } else if (filter === 4) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? raw[row + x - bpp]! : 0;
        const up = y > 0 ? raw[prev + x]! : 0;
        const c = x >= bpp && y > 0 ? raw[prev + x - bpp]! : 0;
        const p = a + up - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - c);
        raw[row + x] = raw[row + x]! + (pa <= pb && pa <= pc ? a : pb <= pc ? up : c);
      }
    } else {
      return undefined;
    }
  }
  const outCh: 1 | 3 = colorType === 0 || colorType === 4 ? 1 : 3;
  const out = new Uint8Array(width * height * outCh);
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    const o = y * width * outCh;
    if (inCh === outCh) {
      out.set(raw.subarray(row, row + stride), o);
    } else if (colorType === 3) {
      const pal = palette!;
      for (let x = 0; x < width; x++) {
        const k = raw[row + x]! * 3;
        if (k + 2 >= pal.length) return undefined;
        out[o + x * 3] = pal[k]!;
        out[o + x * 3 + 1] = pal[k + 1]!;
        out[o + x * 3 + 2] = pal[k + 2]!;
      }
    } else {
      // Drop alpha: grey+alpha (2 → 1) or RGBA (4 → 3).
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < outCh; c++) out[o + x * outCh + c] = raw[row + x * inCh + c]!;
      }
    }
  }
  return { data: out, width, height, channels: outCh };
}
