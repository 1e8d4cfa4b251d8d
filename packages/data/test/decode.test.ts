import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, decodeImages } from '@dlf/data';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { headerSize } from '../src/pixels.js';
import { cleanup, hwc, tempDir, writeImage } from './helpers.js';

const dir = tempDir('dlf-decode-');
afterAll(() => cleanup(dir));

describe('decoding', () => {
  it('reads sizes from PNG, GIF and JPEG headers', async () => {
    for (const ext of ['png', 'gif', 'jpg']) {
      const path = join(dir, `size.${ext}`);
      await writeImage(path, 1, 37, 21);
      expect(headerSize(readFileSync(path))).toEqual({ width: 37, height: 21 });
    }
    await writeImage(join(dir, 'size.webp'), 1, 5, 5);
    expect(headerSize(readFileSync(join(dir, 'size.webp')))).toBeUndefined();
    expect(headerSize(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 1))).toBeUndefined();
    expect(headerSize(new Uint8Array(0))).toBeUndefined();
  });

  it('resizes small images bilinearly in JavaScript, exactly', async () => {
    const path = join(dir, 'ramp.png');
    await sharp(Buffer.from([0, 100]), { raw: { width: 2, height: 1, channels: 1 } })
      .toColourspace('b-w')
      .toFile(path);
    expect(Array.from(await decodeImage(path, { width: 4, height: 1, channels: 1 }))).toEqual([
      0, 25, 75, 100,
    ]);
    // Grey to RGB copies the plane.
    expect(Array.from(await decodeImage(path, { width: 2, height: 1, channels: 3 }))).toEqual([
      0, 100, 0, 100, 0, 100,
    ]);
  });

  it('converts RGB to grey with BT.601 luma and drops alpha', async () => {
    const path = join(dir, 'rgba.png');
    await sharp(Buffer.from([255, 0, 0, 10, 0, 255, 0, 200]), {
      raw: { width: 2, height: 1, channels: 4 },
    }).toFile(path);
    expect(Array.from(await decodeImage(path, { width: 2, height: 1, channels: 1 }))).toEqual([76, 150]);
    expect(Array.from(await decodeImage(path, { width: 2, height: 1, channels: 3 }))).toEqual([
      255, 0, 0, 255, 0, 0,
    ]);
  });

  it('lets sharp resize large images (Lanczos), and honours fit', async () => {
    const path = join(dir, 'big.png');
    await sharp(hwc(3, 100, 50, 3), { raw: { width: 100, height: 50, channels: 3 } }).toFile(path);
    const filled = await decodeImage(path, { width: 10, height: 10, channels: 3 });
    expect(filled.length).toBe(300);
    const { data } = await sharp(path)
      .resize(10, 10, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(filled[0]).toBe(data[0]);
    expect(filled[100]).toBe(data[1]);
    // contain letterboxes with black: the top row is padding.
    const contained = await decodeImage(path, { width: 10, height: 10, channels: 1, fit: 'contain' });
    expect(Array.from(contained.subarray(0, 10))).toEqual(new Array(10).fill(0));
  });

  it('applies EXIF orientation', async () => {
    const path = join(dir, 'rotated.jpg');
    // Stored 4 wide × 2 high, left half black, right half white, with orientation 6: displayed
    // rotated 90° clockwise, 2 wide × 4 high, top half black, bottom half white.
    const px = Buffer.from([0, 0, 255, 255, 0, 0, 255, 255]);
    await sharp(px, { raw: { width: 4, height: 2, channels: 1 } })
      .toColourspace('b-w')
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toFile(path);
    expect((await sharp(path).metadata()).orientation).toBe(6);
    const out = Array.from(await decodeImage(path, { width: 2, height: 4, channels: 1 }));
    expect(Math.max(...out.slice(0, 4))).toBeLessThan(80);
    expect(Math.min(...out.slice(4))).toBeGreaterThan(175);
  });

  it('reports failures by index without stopping', async () => {
    mkdirSync(join(dir, 'mixed'), { recursive: true });
    const good = join(dir, 'mixed', 'good.png');
    await writeImage(good, 2, 8, 8);
    const r = await decodeImages([join(dir, 'mixed', 'missing.png'), good], {
      width: 8,
      height: 8,
      channels: 3,
      concurrency: 1,
    });
    expect(Array.from(r.ok)).toEqual([0, 1]);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.index).toBe(0);
    expect(r.failures[0]!.reason).toMatch(/ENOENT/);
    await expect(decodeImages([], { width: 0, height: 8, channels: 3 })).rejects.toThrow(/width/);
  });
});
