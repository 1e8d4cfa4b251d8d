/**
 * Issue 16: setting up an image folder (scan, decode, cache) leaves the event loop free. A server
 * that opens a dataset keeps answering: a 1 ms ticker never waits long. The scan on libuv's threads
 * finds exactly what the synchronous scan finds, in the same order, with the same entries skipped.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataset, scanImageFolder, scanImageFolderAsync } from '@dlf/data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const sharp = createRequire(import.meta.url)('sharp') as typeof import('sharp');

const CLASSES = 4;
const FOLDERS = 10; // nested folders per class
const PER_FOLDER = 75; // 4 × 10 × 75 = 3,000 images
let root: string, cacheDir: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'dlf-event-loop-'));
  cacheDir = join(root, 'cache');
  const data = join(root, 'data');
  const png = (v: number) =>
    sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: 255 - v, b: 7 } } })
      .png()
      .toBuffer();
  const images = await Promise.all(Array.from({ length: CLASSES }, (_, c) => png(40 * c)));
  for (let c = 0; c < CLASSES; c++) {
    for (let f = 0; f < FOLDERS; f++) {
      const folder = join(data, `class-${c}`, `part-${f}`);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < PER_FOLDER; i++) writeFileSync(join(folder, `${i}.png`), images[c]!);
    }
  }
  // What the scan must pass over: a folder loop, a link to another class, a FIFO with an image name.
  symlinkSync('.', join(data, 'class-0', 'part-0', 'self'));
  symlinkSync(join(data, 'class-1'), join(data, 'class-2', 'other'));
  execFileSync('mkfifo', [join(data, 'class-3', 'pipe.png')]);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The longest the event loop went without running a 1 ms ticker while `work` ran, in ms. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const tick = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  };
  const ticker = setInterval(tick, 1);
  try {
    await work();
  } finally {
    clearInterval(ticker);
    tick();
  }
  return longest;
}

describe('dataset set-up and the event loop', () => {
  it('the scan off the main thread finds the same files in the same order, and skips the same entries', async () => {
    const data = join(root, 'data');
    const sync = scanImageFolder(data);
    const async = await scanImageFolderAsync(data);
    expect(async).toEqual(sync);
    expect(sync.files).toHaveLength(CLASSES * FOLDERS * PER_FOLDER);
    expect(sync.skipped.map((s) => s.path.slice(data.length))).toEqual([
      '/class-0/part-0/self',
      '/class-2/other',
      '/class-3/pipe.png',
    ]);
  });

  it('opening 3,000 images (scan, decode, cache write) never stalls the event loop for 200 ms', async () => {
    const open = () => openDataset(join(root, 'data'), { size: 8, cacheDir, seed: 0, onWarning: () => {} });
    let cold: Awaited<ReturnType<typeof open>> | undefined;
    const decoding = await longestStall(async () => {
      cold = await open();
    });
    expect(cold!.cache?.hit).toBe(false);
    expect(cold!.train.length + cold!.test.length).toBe(CLASSES * FOLDERS * PER_FOLDER);
    expect(decoding).toBeLessThan(200);

    let warm: Awaited<ReturnType<typeof open>> | undefined;
    const fromCache = await longestStall(async () => {
      warm = await open();
    });
    expect(warm!.cache?.hit).toBe(true);
    expect(fromCache).toBeLessThan(200);
    // The same data either way (bit-exact: the order of files decides the split and the labels).
    expect(Buffer.from(warm!.train.images).equals(Buffer.from(cold!.train.images))).toBe(true);
    expect(Array.from(warm!.test.labels)).toEqual(Array.from(cold!.test.labels));
  });
});
