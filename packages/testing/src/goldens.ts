/**
 * Golden files: reference values computed by PyTorch (see each package's test/goldens/README.md),
 * stored next to the tests as JSON or safetensors, and turned back into tensors here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  loadSafetensorsSync,
  type SafetensorsContents,
  type Tensor,
  tensor,
  transpose,
} from '@dlf/tensor-core';
import type { GoldenTensor } from './close.js';

function goldenPath(testFileUrl: string | URL, file: string): string {
  return fileURLToPath(new URL(`./goldens/${file}`, testFileUrl));
}

/**
 * Loads `goldens/<file>` next to the calling test file: parsed JSON for `.json`, the tensors and
 * metadata for `.safetensors`.
 *
 * @example
 * ```ts
 * const golden = loadGolden<{ cases: OpCase[] }>(import.meta.url, 'ops.json');
 * ```
 */
export function loadGolden<T>(testFileUrl: string | URL, file: `${string}.json`): T;
export function loadGolden(testFileUrl: string | URL, file: `${string}.safetensors`): SafetensorsContents;
export function loadGolden(testFileUrl: string | URL, file: string): unknown {
  const path = goldenPath(testFileUrl, file);
  if (file.endsWith('.json')) return JSON.parse(readFileSync(path, 'utf8'));
  if (file.endsWith('.safetensors')) return loadSafetensorsSync(path);
  throw new TypeError(`Expected a .json or .safetensors golden file but received '${file}'`);
}

/**
 * A contiguous float32 tensor holding a golden tensor's values (goldens store float32 inputs as the
 * shortest decimals that round-trip, so decoding into a Float32Array is exact).
 *
 * @example
 * ```ts
 * const x = goldenTensor({ shape: [2, 2], data: [1, 2, 3, 4] });
 * ```
 */
export function goldenTensor(d: GoldenTensor): Tensor {
  return tensor(new Float32Array(d.data), { shape: d.shape });
}

/**
 * The same values as `d` in a non-contiguous float32 view: stored with the last two dims swapped and
 * viewed back through a zero-copy transpose. Needs rank >= 2.
 *
 * @example
 * ```ts
 * nonContiguousTensor({ shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }).isContiguous; // false
 * ```
 */
export function nonContiguousTensor(d: GoldenTensor): Tensor {
  if (d.shape.length < 2)
    throw new RangeError(`Expected a golden tensor of rank >= 2 but received shape [${d.shape}]`);
  const [p, q] = d.shape.slice(-2) as [number, number];
  const batch = d.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const stored = new Float32Array(d.data.length);
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < p; i++)
      for (let j = 0; j < q; j++) stored[b * p * q + j * p + i] = d.data[b * p * q + i * q + j]!;
  return transpose(tensor(stored, { shape: [...d.shape.slice(0, -2), q, p] }), -2, -1);
}
