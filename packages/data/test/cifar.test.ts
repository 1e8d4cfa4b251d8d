import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES, openDataset } from '@dlf/data';
import { describe, expect, it } from 'vitest';
import { cifarRecords, errorOf, tempDirs } from './helpers.js';

const fresh = tempDirs('dlf-cifar-');

function cifar10(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'data_batch_1.bin'),
    cifarRecords(3, (i) => [i]),
  );
  writeFileSync(
    join(dir, 'data_batch_2.bin'),
    cifarRecords(2, (i) => [9 - i]),
  );
  writeFileSync(
    join(dir, 'test_batch.bin'),
    cifarRecords(2, (i) => [i + 4]),
  );
}

function cifar100(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'train.bin'),
    cifarRecords(4, (i) => [i, 50 + i]),
  );
  writeFileSync(
    join(dir, 'test.bin'),
    cifarRecords(2, (i) => [19 - i, 99 - i]),
  );
}

describe('CIFAR binary', () => {
  it('reads CIFAR-10 batches in order, channel-major', async () => {
    const dir = fresh();
    cifar10(dir);
    const ds = await openDataset(dir);
    expect(ds.format).toBe('cifar10');
    expect(ds.classes).toEqual(CIFAR10_CLASSES);
    expect(ds.train.length).toBe(5);
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 2, 9, 8]);
    expect(Array.from(ds.test.labels)).toEqual([4, 5]);
    expect(ds.train.shape).toEqual([3, 32, 32]);
    // Record 1 of batch 1: pixel p is (1 + p) % 256; the first G value is pixel 1024.
    expect(ds.train.image(1)[1024]).toBe((1 + 1024) % 256);
  });

  it('reads class names from batches.meta.txt', async () => {
    const dir = fresh();
    cifar10(dir);
    writeFileSync(join(dir, 'batches.meta.txt'), `${'abcdefghij'.split('').join('\n')}\n\n`);
    expect((await openDataset(dir)).classes).toEqual('abcdefghij'.split(''));
  });

  it('enters the folder an archive extracts to', async () => {
    const dir = fresh();
    cifar10(join(dir, 'cifar-10-batches-bin'));
    const ds = await openDataset(dir);
    expect(ds.path).toBe(join(dir, 'cifar-10-batches-bin'));
  });

  it('reads CIFAR-100 fine and coarse labels', async () => {
    const dir = fresh();
    cifar100(dir);
    const fine = await openDataset(dir);
    expect(fine.format).toBe('cifar100');
    expect(fine.classes).toEqual(CIFAR100_FINE_CLASSES);
    expect(fine.classes).toHaveLength(100);
    expect(Array.from(fine.train.labels)).toEqual([50, 51, 52, 53]);
    expect(Array.from(fine.test.labels)).toEqual([99, 98]);
    expect(fine.train.image(2)[0]).toBe(2);
    const coarse = await openDataset(dir, { cifarLabels: 'coarse' });
    expect(coarse.classes).toEqual(CIFAR100_COARSE_CLASSES);
    expect(coarse.classes).toHaveLength(20);
    expect(Array.from(coarse.train.labels)).toEqual([0, 1, 2, 3]);
    expect(Array.from(coarse.test.labels)).toEqual([19, 18]);
  });

  it('rejects truncated files, naming them', async () => {
    const dir = fresh();
    cifar10(dir);
    const path = join(dir, 'data_batch_2.bin');
    writeFileSync(path, cifarRecords(2, (i) => [i]).subarray(0, 3073 + 100));
    const e = await errorOf(openDataset(dir));
    expect(e.code).toBe('TRUNCATED');
    expect(e.path).toBe(path);
    expect(e.message).toBe(
      `${path} is truncated or not a CIFAR-10 batch: 3,173 bytes is not a positive multiple of the 3,073-byte record.`,
    );
    const dir100 = fresh();
    cifar100(dir100);
    writeFileSync(join(dir100, 'test.bin'), Buffer.alloc(0));
    expect((await errorOf(openDataset(dir100))).message).toMatch(
      /test\.bin is truncated or not a CIFAR-100 batch/,
    );
  });

  it('rejects out-of-range labels and missing files', async () => {
    const dir = fresh();
    cifar10(dir);
    writeFileSync(
      join(dir, 'test_batch.bin'),
      cifarRecords(1, () => [10]),
    );
    const e = await errorOf(openDataset(dir));
    expect(e.code).toBe('BAD_LABEL');
    expect(e.message).toMatch(/test_batch\.bin has label 10 in record 0/);
    const dir100 = fresh();
    cifar100(dir100);
    // A CIFAR-10-sized record read as CIFAR-100: the coarse byte is out of range even when fine is used.
    writeFileSync(
      join(dir100, 'train.bin'),
      cifarRecords(1, () => [25, 3]),
    );
    expect((await errorOf(openDataset(dir100))).message).toMatch(
      /label 25 in record 0, outside the 20 classes/,
    );
    const lone = fresh();
    writeFileSync(
      join(lone, 'train.bin'),
      cifarRecords(1, () => [0, 0]),
    );
    expect((await errorOf(openDataset(lone))).message).toMatch(/test\.bin is missing/);
  });
});
