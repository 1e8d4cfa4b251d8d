import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkInt, invalidParam, replaceDirAtomic } from '@dlf/tensor-core';
import sharp from 'sharp';
import { Dataset } from './dataset.js';
import { DatasetError } from './errors.js';

/**
 * Options for {@link exportImageFolder}.
 *
 * @example
 * ```ts
 * await exportImageFolder(ds, 'out', { overwrite: true, onProgress: (d, n) => console.log(d, n) });
 * ```
 */
export interface ExportOptions {
  /** Replace an existing, non-empty output folder (default false: refuse). */
  overwrite?: boolean;
  /** Encodes in flight at once (default 8). */
  concurrency?: number;
  /** Called after each image with the number written and the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * A folder name for a class: characters that are not allowed in file names (`/ \ : * ? " < > |`
 * and control characters) become `_`; `.` and `..` become `_`.
 *
 * @example
 * ```ts
 * classFolderName('T-shirt/top'); // 'T-shirt_top'
 * ```
 */
export function classFolderName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is replaced
  const s = name.replace(/[/\\:*?"<>|\u0000-\u001f]/g, '_').trim();
  return s === '' || s === '.' || s === '..' ? '_' : s;
}

/**
 * Writes datasets as a folder of PNGs in the image-folder layout, one folder per split:
 * `<out>/<split>/<class>/<index>.png` (index zero-padded, counted within the split). Grey images
 * become 1-channel PNGs, RGB images 3-channel PNGs; float32 samples are taken as [0, 1] and rounded.
 * The folder is written under a temporary name next to `out` and renamed when complete, so `out`
 * never holds a partial export. Opening the result with {@link openDataset} gives back the same
 * pixels and labels (classes are re-sorted by name; names are sanitised by {@link classFolderName}).
 *
 * @example
 * ```ts
 * const { train, test } = loadMnist();
 * await exportImageFolder({ train, test }, 'data_1'); // data_1/train/7/00000.png, …
 * ```
 */
export async function exportImageFolder(
  splits: Record<string, Dataset> | Dataset,
  out: string,
  options: ExportOptions = {},
): Promise<{ path: string; files: number }> {
  const parts: [string, Dataset][] =
    splits instanceof Dataset
      ? [['train', splits]]
      : typeof splits === 'object' && splits !== null
        ? Object.entries(splits)
        : [];
  if (parts.length === 0)
    throw invalidParam('splits', 'a Dataset or an object of split name to Dataset', splits, 'type');
  for (const [name, ds] of parts) {
    if (!(ds instanceof Dataset)) throw invalidParam(`splits.${name}`, 'a Dataset', ds, 'type');
    if (ds.shape.length !== 3 || (ds.shape[0] !== 1 && ds.shape[0] !== 3)) {
      throw invalidParam(
        `splits.${name}`,
        'images of shape [1 or 3, H, W]',
        `shape [${ds.shape.join(', ')}]`,
      );
    }
    if (classFolderName(name) !== name) throw invalidParam('split name', 'a valid folder name', name);
  }
  const concurrency = checkInt('concurrency', options.concurrency ?? 8, 1, 1024);
  const target = resolve(out);
  if (existsSync(target) && readdirSync(target).length > 0 && !options.overwrite) {
    throw new DatasetError(
      'EXISTS',
      target,
      `${target} already exists and is not empty; pass overwrite: true to replace it.`,
    );
  }
  const total = parts.reduce((a, [, d]) => a + d.length, 0);
  let done = 0;
  // The complete export is swapped in at the end; an old folder is moved aside and removed afterwards.
  await replaceDirAtomic(target, async (tmp) => {
    const jobs: (() => Promise<void>)[] = [];
    for (const [split, ds] of parts) {
      const [c, h, w] = ds.shape as [number, number, number];
      const folders = ds.classes.map(classFolderName);
      for (const f of new Set(folders)) mkdirSync(join(tmp, split, f), { recursive: true });
      const digits = Math.max(5, String(ds.length - 1).length);
      for (let i = 0; i < ds.length; i++) {
        jobs.push(async () => {
          const hwc = Buffer.allocUnsafe(c * h * w);
          const img = ds.image(i);
          const plane = h * w;
          for (let ch = 0; ch < c; ch++) {
            for (let p = 0; p < plane; p++) {
              const v = img[ch * plane + p]!;
              hwc[p * c + ch] =
                img instanceof Uint8Array ? v : Math.max(0, Math.min(255, Math.round(v * 255)));
            }
          }
          const file = join(tmp, split, folders[ds.labels[i]!]!, `${String(i).padStart(digits, '0')}.png`);
          let p = sharp(hwc, { raw: { width: w, height: h, channels: c as 1 | 3 } });
          if (c === 1) p = p.toColourspace('b-w');
          await p.png().toFile(file);
          done++;
          options.onProgress?.(done, total);
        });
      }
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) await jobs[next++]!();
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, jobs.length)) }, worker));
  });
  return { path: target, files: total };
}
