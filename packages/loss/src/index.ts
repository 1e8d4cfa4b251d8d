/**
 * `@dlf/loss`: loss functions with fused native kernels, and accuracy / top-k helpers. Each loss is
 * one native call that computes the forward value and records one backward node; semantics follow
 * PyTorch 1.13's functional losses.
 *
 * @example
 * ```ts
 * import { crossEntropy } from '@dlf/loss';
 * const loss = crossEntropy(model.forward(x), labels);
 * loss.backward();
 * ```
 *
 * @module @dlf/loss
 * @packageDocumentation
 */
import '@dlf/autograd';
import { loss as native } from '@dlf/native/loss';
import { checkInt, checkNumber, invalidParam, isTensor, shapeMismatch, Tensor } from '@dlf/tensor-core';

/**
 * How per-example losses are combined: `'mean'` (a 0-d tensor), `'sum'` (a 0-d tensor) or `'none'`
 * (one loss per example, or per element for elementwise losses).
 *
 * @example
 * ```ts
 * const perExample = crossEntropy(logits, labels, { reduction: 'none' }); // shape [N]
 * ```
 */
export type Reduction = 'mean' | 'sum' | 'none';

const reductions: Record<Reduction, 0 | 1 | 2> = { none: 0, mean: 1, sum: 2 };

function reductionCode(value: unknown): 0 | 1 | 2 {
  const r = value ?? 'mean';
  if (typeof r !== 'string' || !Object.hasOwn(reductions, r)) {
    throw invalidParam('reduction', "'mean', 'sum' or 'none'", r, 'type');
  }
  return reductions[r as Reduction];
}

function floatTensor(name: string, x: unknown): Tensor {
  if (!isTensor(x)) throw invalidParam(name, 'a float32 Tensor', x, 'type');
  if (x.dtype !== 'float32') throw invalidParam(name, 'a float32 Tensor', `a ${x.dtype} tensor`, 'type');
  return x;
}

/** Checks input (N, C), int32 targets (N) and an optional class weight (C). */
function classTargets(
  op: string,
  input: unknown,
  targets: unknown,
  weight: unknown,
  inputName: string,
): void {
  const x = floatTensor(inputName, input);
  if (!isTensor(targets) || targets.dtype !== 'int32') {
    throw invalidParam(
      'targets',
      'an int32 Tensor of class indices',
      isTensor(targets) ? `a ${targets.dtype} tensor` : targets,
      'type',
    );
  }
  if (x.rank !== 2 || targets.rank !== 1 || targets.shape[0] !== x.shape[0]) {
    throw shapeMismatch(op, `${inputName} (N, C) and targets (N)`, x.shape, targets.shape);
  }
  if (weight !== undefined) {
    const w = floatTensor('weight', weight);
    if (w.rank !== 1 || w.shape[0] !== x.shape[1]) {
      throw shapeMismatch(op, `weight (C) to match ${inputName} (N, C)`, w.shape, x.shape);
    }
  }
}

function lossOut(
  handle: ReturnType<typeof native.mseLoss>,
  code: 0 | 1 | 2,
  shape: readonly number[],
): Tensor {
  return new Tensor(handle, code === 0 ? shape : [], 'float32');
}

/**
 * Options for {@link crossEntropy}.
 *
 * @example
 * ```ts
 * const options: CrossEntropyOptions = { labelSmoothing: 0.1, ignoreIndex: -1, weight: tensor([1, 2, 1]) };
 * ```
 */
export interface CrossEntropyOptions {
  /** 'mean' (default; weighted mean when `weight` is given), 'sum' or 'none' (one loss per example). */
  reduction?: Reduction;
  /** Targets equal to this value contribute nothing (and do not count in the mean). Default -100. */
  ignoreIndex?: number;
  /** Mixes the one-hot target with a uniform distribution: ε in [0, 1]. Default 0. */
  labelSmoothing?: number;
  /** A weight per class, shape [C]. */
  weight?: Tensor;
}

