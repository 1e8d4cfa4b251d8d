import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeSimplePng } from '../src/png.js';

/** Noise mixed with gradients, so the encoder picks every row filter somewhere. */
function pixels(w: number, h: number, ch: number, seed: number): Buffer {
  const b = Buffer.alloc(w * h * ch);
  let s = seed;
  for (let i = 0; i < b.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const y = Math.floor(i / (w * ch));
    b[i] = y % 3 === 0 ? (s >>> 24) & 0xff : (i * 3 + y * 5) & 0xff;
  }
  return b;
}

async function viaSharp(png: Buffer) {
  return sharp(png).removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
}

describe('decodeSimplePng', () => {
  const cases: [string, (w: number, h: number, seed: number) => Promise<Buffer>][] = [
    [
      'grey',
      (w, h, s) =>
        sharp(pixels(w, h, 1, s), { raw: { width: w, height: h, channels: 1 } })
          .toColourspace('b-w')
          .png()
          .toBuffer(),
    ],
    [
      'rgb',
      (w, h, s) =>
        sharp(pixels(w, h, 3, s), { raw: { width: w, height: h, channels: 3 } })
          .png()
          .toBuffer(),
    ],
    [
      'rgba',
      (w, h, s) =>
        sharp(pixels(w, h, 4, s), { raw: { width: w, height: h, channels: 4 } })
          .png()
          .toBuffer(),
    ],
    [
      'grey+alpha',
      (w, h, s) =>
        sharp(pixels(w, h, 2, s), { raw: { width: w, height: h, channels: 2 } })
          .toColourspace('b-w')
          .png()
          .toBuffer(),
    ],
    [
      'palette',
      (w, h, s) =>
        sharp(pixels(w, h, 3, s), { raw: { width: w, height: h, channels: 3 } })
          .png({ palette: true })
          .toBuffer(),
    ],
    [
      'rgb, no compression, no filter',
      (w, h, s) =>
        sharp(pixels(w, h, 3, s), { raw: { width: w, height: h, channels: 3 } })
          .png({ compressionLevel: 0, adaptiveFiltering: false })
          .toBuffer(),
    ],
  ];
  for (const [name, make] of cases) {
    it(`matches sharp exactly: ${name}`, async () => {
      for (const [w, h, seed] of [
        [1, 1, 1],
        [28, 28, 2],
        [17, 9, 3],
        [64, 40, 4],
      ] as const) {
        const png = await make(w, h, seed);
        const ours = decodeSimplePng(png);
        expect(ours, `${name} ${w}×${h} decoded`).toBeDefined();
        const ref = await viaSharp(png);
        expect([ours!.width, ours!.height]).toEqual([ref.info.width, ref.info.height]);
        // sharp outputs sRGB by default: a grey PNG comes back as three equal channels.
        let expected = ref.data;
        if (ours!.channels === 1 && ref.info.channels === 3) {
          expected = Buffer.from(ref.data.filter((_, i) => i % 3 === 0));
          expect(Buffer.from(ref.data.filter((_, i) => i % 3 === 2)).equals(expected)).toBe(true);
        } else {
          expect(ours!.channels).toBe(ref.info.channels);
        }
        expect(Buffer.compare(Buffer.from(ours!.data), expected), `${name} ${w}×${h}`).toBe(0);
      }
    });
  }

  it('declines what it does not handle, and corrupt files', async () => {
    const rgb = pixels(8, 8, 3, 5);
    const raw = { raw: { width: 8, height: 8, channels: 3 as const } };
    expect(decodeSimplePng(await sharp(rgb, raw).png({ progressive: true }).toBuffer())).toBeUndefined(); // interlaced
    expect(decodeSimplePng(await sharp(rgb, raw).toColourspace('rgb16').png().toBuffer())).toBeUndefined(); // 16-bit
    expect(decodeSimplePng(await sharp(rgb, raw).png({ colours: 4 }).toBuffer())).toBeUndefined(); // 2-bit palette
    const good = await sharp(rgb, raw).png().toBuffer();
    expect(decodeSimplePng(good)).toBeDefined();
    expect(decodeSimplePng(good.subarray(0, good.length - 20))).toBeUndefined(); // truncated
    const flipped = Buffer.from(good);
    flipped[good.length - 30] ^= 0xff; // damaged compressed data
    expect(decodeSimplePng(flipped)).toBeUndefined();
    expect(decodeSimplePng(await sharp(rgb, raw).jpeg().toBuffer())).toBeUndefined();
  });
});
