import { checkInt, checkNumber } from '@dlf/tensor-core';
import type { Dataset } from './dataset.js';
import { permutation } from './rng.js';

/** Stream id that separates split randomness from shuffling and augmentation. */
const SPLIT_STREAM = 0x5e117;

/**
 * How many of a class's `n` samples go to the test side: `Math.round(n × testFraction)` (halves
 * round up), but at least
 * one when `n ≥ 2` and the fraction is positive, and at most `n − 1` when the fraction is below 1,
 * so both sides see every class that has two or more samples.
 *
 * @example
 * ```ts
 * testCount(10, 0.2); // 2
 * testCount(2, 0.2);  // 1
 * ```
 */
export function testCount(n: number, testFraction: number): number {
  let k = Math.round(n * testFraction);
  if (testFraction > 0 && n >= 2) k = Math.max(k, 1);
  if (testFraction < 1 && n >= 1) k = Math.min(k, n - 1);
  return Math.max(0, Math.min(k, n));
}

/**
 * Indices of a seeded, stratified split: within each class, samples are permuted by a stream
 * determined by `(seed, class index)` and the first {@link testCount} go to test. Each side keeps
 * the original sample order. The split depends only on the labels, the seed and the fraction.
 *
 * @example
 * ```ts
 * const { train, test } = stratifiedSplitIndices(ds.labels, ds.classes.length, 0.2, 0);
 * ```
 */
export function stratifiedSplitIndices(
  labels: Int32Array,
  numClasses: number,
  testFraction: number,
  seed: number,
): { train: Int32Array; test: Int32Array } {
  checkNumber('testFraction', testFraction, 0, 1);
  checkInt('seed', seed, 0);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]!]!.push(i);
  const isTest = new Uint8Array(labels.length);
  let nTest = 0;
  byClass.forEach((members, c) => {
    const k = testCount(members.length, testFraction);
    const perm = permutation(members.length, seed, SPLIT_STREAM, c);
    for (let j = 0; j < k; j++) isTest[members[perm[j]!]!] = 1;
    nTest += k;
  });
  const train = new Int32Array(labels.length - nTest);
  const test = new Int32Array(nTest);
  for (let i = 0, a = 0, b = 0; i < labels.length; i++) {
    if (isTest[i]) test[b++] = i;
    else train[a++] = i;
  }
  return { train, test };
}

/**
 * Splits a dataset into seeded, stratified train and test parts (see
 * {@link stratifiedSplitIndices}).
 *
 * @example
 * ```ts
 * const { train, test } = stratifiedSplit(all, 0.2, 42);
 * ```
 */
export function stratifiedSplit(
  dataset: Dataset,
  testFraction = 0.2,
  seed = 0,
): { train: Dataset; test: Dataset } {
  const { train, test } = stratifiedSplitIndices(dataset.labels, dataset.classes.length, testFraction, seed);
  return {
    train: dataset.subset(train, `${dataset.name} (train)`),
    test: dataset.subset(test, `${dataset.name} (test)`),
  };
}
