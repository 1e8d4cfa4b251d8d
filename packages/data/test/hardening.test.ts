/**
 * Issue 16, cases 4 and 7 (data): resource bombs and untrusted files are refused from their
 * headers, within a memory and time budget, with a message naming the file.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImages, openDataset, readIdx, scanImageFolder } from '@dlf/data';
import { describe, expect, it } from 'vitest';
import { errorOf, tempDirs, writeImage } from './helpers.js';
import { gzipWithZeros, idxHeader, peakRss, pngWith, zeroZlib } from './hostile.js';

const newDir = tempDirs('dlf-hostile-');
const MEMORY_BUDGET = 512 * 1024 * 1024;

/** Runs `fn`, then checks that it took under `seconds` and raised the peak RSS by under the budget. */
async function withinBudget<T>(fn: () => Promise<T> | T, seconds = 5): Promise<T> {
  const peak = peakRss();
  const t = performance.now();
  const out = await fn();
  expect((performance.now() - t) / 1000).toBeLessThan(seconds);
  expect(peakRss() - peak).toBeLessThan(MEMORY_BUDGET);
  return out;
}

async function classFolder(root: string, cls: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await writeImage(join(root, cls, `${i}.png`), i, 8, 8, 3);
}

const noCache = { cache: false, size: 8 } as const;

describe('image bombs are refused from the header', () => {
  it('a 426-byte PNG announcing 4194304×63 pixels is skipped before any pixel is allocated', async () => {
    const dir = newDir();
    const bomb = pngWith(4194304, 63, zeroZlib(1));
    expect(bomb.length).toBeLessThan(2048);
    const file = join(dir, 'bomb.png');
    writeFileSync(file, bomb);
    const r = await withinBudget(() => decodeImages([file], { width: 8, height: 8, channels: 3 }));
    expect(r.ok[0]).toBe(0);
    expect(r.failures[0]!.reason).toMatch(/4,194,304×63 pixels, more than the 40,000,000-pixel budget/);
  });

  it('an IDAT that inflates to 256 MiB behind a 16×16 header stops at the header size', async () => {
    const dir = newDir();
    const file = join(dir, 'deep.png');
    writeFileSync(file, pngWith(16, 16, zeroZlib(256)));
    const r = await withinBudget(() => decodeImages([file], { width: 8, height: 8, channels: 1 }));
    // Either rejected or decoded to the 16×16 the header announces; never 256 MiB of pixels.
    expect(r.images.length).toBe(64);
  });

  it('the pixel budget can be raised', async () => {
    const dir = newDir();
    const file = join(dir, 'big.png');
    await writeImage(file, 1, 64, 64, 3);
    const small = await decodeImages([file], { width: 8, height: 8, channels: 3, maxPixels: 1000 });
    expect(small.failures[0]!.reason).toMatch(/64×64 pixels, more than the 1,000-pixel budget/);
    const raised = await decodeImages([file], { width: 8, height: 8, channels: 3, maxPixels: 4096 });
    expect(raised.failures).toEqual([]);
  });
});

describe('gzipped idx files inflate no further than their header announces', () => {
  it('a 1 MB gzip that would inflate to 512 MiB stops at the announced 60000×28×28', async () => {
    const dir = newDir();
    const file = join(dir, 'train-images-idx3-ubyte.gz');
    writeFileSync(file, gzipWithZeros(idxHeader([60000, 28, 28]), 512));
    expect(readFileSync(file).length).toBeLessThan(1 << 20);
    const e = await withinBudget(() => errorOf(() => readIdx(file, 3)));
    expect(e.code).toBe('MISMATCH');
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/decompresses to more than the 47,040,016 bytes its header announces/);
  });

  it('a header announcing more than the budget is refused before inflating', async () => {
    const dir = newDir();
    const file = join(dir, 'train-images-idx3-ubyte.gz');
    writeFileSync(file, gzipWithZeros(idxHeader([4000000, 280, 280]), 1));
    const e = await withinBudget(() => errorOf(() => readIdx(file, 3)));
    expect(e.code).toBe('TOO_LARGE');
    expect(e.message).toContain(file);
  });
});

