/**
 * `@dlf/native/loss`: fused losses and metrics, wrapped by `@dlf/loss`.
 *
 * @packageDocumentation
 */
import type { Handle } from './binding.js';
import { loadNative } from './load.js';

/** The loss slice's entry points. */
export interface LossSlice {
  /**
   * Fused log-softmax + NLL on logits (N, C) against int32 targets (N). reduction: 0 none (N), 1 mean
   * (weighted by the targets' class weights), 2 sum; differentiable in the logits.
   */
  crossEntropy(
    logits: Handle,
    targets: Handle,
    weight: Handle | null,
    reduction: 0 | 1 | 2,
    ignoreIndex: number,
    labelSmoothing: number,
  ): Handle;
  /** -weight[t] * logProbs[i, t] on log-probabilities (N, C); reductions as for crossEntropy. */
  nllLoss(
    logProbs: Handle,
    targets: Handle,
    weight: Handle | null,
    reduction: 0 | 1 | 2,
    ignoreIndex: number,
  ): Handle;
  /** (input - target)^2 for tensors of one shape; differentiable in both. */
  mseLoss(input: Handle, target: Handle, reduction: 0 | 1 | 2): Handle;
  /**
   * Stable sigmoid + binary cross-entropy; targets have the logits' shape, `weight` and `posWeight`
   * broadcast to it. Differentiable in logits and targets (not in the weights).
   */
  bceWithLogits(
    logits: Handle,
    targets: Handle,
    weight: Handle | null,
    posWeight: Handle | null,
    reduction: 0 | 1 | 2,
  ): Handle;
  /**
   * The k largest values along the last axis, largest first (NaN largest, ties to the lower index):
   * [values (..., k) float32, indices (..., k) int32]. Not differentiable.
   */
  topk(x: Handle, k: number): [Handle, Handle];
  /** Rows of logits (N, C) whose int32 target is among the k largest (in topk's order). */
  countCorrect(logits: Handle, targets: Handle, k: number): number;
}

/** The loss slice of the loaded addon. */
export const loss: LossSlice = loadNative().loss;
