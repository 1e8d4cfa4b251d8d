/**
 * Test-time augmentation: classify a few views of each image and average their logits. Level 1
 * (`'flip'`) averages the image and its mirror; level 2 (`'flip-translate'`, after Jordan's airbench)
 * also averages the mirror pairs of the image translated by one pixel up-left and down-right.
 */
import type { Module } from '@dlf/nn';
import { add, invalidParam, mul, type Tensor, tensor } from '@dlf/tensor-core';

/**
 * How `evaluate` (and `fit`'s validation) augments at test time: `false` none; `true` or `'flip'`
 * the image and its mirror; `'flip-translate'` also both translated by one pixel (six views).
 */
export type TtaOption = boolean | 'flip' | 'flip-translate';

/** The test-time augmentation levels, from none to the most views. */
export type TtaLevel = 'none' | 'flip' | 'flip-translate';

/**
 * Checks a {@link TtaOption} and names its level (`undefined`: none).
 *
 * @example
 * ```ts
 * ttaLevel(true); // 'flip'
 * ttaLevel('flip-translate'); // 'flip-translate'
 * ```
 */
export function ttaLevel(tta: TtaOption | undefined): TtaLevel {
  if (tta === undefined || tta === false) return 'none';
  if (tta === true || tta === 'flip') return 'flip';
  if (tta === 'flip-translate') return tta;
  throw invalidParam('tta', "true, false, 'flip' or 'flip-translate'", tta, 'type');
}

/**
 * A test-time augmentation level in words, for messages.
 *
 * @example
 * ```ts
 * ttaDescription('flip'); // 'flip test-time augmentation'
 * ```
 */
export function ttaDescription(level: TtaLevel): string {
  return level === 'none'
    ? 'no test-time augmentation'
    : level === 'flip'
      ? 'flip test-time augmentation'
      : 'flip and translate test-time augmentation';
}

/**
 * The batch mirrored left to right (the last axis of (N, C, H, W)).
 *
 * @example
 * ```ts
 * mirrored(tensor([1, 2, 3], { shape: [1, 1, 1, 3] })).toArray(); // [[[[3, 2, 1]]]]
 * ```
 */
export function mirrored(x: Tensor): Tensor {
  const src = x.toTypedArray() as Float32Array;
  const w = x.shape[x.rank - 1]!;
  const out = new Float32Array(src.length);
  for (let row = 0; row < src.length; row += w) {
    for (let i = 0; i < w; i++) out[row + i] = src[row + w - 1 - i]!;
  }
  return tensor(out, { shape: x.shape });
}

/** Index `i + shift` reflected into [0, n) for |shift| ≤ 1: -1 reads 1, n reads n - 2. */
const reflect = (i: number, n: number): number => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);

/**
 * The batch translated by one pixel: the window of the 1-pixel reflect-padded image (PyTorch's
 * `F.pad(x, (1, 1, 1, 1), 'reflect')`) moved by `dy` rows and `dx` columns, so
 * `out[.., i, j] = x[.., reflect(i + dy), reflect(j + dx)]`. `(-1, -1)` is the padded image cropped at
 * [0:H, 0:W] (the content moves down-right), `(1, 1)` the crop at [2:H+2, 2:W+2]. Works on the last
 * two axes of (N, C, H, W); an axis that moves needs at least 2 pixels (reflect padding by one).
 *
 * @param x - A float32 batch.
 * @param dy - -1, 0 or 1.
 * @param dx - -1, 0 or 1.
 * @example
 * ```ts
 * translated(tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2] }), 1, 1).toArray(); // [[[[4, 3], [2, 1]]]]
 * ```
 */
export function translated(x: Tensor, dy: -1 | 0 | 1, dx: -1 | 0 | 1): Tensor {
  for (const [name, v] of [
    ['dy', dy],
    ['dx', dx],
  ] as const) {
    if (v !== -1 && v !== 0 && v !== 1) throw invalidParam(name, '-1, 0 or 1', v);
  }
  if (x.rank < 2) throw invalidParam('x', 'a batch of images (N, C, H, W)', `shape [${x.shape.join(', ')}]`);
  const h = x.shape[x.rank - 2]!;
  const w = x.shape[x.rank - 1]!;
  if ((dy !== 0 && h < 2) || (dx !== 0 && w < 2)) {
    throw new RangeError(
      `Translating images by one pixel reflect-pads them by one, which needs at least 2×2 pixels; these images are ${h}×${w}.`,
    );
  }
  const src = x.toTypedArray() as Float32Array;
  const out = new Float32Array(src.length);
  for (let plane = 0; plane < src.length; plane += h * w) {
    for (let i = 0; i < h; i++) {
      const from = plane + reflect(i + dy, h) * w;
      const to = plane + i * w;
      // The row shifted by dx in one copy; the pixel that falls off the edge is the reflected one.
      if (dx === 0) out.set(src.subarray(from, from + w), to);
      else if (dx === 1) {
        out.set(src.subarray(from + 1, from + w), to);
        out[to + w - 1] = src[from + w - 2]!;
      } else {
        out.set(src.subarray(from, from + w - 1), to + 1);
        out[to] = src[from + 1]!;
      }
    }
  }
  return tensor(out, { shape: x.shape });
}

/**
 * The logits of a batch under a test-time augmentation level: `'none'` the model's output; `'flip'`
 * m(x) = ½ (f(x) + f(mirror x)); `'flip-translate'` ½ m(x) + ¼ m(x moved up-left) + ¼ m(x moved
 * down-right) (see {@link translated}). Call it inside `tidy` and `noGrad`: the views and the
 * intermediate logits are left to the scope.
 *
 * @example
 * ```ts
 * const logits = tidy(() => noGrad(() => ttaLogits(model, x, 'flip-translate')));
 * ```
 */
export function ttaLogits(model: Module, x: Tensor, level: TtaLevel): Tensor {
  if (level === 'none') return model.forward(x);
  const mirrorAverage = (v: Tensor): Tensor => mul(add(model.forward(v), model.forward(mirrored(v))), 0.5);
  const flip = mirrorAverage(x);
  if (level === 'flip') return flip;
  const shifted = add(mirrorAverage(translated(x, -1, -1)), mirrorAverage(translated(x, 1, 1)));
  return add(mul(flip, 0.5), mul(shifted, 0.25));
}