describe('only regular files are read; folder loops are broken', () => {
  it('a FIFO and a link to /dev/zero named as images are skipped with a warning, not read', async () => {
    const dir = newDir();
    await classFolder(dir, 'a', 3);
    await classFolder(dir, 'b', 3);
    const fifo = join(dir, 'a', 'x.png');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    symlinkSync('/dev/zero', join(dir, 'b', 'zero.png'));
    const warnings: string[] = [];
    const ds = await withinBudget(() => openDataset(dir, { ...noCache, onWarning: (m) => warnings.push(m) }));
    expect(ds.train.length + ds.test.length).toBe(6);
    expect(warnings.some((w) => w.includes(fifo) && /named pipe \(FIFO\)/.test(w))).toBe(true);
    expect(warnings.some((w) => w.includes('zero.png') && /a device/.test(w))).toBe(true);
    expect(ds.skipped).toEqual(expect.arrayContaining([fifo, join(dir, 'b', 'zero.png')]));
  });

  it('self and parent links load each image once, under its own class', async () => {
    const dir = newDir();
    await classFolder(dir, 'a', 4);
    await classFolder(dir, 'b', 2);
    symlinkSync('.', join(dir, 'b', 'self'));
    symlinkSync('..', join(dir, 'a', 'up'));
    symlinkSync('loop.png', join(dir, 'a', 'loop.png')); // ELOOP
    const warnings: string[] = [];
    const scan = await withinBudget(() => scanImageFolder(dir));
    expect(scan.files.map((f) => f.rel).sort()).toEqual(
      ['a/0.png', 'a/1.png', 'a/2.png', 'a/3.png', 'b/0.png', 'b/1.png'].map((p) => p.replace('/', '/')),
    );
    expect(scan.skipped.map((s) => s.path).sort()).toEqual(
      [join(dir, 'a', 'loop.png'), join(dir, 'a', 'up'), join(dir, 'b', 'self')].sort(),
    );
    const ds = await openDataset(dir, { ...noCache, onWarning: (m) => warnings.push(m) });
    expect(ds.train.length + ds.test.length).toBe(6);
    expect(warnings.some((w) => w.includes(join(dir, 'a', 'loop.png')) && /ELOOP/.test(w))).toBe(true);
  });

  it('a chain of folder links does not make the scan exponential', async () => {
    const dir = newDir();
    await classFolder(dir, 'a', 1);
    await classFolder(dir, 'b', 1);
    // Each level links twice to the level above: without loop breaking this is 2^20 walks.
    let d = join(dir, 'a');
    for (let i = 0; i < 20; i++) {
      const next = join(d, `l${i}`);
      mkdirSync(next);
      symlinkSync('..', join(next, 'x'));
      symlinkSync('..', join(next, 'y'));
      d = next;
    }
    const scan = await withinBudget(() => scanImageFolder(dir), 3);
    expect(scan.files.length).toBe(2);
    expect(readdirSync(join(dir, 'a'))).toContain('l0');
  });
});

describe('the decode cache is checked before use', () => {
  it('a cache with a label past the classes is rebuilt with a warning', async () => {
    const dir = newDir();
    const cacheDir = newDir();
    await classFolder(dir, 'a', 3);
    await classFolder(dir, 'b', 3);
    const opts = { size: 8, cacheDir } as const;
    const first = await openDataset(dir, opts);
    expect(first.cache?.hit).toBe(false);
    const file = first.cache!.file;
    const bytes = readFileSync(file);
    const hlen = bytes.readUInt32LE(12);
    bytes.writeInt32LE(7, 16 + hlen); // the first label: 7 of 2 classes
    writeFileSync(file, bytes);
    const warnings: string[] = [];
    const second = await openDataset(dir, { ...opts, onWarning: (m) => warnings.push(m) });
    expect(second.cache?.hit).toBe(false);
    expect(warnings.join('\n')).toMatch(/decode cache .* is damaged \(label 7 of sample 0/);
    const third = await openDataset(dir, opts);
    expect(third.cache?.hit).toBe(true);
    expect([...third.train.labels, ...third.test.labels].every((l) => l === 0 || l === 1)).toBe(true);
  });

  it('a crafted header with a negative count allocates nothing and is rebuilt', async () => {
    const dir = newDir();
    const cacheDir = newDir();
    await classFolder(dir, 'a', 2);
    await classFolder(dir, 'b', 2);
    const first = await openDataset(dir, { size: 8, cacheDir });
    const file = first.cache!.file;
    const bytes = readFileSync(file);
    const hlen = bytes.readUInt32LE(12);
    const meta = JSON.parse(bytes.subarray(16, 16 + hlen).toString('utf8'));
    meta.count = -2e9;
    meta.source = ''; // keeps the header within its length
    const json = Buffer.alloc(hlen, 0x20);
    json.write(JSON.stringify(meta));
    json.copy(bytes, 16);
    writeFileSync(file, bytes);
    const warnings: string[] = [];
    const again = await withinBudget(() =>
      openDataset(dir, { size: 8, cacheDir, onWarning: (m) => warnings.push(m) }),
    );
    expect(again.cache?.hit).toBe(false);
    expect(warnings.join('\n')).toMatch(/is damaged \(its sample count -2000000000 is not a count\)/);
  });
});
