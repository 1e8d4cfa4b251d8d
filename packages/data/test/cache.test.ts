import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashKey, openDataset, readCache, writeCache } from '@dlf/data';
import { describe, expect, it } from 'vitest';
import { tempDirs, writeImage } from './helpers.js';

const fresh = tempDirs('dlf-cache-');

async function folder(): Promise<string> {
  const dir = fresh();
  await writeImage(join(dir, 'data', 'train', 'a', '0.png'), 1);
  await writeImage(join(dir, 'data', 'train', 'b', '0.png'), 2);
  await writeImage(join(dir, 'data', 'test', 'a', '0.png'), 3);
  await writeImage(join(dir, 'data', 'test', 'b', '0.png'), 4);
  return dir;
}

/** Opens with a decode counter: onProgress is only called when images are decoded. */
async function open(dir: string, extra: object = {}) {
  let decoded = 0;
  const ds = await openDataset(join(dir, 'data'), {
    size: 8,
    cacheDir: join(dir, 'cache'),
    onProgress: () => decoded++,
    ...extra,
  });
  return { ds, decoded };
}

describe('decode cache', () => {
  it('misses, then hits with identical contents', async () => {
    const dir = await folder();
    const first = await open(dir);
    expect(first.ds.cache?.hit).toBe(false);
    expect(first.decoded).toBe(4);
    const second = await open(dir);
    expect(second.ds.cache).toEqual({ file: first.ds.cache!.file, hit: true });
    expect(second.decoded).toBe(0);
    expect(Buffer.compare(second.ds.train.images as Uint8Array, first.ds.train.images as Uint8Array)).toBe(0);
    expect(Array.from(second.ds.test.labels)).toEqual(Array.from(first.ds.test.labels));
    expect(second.ds.classes).toEqual(first.ds.classes);
    // One file in the cache folder, no temporary files left behind.
    expect(readdirSync(join(dir, 'cache'))).toEqual([first.ds.cache!.file.split('/').pop()]);
  });

  it('is invalidated when a file changes, is added or removed', async () => {
    const dir = await folder();
    const img = join(dir, 'data', 'train', 'a', '0.png');
    await open(dir);
    // New content, same name.
    await writeImage(img, 99);
    let r = await open(dir);
    expect(r.ds.cache?.hit).toBe(false);
    expect(r.decoded).toBe(4);
    expect((await open(dir)).ds.cache?.hit).toBe(true);
    // Only the modification time changes.
    const t = new Date(Date.now() + 5000);
    utimesSync(img, t, t);
    expect((await open(dir)).ds.cache?.hit).toBe(false);
    // A new file.
    await writeImage(join(dir, 'data', 'train', 'b', '1.png'), 5);
    r = await open(dir);
    expect(r.ds.cache?.hit).toBe(false);
    expect(r.ds.train.length).toBe(3);
    // Still one cache file: it is replaced, not accumulated.
    expect(readdirSync(join(dir, 'cache'))).toHaveLength(1);
  });

  it('keys on the preprocessing', async () => {
    const dir = await folder();
    const a = await open(dir);
    const b = await open(dir, { size: 4 });
    const c = await open(dir, { channels: 1 });
    expect(b.ds.cache?.hit).toBe(false);
    expect(c.ds.cache?.hit).toBe(false);
    expect(new Set([a.ds.cache!.file, b.ds.cache!.file, c.ds.cache!.file]).size).toBe(3);
    expect(b.ds.train.shape).toEqual([3, 4, 4]);
    expect((await open(dir, { size: 4 })).ds.cache?.hit).toBe(true);
  });

  it('re-reports skipped files on a hit', async () => {
    const dir = await folder();
    const bad = join(dir, 'data', 'train', 'a', 'bad.png');
    writeFileSync(bad, 'junk');
    const warned: string[] = [];
    await open(dir, { onWarning: (_: string, p: string) => warned.push(p) });
    const hit = await open(dir, { onWarning: (_: string, p: string) => warned.push(p) });
    expect(hit.ds.cache?.hit).toBe(true);
    expect(warned).toEqual([bad, bad]);
    await expect(open(dir, { strict: true })).rejects.toThrow(/bad\.png could not be read or decoded/);
  });

  it('treats a damaged cache file as a miss and rewrites it', async () => {
    const dir = await folder();
    const { ds } = await open(dir);
    const file = ds.cache!.file;
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 5));
    const r = await open(dir);
    expect(r.ds.cache?.hit).toBe(false);
    expect(readFileSync(file).length).toBe(bytes.length);
    writeFileSync(file, 'garbage');
    expect((await open(dir)).ds.cache?.hit).toBe(false);
    expect((await open(dir)).ds.cache?.hit).toBe(true);
  });

  it('can be disabled', async () => {
    const dir = await folder();
    const r = await open(dir, { cache: false });
    expect(r.ds.cache).toBeUndefined();
    expect(() => readdirSync(join(dir, 'cache'))).toThrow();
  });

  it('round-trips the file format directly', () => {
    const dir = fresh();
    const file = join(dir, 'sub', 'x.dlfdata');
    const key = hashKey({ a: 1 });
    const labels = Int32Array.of(3, 1, 2);
    const images = Uint8Array.from({ length: 3 * 12 }, (_, i) => i);
    const meta = {
      key,
      count: 3,
      shape: [3, 2, 2],
      classes: ['a', 'b', 'c', 'd'],
      splits: [{ name: 'all', count: 3 }],
      skipped: [],
      source: dir,
    };
    writeCache(file, { meta, labels, images });
    const back = readCache(file, key)!;
    expect(back.meta).toEqual(meta);
    expect(Array.from(back.labels)).toEqual([3, 1, 2]);
    expect(Array.from(back.images)).toEqual(Array.from(images));
    expect(readCache(file, hashKey({ a: 2 }))).toBeUndefined();
    expect(readCache(join(dir, 'none'), key)).toBeUndefined();
    expect(readdirSync(join(dir, 'sub'))).toEqual(['x.dlfdata']);
  });
});
