import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  classFolderName,
  DatasetError,
  exportImageFolder,
  fromArrays,
  openDataset,
  openMnist,
} from '@dlf/data';
import { describe, expect, it } from 'vitest';
import { tempDirs, writeMnist } from './helpers.js';

const fresh = tempDirs('dlf-export-');

describe('exportImageFolder', () => {
  it('writes MNIST as data_1/{train,test}/<digit>/*.png that reads back identically', async () => {
    const dir = fresh();
    writeMnist(join(dir, 'mnist'), 20, 10);
    const mnist = openMnist(join(dir, 'mnist'));
    const out = join(dir, 'data_1');
    const r = await exportImageFolder({ train: mnist.train, test: mnist.test }, out);
    expect(r).toEqual({ path: out, files: 30 });
    expect(readdirSync(out).sort()).toEqual(['test', 'train']);
    expect(readdirSync(join(out, 'train')).sort()).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ]);
    expect(readdirSync(join(out, 'train', '3'))).toEqual(['00003.png', '00013.png']);
    // No temporary folder is left next to the output.
    expect(readdirSync(dir).sort()).toEqual(['data_1', 'mnist']);
    const back = await openDataset(out, { size: 28, channels: 1, cache: false });
    expect(back.format).toBe('image-folder');
    expect(back.classes).toEqual(mnist.classes);
    // Read back in class order: sample 3 and 13 (label 3) come after the 0s, 1s and 2s.
    const order = Array.from({ length: 20 }, (_, i) => i).sort((a, b) => (a % 10) - (b % 10) || a - b);
    order.forEach((src, k) => {
      expect(back.train.label(k)).toBe(mnist.train.label(src));
      expect(Buffer.compare(back.train.image(k) as Uint8Array, mnist.train.image(src) as Uint8Array)).toBe(0);
    });
  });

  it('writes RGB images and float data, and sanitises class names', async () => {
    const dir = fresh();
    const rgb = fromArrays(
      Uint8Array.from({ length: 2 * 3 * 4 * 4 }, (_, i) => i * 3),
      Int32Array.of(0, 1),
      [3, 4, 4],
      {
        classes: ['T-shirt/top', 'b'],
      },
    );
    const out = join(dir, 'rgb');
    await exportImageFolder(rgb, out);
    expect(readdirSync(join(out, 'train')).sort()).toEqual(['T-shirt_top', 'b']);
    const back = await openDataset(out, { size: 4, cache: false, testFraction: 0 });
    expect(Buffer.compare(back.train.images as Uint8Array, rgb.images as Uint8Array)).toBe(0);
    const floats = fromArrays(Float32Array.of(0, 0.5, 1, 2), Int32Array.of(0), [1, 2, 2]);
    await exportImageFolder({ train: floats }, join(dir, 'f'));
    const f = await openDataset(join(dir, 'f'), { size: 2, channels: 1, cache: false, testFraction: 0 });
    expect(Array.from(f.train.images)).toEqual([0, 128, 255, 255]);
    expect(classFolderName('..')).toBe('_');
  });

  it('refuses a non-empty output folder unless overwrite is set', async () => {
    const dir = fresh();
    const ds = fromArrays(new Uint8Array(4), Int32Array.of(0), [1, 2, 2]);
    const out = join(dir, 'out');
    await exportImageFolder(ds, out);
    await expect(exportImageFolder(ds, out)).rejects.toBeInstanceOf(DatasetError);
    await expect(exportImageFolder(ds, out)).rejects.toThrow(`${out} already exists and is not empty`);
    await exportImageFolder({ test: ds }, out, { overwrite: true });
    expect(readdirSync(out)).toEqual(['test']);
    expect(existsSync(join(out, 'train'))).toBe(false);
    await expect(
      exportImageFolder(fromArrays(new Uint8Array(2), Int32Array.of(0), [2]), join(dir, 'x')),
    ).rejects.toThrow(/images of shape \[1 or 3, H, W\]/);
  });
});