/**
 * Softmax cross-entropy on logits (N, C) against int32 class indices (N), as one fused native op
 * (log-softmax + negative log-likelihood), stable for logits of any magnitude (1e4 and beyond).
 * Semantics follow PyTorch's `cross_entropy`: with label smoothing ε the loss of a row is
 * `(1 - ε) · w[t] · (-log p_t) + ε / C · Σ_c w[c] · (-log p_c)`; the mean divides by the summed
 * weights of the targets that are not ignored (NaN when every target is ignored, as in PyTorch).
 * Differentiable in the logits.
 *
 * @example
 * ```ts
 * const loss = crossEntropy(logits, tensor([3, 1], { dtype: 'int32' }), { labelSmoothing: 0.1 });
 * ```
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  classTargets('crossEntropy', logits, targets, options.weight, 'logits');
  const code = reductionCode(options.reduction);
  const ignoreIndex = checkInt('ignoreIndex', options.ignoreIndex ?? -100);
  const smoothing = checkNumber('labelSmoothing', options.labelSmoothing ?? 0, 0, 1);
  const handle = native.crossEntropy(
    logits.handle,
    targets.handle,
    options.weight ? options.weight.handle : null,
    code,
    ignoreIndex,
    smoothing,
  );
  return lossOut(handle, code, [logits.shape[0]!]);
}

/**
 * Options for {@link nllLoss}.
 *
 * @example
 * ```ts
 * const options: NllLossOptions = { reduction: 'sum', weight: tensor([1, 2, 1]) };
 * ```
 */
export interface NllLossOptions {
  /** 'mean' (default; weighted mean when `weight` is given), 'sum' or 'none' (one loss per example). */
  reduction?: Reduction;
  /** Targets equal to this value contribute nothing (and do not count in the mean). Default -100. */
  ignoreIndex?: number;
  /** A weight per class, shape [C]. */
  weight?: Tensor;
}

/**
 * Negative log-likelihood on log-probabilities (N, C) (for example the output of `logSoftmax`)
 * against int32 class indices (N): `-weight[t] · logProbs[i, t]`, reduced as PyTorch's `nll_loss`
 * (the mean divides by the summed weights of the targets that are not ignored). Differentiable in
 * `logProbs`. `nllLoss(logSoftmax(z), t)` equals `crossEntropy(z, t)`; prefer the fused
 * {@link crossEntropy} for logits.
 *
 * @example
 * ```ts
 * const loss = nllLoss(logSoftmax(logits), labels, { ignoreIndex: 0 });
 * ```
 */
export function nllLoss(logProbs: Tensor, targets: Tensor, options: NllLossOptions = {}): Tensor {
  classTargets('nllLoss', logProbs, targets, options.weight, 'logProbs');
  const code = reductionCode(options.reduction);
  const ignoreIndex = checkInt('ignoreIndex', options.ignoreIndex ?? -100);
  const handle = native.nllLoss(
    logProbs.handle,
    targets.handle,
    options.weight ? options.weight.handle : null,
    code,
    ignoreIndex,
  );
  return lossOut(handle, code, [logProbs.shape[0]!]);
}

/**
 * Options for {@link mseLoss}.
 *
 * @example
 * ```ts
 * const options: MseLossOptions = { reduction: 'none' };
 * ```
 */
export interface MseLossOptions {
  /** 'mean' (default, over every element), 'sum' or 'none' (the elementwise squares). */
  reduction?: Reduction;
}

/**
 * Mean squared error `(input - target)²` for two float32 tensors of one shape (no broadcasting).
 * Differentiable in both, so a target computed by the graph (distillation) receives gradients too.
 *
 * @example
 * ```ts
 * const loss = mseLoss(model.forward(x), y); // 0-d tensor
 * ```
 */
export function mseLoss(input: Tensor, target: Tensor, options: MseLossOptions = {}): Tensor {
  floatTensor('input', input);
  floatTensor('target', target);
  if (input.shape.length !== target.shape.length || input.shape.some((d, i) => d !== target.shape[i])) {
    throw shapeMismatch('mseLoss', 'input and target of one shape', input.shape, target.shape);
  }
  const code = reductionCode(options.reduction);
  return lossOut(native.mseLoss(input.handle, target.handle, code), code, input.shape);
}

/**
 * Options for {@link binaryCrossEntropyWithLogits}.
 *
 * @example
 * ```ts
 * const options: BinaryCrossEntropyWithLogitsOptions = { posWeight: tensor([3, 1.5]), reduction: 'sum' };
 * ```
 */
export interface BinaryCrossEntropyWithLogitsOptions {
  /** 'mean' (default, over every element), 'sum' or 'none' (one loss per element). */
  reduction?: Reduction;
  /** A rescaling weight that broadcasts to the logits' shape (for example one weight per class, [C]). */
  weight?: Tensor;
  /** Weight of the positive term, broadcast to the logits' shape (typically [C]: negatives / positives per class). */
  posWeight?: Tensor;
}

