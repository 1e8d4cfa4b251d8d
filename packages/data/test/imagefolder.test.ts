import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDataset, scanImageFolder, testCount } from '@dlf/data';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { errorOf, pixel, tempDirs, writeImage } from './helpers.js';

const fresh = tempDirs('dlf-imgf-');

const noCache = { cache: false } as const;

describe('image folders', () => {
  it('reads train/ and test/ folders of class folders, classes sorted, pixels channel-major', async () => {
    const dir = fresh();
    await writeImage(join(dir, 'train', 'dog', 'a.png'), 1);
    await writeImage(join(dir, 'train', 'cat', 'b.png'), 2);
    await writeImage(join(dir, 'train', 'cat', 'a.png'), 3);
    await writeImage(join(dir, 'test', 'dog', 'x.png'), 4);
    await writeImage(join(dir, 'test', 'cat', 'y.png'), 5);
    const ds = await openDataset(dir, { size: 8, ...noCache });
    expect(ds.format).toBe('image-folder');
    expect(ds.layout).toBe('splits');
    expect(ds.classes).toEqual(['cat', 'dog']);
    expect(ds.train.length).toBe(3);
    expect(ds.test.length).toBe(2);
    expect(ds.split).toBeUndefined();
    // Order: class, then file name: cat/a (seed 3), cat/b (seed 2), dog/a (seed 1).
    expect(Array.from(ds.train.labels)).toEqual([0, 0, 1]);
    const img = ds.train.image(0);
    expect(ds.train.shape).toEqual([3, 8, 8]);
    // PNG is lossless and no resize happens at 8×8: exact pixels, R plane then G then B.
    expect(img[0]).toBe(pixel(3, 0, 0, 0));
    expect(img[1]).toBe(pixel(3, 0, 0, 1));
    expect(img[8]).toBe(pixel(3, 0, 1, 0));
    expect(img[64]).toBe(pixel(3, 1, 0, 0));
    expect(img[128 + 9]).toBe(pixel(3, 2, 1, 1));
  });

  it('reads any format sharp decodes, resizes, and converts to grey', async () => {
    const dir = fresh();
    const formats = ['png', 'jpg', 'webp', 'gif', 'tiff'];
    for (const [i, f] of formats.entries()) await writeImage(join(dir, 'train', 'a', `${i}.${f}`), i, 16, 12);
    await writeImage(join(dir, 'train', 'b', 'grey.png'), 9, 10, 10, 1);
    await writeImage(join(dir, 'train', 'b', 'alpha.png'), 9, 10, 10, 4);
    await writeImage(join(dir, 'test', 'a', 'x.jpeg'), 1);
    await writeImage(join(dir, 'test', 'b', 'y.PNG'), 1);
    const warnings: string[] = [];
    const rgb = await openDataset(dir, { ...noCache, onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(rgb.train.length).toBe(7);
    expect(rgb.train.shape).toEqual([3, 32, 32]);
    const grey = await openDataset(dir, { ...noCache, size: [6, 4], channels: 1 });
    expect(grey.train.shape).toEqual([1, 6, 4]);
    // A grey source read as RGB has three equal planes.
    const g = rgb.train.image(6); // b/alpha.png is 5, b/grey.png is 6
    expect(g.subarray(0, 1024)).toEqual(g.subarray(1024, 2048));
  });

  it('splits a folder of class folders: seeded, stratified, reproducible', async () => {
    const dir = fresh();
    const sizes = { ant: 10, bee: 5, cow: 2 };
    for (const [cls, n] of Object.entries(sizes)) {
      for (let i = 0; i < n; i++) await writeImage(join(dir, cls, `${i}.png`), i, 4, 4);
    }
    const a = await openDataset(dir, { ...noCache, size: 4, seed: 1 });
    expect(a.layout).toBe('classes');
    expect(a.split).toEqual({ seed: 1, testFraction: 0.2 });
    expect(a.test.classCounts()).toEqual([2, 1, 1]);
    expect(a.train.classCounts()).toEqual([8, 4, 1]);
    expect(testCount(10, 0.2)).toBe(2);
    const again = await openDataset(dir, { ...noCache, size: 4, seed: 1 });
    expect(Buffer.compare(again.test.images as Uint8Array, a.test.images as Uint8Array)).toBe(0);
    const other = await openDataset(dir, { ...noCache, size: 4, seed: 2 });
    expect(Buffer.compare(other.test.images as Uint8Array, a.test.images as Uint8Array)).not.toBe(0);
    const half = await openDataset(dir, { ...noCache, size: 4, testFraction: 0.5 });
    expect(half.test.classCounts()).toEqual([5, 3, 1]); // Math.round(2.5) is 3
  });

  it('keeps stratified proportions on a larger split', async () => {
    const { stratifiedSplit, fromArrays } = await import('@dlf/data');
    const n = 1000;
    const labels = Int32Array.from({ length: n }, (_, i) => (i < 600 ? 0 : i < 900 ? 1 : 2));
    const ds = fromArrays(
      Uint8Array.from({ length: n }, (_, i) => i % 256),
      labels,
      [1],
    );
    const { train, test } = stratifiedSplit(ds, 0.25, 7);
    expect(test.classCounts()).toEqual([150, 75, 25]);
    expect(train.classCounts()).toEqual([450, 225, 75]);
    // No sample on both sides: train + test hold each sample exactly once.
    const seen = new Set([...train.images, ...test.images].map((v, i) => `${v}:${i}`));
    expect(train.length + test.length).toBe(n);
    expect(seen.size).toBe(n);
  });

  it('uses val/ as the test split when there is no test/', async () => {
    const dir = fresh();
    await writeImage(join(dir, 'train', 'a', '0.png'), 1);
    await writeImage(join(dir, 'train', 'b', '0.png'), 2);
    await writeImage(join(dir, 'val', 'a', '0.png'), 3);
    const ds = await openDataset(dir, { ...noCache, size: 8 });
    expect(ds.val).toBeDefined();
    expect(ds.test).toBe(ds.val);
    expect(ds.classes).toEqual(['a', 'b']);
  });

  it('ignores hidden entries and non-image files, and enters a wrapper folder', async () => {
    const dir = fresh();
    const root = join(dir, 'pets');
    await writeImage(join(root, 'cat', '0.png'), 1);
    await writeImage(join(root, 'cat', 'nested', '1.png'), 2);
    await writeImage(join(root, 'dog', '0.png'), 3);
    await writeImage(join(root, 'dog', '1.png'), 4);
    await writeImage(join(root, '.hidden', '0.png'), 5);
    writeFileSync(join(root, 'cat', 'notes.txt'), 'hello');
    writeFileSync(join(root, 'README.md'), 'hello');
    const ds = await openDataset(dir, { ...noCache, size: 8 });
    expect(ds.path).toBe(root);
    expect(ds.classes).toEqual(['cat', 'dog']);
    expect(ds.train.length + ds.test.length).toBe(4);
  });

  it('skips a corrupt or unreadable image with a warning naming it; strict mode throws', async () => {
    const dir = fresh();
    await writeImage(join(dir, 'train', 'a', '0.png'), 1);
    await writeImage(join(dir, 'train', 'a', '1.png'), 2);
    await writeImage(join(dir, 'train', 'b', '0.png'), 3);
    await writeImage(join(dir, 'test', 'a', '0.png'), 4);
    await writeImage(join(dir, 'test', 'b', '0.png'), 5);
    const bad = join(dir, 'train', 'a', '2.jpg');
    writeFileSync(bad, Buffer.from('this is not a jpeg'));
    const good = await sharp(Buffer.alloc(64 * 3, 7), { raw: { width: 8, height: 8, channels: 3 } })
      .jpeg()
      .toBuffer();
    const cut = join(dir, 'train', 'b', '1.jpg');
    writeFileSync(cut, good.subarray(0, good.length >> 1));
    const locked = join(dir, 'train', 'b', '2.png');
    await writeImage(locked, 6);
    chmodSync(locked, 0o000);
    const canLock = process.getuid?.() !== 0; // root reads anything
    const warnings: [string, string][] = [];
    const ds = await openDataset(dir, { ...noCache, size: 8, onWarning: (m, p) => warnings.push([m, p]) });
    const paths = warnings.map((w) => w[1]).sort();
    expect(paths).toEqual(canLock ? [bad, cut, locked].sort() : [bad, cut].sort());
    for (const [m, p] of warnings) expect(m).toContain(`Skipped ${p}: it could not be read or decoded`);
    expect(ds.skipped.sort()).toEqual(paths);
    expect(ds.train.length).toBe(canLock ? 3 : 4);
    expect(Array.from(ds.train.labels)).toEqual(canLock ? [0, 0, 1] : [0, 0, 1, 1]);
    const e = await errorOf(openDataset(dir, { ...noCache, size: 8, strict: true }));
    expect(e.code).toBe('CORRUPT_IMAGE');
    expect(e.path).toBe(bad);
    expect(e.message).toMatch(/2\.jpg could not be read or decoded .*strict mode stops here/);
    chmodSync(locked, 0o644);
  });

  it('reports a class whose every image is corrupt', async () => {
    const dir = fresh();
    await writeImage(join(dir, 'a', '0.png'), 1);
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'b', '0.png'), 'junk');
    const e = await errorOf(openDataset(dir, { ...noCache, onWarning: () => {} }));
    expect(e.code).toBe('EMPTY_CLASS');
    expect(e.path).toBe(join(dir, 'b'));
  });

  it('rejects an empty class folder, naming it', async () => {
    const dir = fresh();
    await writeImage(join(dir, 'train', 'a', '0.png'), 1);
    mkdirSync(join(dir, 'train', 'b'));
    writeFileSync(join(dir, 'train', 'b', 'notes.txt'), 'no images here');
    await writeImage(join(dir, 'test', 'a', '0.png'), 1);
    const e = await errorOf(openDataset(dir, noCache));
    expect(e.code).toBe('EMPTY_CLASS');
    expect(e.path).toBe(join(dir, 'train', 'b'));
    expect(e.message).toBe(
      `The class folder ${join(dir, 'train', 'b')} holds no images; remove it or add images.`,
    );
  });

  it('rejects folders with no images and unknown layouts, naming the path', async () => {
    const empty = fresh();
    let e = await errorOf(openDataset(empty));
    expect(e.code).toBe('NO_IMAGES');
    expect(e.message).toBe(`${empty} is empty: it holds no images.`);

    const noImages = fresh();
    mkdirSync(join(noImages, 'a'));
    mkdirSync(join(noImages, 'b'));
    writeFileSync(join(noImages, 'a', 'x.txt'), '');
    e = await errorOf(openDataset(noImages));
    expect(e.code).toBe('NO_IMAGES');
    expect(e.path).toBe(noImages);

    const flat = fresh();
    await writeImage(join(flat, '0.png'), 1);
    e = await errorOf(openDataset(flat));
    expect(e.code).toBe('UNKNOWN_LAYOUT');
    expect(e.message).toMatch(/holds 1 images but no <class>\/ folders/);

    const junk = fresh();
    writeFileSync(join(junk, 'data.csv'), '1,2,3');
    e = await errorOf(openDataset(junk));
    expect(e.code).toBe('UNKNOWN_LAYOUT');
    expect(e.message).toContain(junk);

    const testOnly = fresh();
    await writeImage(join(testOnly, 'test', 'a', '0.png'), 1);
    e = await errorOf(openDataset(testOnly));
    expect(e.message).toMatch(/has test\/ but no train\/ folder/);

    e = await errorOf(openDataset(join(junk, 'missing')));
    expect(e.code).toBe('NOT_FOUND');
    e = await errorOf(openDataset(join(junk, 'data.csv')));
    expect(e.code).toBe('NOT_A_FOLDER');
  });

  it('scans without decoding', async () => {
    const dir = fresh();
    await writeImage(join(dir, 'train', 'x', '0.png'), 1);
    await writeImage(join(dir, 'test', 'x', '0.png'), 1);
    const scan = scanImageFolder(dir);
    expect(scan.splits).toEqual(['train', 'test']);
    expect(scan.files.map((f) => f.rel)).toEqual([join('train', 'x', '0.png'), join('test', 'x', '0.png')]);
    expect(scan.files[0]!.size).toBeGreaterThan(0);
  });

  it('validates options', async () => {
    await expect(openDataset('.', { size: 0 })).rejects.toThrow(
      /Expected an integer in \[1, 65535\] for size but received 0/,
    );
    await expect(openDataset('.', { channels: 2 as 3 })).rejects.toThrow(/channels/);
    await expect(openDataset('.', { testFraction: 2 })).rejects.toThrow(/testFraction/);
  });
});
