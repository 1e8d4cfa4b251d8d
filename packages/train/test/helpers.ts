import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromArrays, normalize } from '@dlf/data';
import { BatchNorm2d, Conv2d, Flatten, Linear, ReLU, Sequential } from '@dlf/nn';
import { Generator, randint } from '@dlf/tensor-core';
import sharp from 'sharp';

/** A fresh temporary folder. */
export function tempDir(prefix = 'dlf-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A temp folder (decode cache inside) with the shapes image folder (24 train and 6 test images per
 * class) and `graph` written as a model description: what the trainer tests of graph models share.
 */
export async function graphFixture(
  prefix: string,
  graph: object,
): Promise<{ dir: string; data: string; model: string }> {
  const dir = tempDir(prefix);
  isolateCache(dir);
  const data = await makeShapes(join(dir, 'shapes'), { train: 24, test: 6 });
  const model = join(dir, 'model.json');
  writeFileSync(model, JSON.stringify(graph));
  return { dir, data, model };
}

/** Keeps the decode cache of image folders inside the test's temp folder. */
export function isolateCache(dir: string): void {
  process.env.DLF_CACHE_DIR = join(dir, '.cache');
}

export const SHAPES = ['circle', 'cross', 'square'] as const;

/**
 * Writes a small, learnable image folder: train/<class>/*.png and test/<class>/*.png, three classes
 * of 16×16 RGB shapes with seeded noise.
 */
export async function makeShapes(
  root: string,
  options: { train?: number; test?: number; size?: number } = {},
): Promise<string> {
  const size = options.size ?? 16;
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const c = size / 2;
  for (const [split, n] of [
    ['train', options.train ?? 20],
    ['test', options.test ?? 6],
  ] as const) {
    for (const [k, cls] of SHAPES.entries()) {
      mkdirSync(join(root, split, cls), { recursive: true });
      for (let i = 0; i < n; i++) {
        const px = Buffer.alloc(size * size * 3);
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            let on = false;
            if (k === 0) on = (x - c) ** 2 + (y - c) ** 2 < (size * size) / 9;
            if (k === 1) on = Math.abs(x - y) < 2 || Math.abs(x + y - size + 1) < 2;
            if (k === 2) on = x > size / 4 && x < (3 * size) / 4 && y > size / 4 && y < (3 * size) / 4;
            const v = (on ? 190 : 30) + Math.floor(rnd() * 60);
            px[(y * size + x) * 3] = v;
            px[(y * size + x) * 3 + 1] = (v * 3) % 256;
            px[(y * size + x) * 3 + 2] = 255 - v;
          }
        }
        await sharp(px, { raw: { width: size, height: size, channels: 3 } })
          .png()
          .toFile(join(root, split, cls, `${String(i).padStart(3, '0')}.png`));
      }
    }
  }
  return root;
}

/** A tiny Sequential for 3×16×16 input and 3 classes (with dropout, so the generator matters). */
export const TINY_MODEL = {
  format: 'dlf.sequential',
  version: 1,
  layers: [
    { type: 'Conv2d', inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1 },
    { type: 'ReLU' },
    { type: 'MaxPool2d', kernelSize: 2 },
    { type: 'Flatten' },
    { type: 'Dropout', p: 0.2 },
    { type: 'Linear', inFeatures: 256, outFeatures: 3 },
  ],
};

/**
 * {@link TINY_MODEL} with a batch norm after its convolution (running statistics to average), written
 * to `dir/tiny-bn.json`.
 */
export function writeTinyBnModel(dir: string): string {
  const p = join(dir, 'tiny-bn.json');
  const layers = [...TINY_MODEL.layers];
  layers.splice(1, 0, { type: 'BatchNorm2d', numFeatures: 4 } as never);
  writeFileSync(p, JSON.stringify({ ...TINY_MODEL, layers }));
  return p;
}

/** For {@link toyData}: conv, batch norm (running statistics to average), ReLU, a linear classifier. */
export function bnNet(): Sequential {
  const g = new Generator(3);
  return new Sequential(
    new Conv2d(1, 3, 3, { padding: 1, generator: g }),
    new BatchNorm2d(3),
    new ReLU(),
    new Flatten(),
    new Linear(192, 2, { generator: g }),
  );
}

export function writeTinyModel(dir: string): string {
  const p = join(dir, 'tiny.json');
  writeFileSync(p, JSON.stringify(TINY_MODEL));
  return p;
}

/** Training options that abort a run once batch `batch` of epoch `epoch` (both 1-based) is done. */
export function abortAt(
  epoch: number,
  batch: number,
): { signal: AbortSignal; onEvent: (e: { type: string; epoch?: number; batch?: number }) => void } {
  const ac = new AbortController();
  return {
    signal: ac.signal,
    onEvent: (e) => {
      if (e.type === 'batch' && e.epoch === epoch && e.batch === batch) ac.abort();
    },
  };
}

/** `n` 1×8×8 images of two classes: class 1 lights the top half, class 0 the bottom, over noise. */
export function toyData(n: number, seed = 1) {
  const x = randint([n, 1, 8, 8], 0, 256, { generator: new Generator(seed) }).toTypedArray();
  const labels = new Int32Array(n);
  const images = new Uint8Array(n * 64);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let p = 0; p < 64; p++) {
      const lit = labels[i] ? p < 32 : p >= 32;
      images[i * 64 + p] = Math.min(255, Number(x[i * 64 + p]) / 2 + (lit ? 120 : 0));
    }
  }
  return fromArrays(images, labels, [1, 8, 8], { classes: ['top', 'bottom'] });
}

/** fit() settings for {@link toyData}: plain SGD with momentum, the same normalisation for both. */
export const TOY_TRAINING = {
  optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0 },
  transforms: [normalize(0.3, 0.3)],
  evalTransforms: [normalize(0.3, 0.3)],
} as const;

/** Parses JSON Lines. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** True when a file starts with the PNG signature. */
export function isPng(path: string): boolean {
  const b = readFileSync(path);
  return (
    b.length > 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  );
}