function broadcastsTo(from: readonly number[], to: readonly number[]): boolean {
  if (from.length > to.length) return false;
  const off = to.length - from.length;
  return from.every((d, i) => d === 1 || d === to[off + i]);
}

/**
 * Sigmoid followed by binary cross-entropy, fused and stable for logits of any magnitude:
 * `weight · ((1 - y) · x + (1 + (posWeight - 1) · y) · log(1 + e^(-x)))`, as PyTorch's
 * `binary_cross_entropy_with_logits`. Targets are float32 probabilities of the logits' shape.
 * Differentiable in logits and targets; `weight` and `posWeight` are treated as constants.
 *
 * @example
 * ```ts
 * // multi-label: 3 labels per example, positives weighted 4x
 * const loss = binaryCrossEntropyWithLogits(logits, labels, { posWeight: tensor([4, 4, 4]) });
 * ```
 */
export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  targets: Tensor,
  options: BinaryCrossEntropyWithLogitsOptions = {},
): Tensor {
  floatTensor('logits', logits);
  floatTensor('targets', targets);
  if (logits.shape.length !== targets.shape.length || logits.shape.some((d, i) => d !== targets.shape[i])) {
    throw shapeMismatch(
      'binaryCrossEntropyWithLogits',
      'logits and targets of one shape',
      logits.shape,
      targets.shape,
    );
  }
  for (const name of ['weight', 'posWeight'] as const) {
    const w = options[name];
    if (w === undefined) continue;
    floatTensor(name, w);
    if (!broadcastsTo(w.shape, logits.shape)) {
      throw shapeMismatch(
        'binaryCrossEntropyWithLogits',
        `${name} that broadcasts to the logits`,
        w.shape,
        logits.shape,
      );
    }
  }
  const code = reductionCode(options.reduction);
  const handle = native.bceWithLogits(
    logits.handle,
    targets.handle,
    options.weight ? options.weight.handle : null,
    options.posWeight ? options.posWeight.handle : null,
    code,
  );
  return lossOut(handle, code, logits.shape);
}

/**
 * The k largest values along the last axis and their indices, largest first. NaN ranks above every
 * number; equal values keep index order (lower index first). Not differentiable: both tensors are new
 * and carry no gradient history.
 *
 * @example
 * ```ts
 * const { values, indices } = topk(tensor([[0.1, 0.7, 0.2]]), 2);
 * indices.toArray(); // [[1, 2]]
 * ```
 */
export function topk(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  floatTensor('x', x);
  if (x.rank < 1) throw invalidParam('x', 'a tensor with at least one dimension', 'a 0-d tensor');
  const c = x.shape[x.rank - 1]!;
  if (c < 1) throw invalidParam('x', 'a last dimension of at least 1', `shape [${x.shape.join(', ')}]`);
  checkInt('k', k, 1, c);
  const [v, i] = native.topk(x.handle, k);
  const shape = [...x.shape.slice(0, -1), k];
  return { values: new Tensor(v, shape, 'float32'), indices: new Tensor(i, shape, 'int32') };
}

/**
 * Correct predictions and the number of rows, for accumulating accuracy over batches. A row is correct
 * when its target is among its `k` largest logits in {@link topk}'s order (ties go to the lower index,
 * NaN ranks highest). Targets must lie in [0, C).
 *
 * @example
 * ```ts
 * let correct = 0, total = 0;
 * for (const [x, y] of batches) {
 *   const r = countCorrect(noGrad(() => model.forward(x)), y, 5);
 *   correct += r.correct; total += r.total;
 * }
 * ```
 */
export function countCorrect(logits: Tensor, targets: Tensor, k = 1): { correct: number; total: number } {
  classTargets('accuracy', logits, targets, undefined, 'logits');
  checkInt('k', k, 1, Math.max(1, logits.shape[1]!));
  const correct = native.countCorrect(logits.handle, targets.handle, k);
  return { correct, total: logits.shape[0]! };
}

/**
 * The fraction of rows whose target is among the `k` largest logits (top-1 by default); 0 for an
 * empty batch. See {@link countCorrect} for ties.
 *
 * @example
 * ```ts
 * accuracy(logits, labels); // 0.9375
 * accuracy(logits, labels, 5); // top-5 accuracy
 * ```
 */
export function accuracy(logits: Tensor, targets: Tensor, k = 1): number {
  const { correct, total } = countCorrect(logits, targets, k);
  return total === 0 ? 0 : correct / total;
}
