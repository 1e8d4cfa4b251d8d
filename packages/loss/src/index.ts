/**
 * `@dlf/loss`: loss functions with fused native kernels.
 *
 * @example
 * ```ts
 * import { crossEntropy } from '@dlf/loss';
 * const loss = crossEntropy(model.forward(x), labels);
 * loss.backward();
 * ```
 *
 * @packageDocumentation
 */
import '@dlf/autograd';
import { native } from '@dlf/native';
import { checkInt, checkNumber, invalidParam, isTensor, shapeMismatch, Tensor } from '@dlf/tensor-core';

/** How per-example losses are combined. */
export type Reduction = 'mean' | 'sum' | 'none';

/** Options for {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** 'mean' (default; weighted mean when `weight` is given), 'sum' or 'none' (one loss per example). */
  reduction?: Reduction;
  /** Targets equal to this value contribute nothing. Default -100. */
  ignoreIndex?: number;
  /** Mixes the one-hot target with a uniform distribution: ε in [0, 1]. Default 0. */
  labelSmoothing?: number;
  /** A weight per class, shape [C]. */
  weight?: Tensor;
}

const reductions: Record<Reduction, 0 | 1 | 2> = { none: 0, mean: 1, sum: 2 };

/**
 * Softmax cross-entropy on logits (N, C) against int32 class indices (N), as one fused native op
 * (log-softmax + negative log-likelihood), stable for logits of any magnitude. Semantics follow
 * PyTorch's `cross_entropy`.
 *
 * @example
 * ```ts
 * const loss = crossEntropy(logits, tensor([3, 1], { dtype: 'int32' }), { labelSmoothing: 0.1 });
 * ```
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  if (!isTensor(logits) || logits.dtype !== 'float32')
    throw invalidParam('logits', 'a float32 Tensor', logits, 'type');
  if (!isTensor(targets) || targets.dtype !== 'int32') {
    throw invalidParam(
      'targets',
      'an int32 Tensor of class indices',
      isTensor(targets) ? `a ${targets.dtype} tensor` : targets,
      'type',
    );
  }
  if (logits.rank !== 2 || targets.rank !== 1 || targets.shape[0] !== logits.shape[0]) {
    throw shapeMismatch('crossEntropy', 'logits (N, C) and targets (N)', logits.shape, targets.shape);
  }
  const reduction = options.reduction ?? 'mean';
  if (!(reduction in reductions))
    throw invalidParam('reduction', "'mean', 'sum' or 'none'", reduction, 'type');
  const ignoreIndex = checkInt('ignoreIndex', options.ignoreIndex ?? -100);
  const smoothing = checkNumber('labelSmoothing', options.labelSmoothing ?? 0, 0, 1);
  const weight = options.weight;
  if (weight !== undefined) {
    if (!isTensor(weight) || weight.dtype !== 'float32')
      throw invalidParam('weight', 'a float32 Tensor', weight, 'type');
    if (weight.rank !== 1 || weight.shape[0] !== logits.shape[1]) {
      throw shapeMismatch('crossEntropy', 'weight (C) to match logits (N, C)', weight.shape, logits.shape);
    }
  }
  const code = reductions[reduction];
  const handle = native.crossEntropy(
    logits.handle,
    targets.handle,
    weight ? weight.handle : null,
    code,
    ignoreIndex,
    smoothing,
  );
  return new Tensor(handle, code === 0 ? [logits.shape[0]!] : [], 'float32');
}

/**
 * The fraction of rows whose largest logit is at the target index.
 *
 * @example
 * ```ts
 * accuracy(logits, labels); // 0.9375
 * ```
 */
export function accuracy(logits: Tensor, targets: Tensor): number {
  const { correct, total } = countCorrect(logits, targets);
  return total === 0 ? 0 : correct / total;
}

/** Correct predictions and the number of rows (for accumulating accuracy over batches). */
export function countCorrect(logits: Tensor, targets: Tensor, k = 1): { correct: number; total: number } {
  if (logits.rank !== 2 || targets.rank !== 1 || targets.shape[0] !== logits.shape[0]) {
    throw shapeMismatch('accuracy', 'logits (N, C) and targets (N)', logits.shape, targets.shape);
  }
  checkInt('k', k, 1, logits.shape[1]!);
  const z = logits.toTypedArray() as Float32Array;
  const t = targets.toTypedArray();
  const [n, c] = logits.shape as [number, number];
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const target = t[i]!;
    const tv = z[i * c + target]!;
    let above = 0;
    for (let j = 0; j < c; j++) {
      const v = z[i * c + j]!;
      if (v > tv || (v === tv && j < target)) above++;
    }
    if (above < k) correct++;
  }
  return { correct, total: n };
}
