/**
 * What the trainer needs from a data-parallel runtime (implemented by `@dlf/distributed`'s
 * `DistributedDataParallel`; the trainer itself depends on no communication library), and the
 * sharding of each global batch across ranks.
 */
import type { Batch, DataLoader } from '@dlf/data';
import { countCorrect, crossEntropy } from '@dlf/loss';
import { type Tensor, tidy } from '@dlf/tensor-core';

/**
 * A data-parallel group as {@link fit} uses it. Every method is a collective: every rank calls it,
 * in the same order.
 *
 * @example
 * ```ts
 * import { DistributedDataParallel, initProcessGroup } from '@dlf/distributed';
 * const group = await initProcessGroup({ rank, worldSize: 2, masterAddr: '127.0.0.1', masterPort: 29500 });
 * await fit({ model, train, epochs: 1, optimizer, distributed: new DistributedDataParallel(group) });
 * ```
 */
export interface FitDistributed {
  /** This process's rank, 0 … worldSize-1; rank 0 writes every file. */
  readonly rank: number;
  readonly worldSize: number;
  /** Makes every rank's parameters (and buffers) equal to rank 0's. */
  broadcastParameters(tensors: readonly Tensor[]): Promise<void>;
  /**
   * Replaces each parameter's gradient by the sum over ranks of `weight` times it (weight = this rank's
   * share of the global batch, so the result is the gradient of the global batch's mean loss).
   */
  reduceGradients(parameters: readonly Tensor[], weight: number): Promise<void>;
  /**
   * Optional: runs `loss.backward()` and does what {@link FitDistributed.reduceGradients} does, starting
   * the communication while backward still runs. Backward is over when it returns; the Promise
   * settles once the reduced gradients are in place. Without it, fit runs backward and then
   * `reduceGradients`.
   */
  backward?(loss: Tensor, parameters: readonly Tensor[], weight: number): Promise<void>;
  /** Element-wise sums over ranks. */
  sum(values: readonly number[]): Promise<number[]>;
  /** Rank 0's values, on every rank. */
  broadcast(values: readonly number[]): Promise<number[]>;
  /** Returns when every rank has called it. */
  barrier(): Promise<void>;
}

/**
 * The part `[start, end)` of a global batch of `size` samples that `rank` of `worldSize` trains on:
 * contiguous, as equal as possible, in rank order, so the ranks together cover the batch exactly once.
 *
 * @example
 * ```ts
 * shardRange(10, 1, 4); // [2, 5]
 * ```
 */
export function shardRange(size: number, rank: number, worldSize: number): [number, number] {
  return [Math.floor((rank * size) / worldSize), Math.floor(((rank + 1) * size) / worldSize)];
}

/** This rank's share of global batch `index`: its batch, the samples it counts, and its gradient weight. */
export function shardBatch(
  loader: DataLoader,
  epoch: number,
  index: number,
  dist: FitDistributed,
): { batch: Batch; count: number; weight: number } {
  const global = loader.batchIndices(epoch, index);
  const [start, end] = shardRange(global.length, dist.rank, dist.worldSize);
  const count = end - start;
  // A rank whose share is empty (a last batch smaller than the world) still runs one sample with
  // weight 0, so its gradients exist and every rank takes part in the same collectives.
  const indices = count > 0 ? global.subarray(start, end) : global.subarray(global.length - 1);
  return { batch: loader.batchOf(epoch, index, indices), count, weight: count / global.length };
}

/** What one data-parallel step gives the fit loop: global sums, the agreed stop flag and phase times. */
export interface DistributedStep {
  /** Over the global batch. */
  lossSum: number;
  correct: number;
  seen: number;
  /** True when any rank was asked to stop: every rank then stops before the same batch. */
  stop: boolean;
  forwardEnd: number;
  lossEnd: number;
  backwardEnd: number;
}

/**
 * One training step of rank `dist.rank`: forward and backward on its shard, gradients averaged over
 * the global batch (started during backward when `dist` has a `backward` method), a local optimizer
 * step, and the step's metrics summed over ranks together with every rank's stop request.
 */
export async function distributedStep(
  dist: FitDistributed,
  opt: { zeroGrad(): void; step(): void },
  parameters: readonly Tensor[],
  forward: (x: Tensor) => Tensor,
  shard: { batch: Batch; count: number; weight: number },
  stopRequested: boolean,
  lossOptions: { labelSmoothing?: number } = {},
): Promise<DistributedStep> {
  const { batch, count, weight } = shard;
  const times = { forwardEnd: 0, lossEnd: 0, backwardEnd: 0 };
  let reduced: Promise<void> | undefined;
  const local = tidy(() => {
    opt.zeroGrad();
    const logits = forward(batch.x);
    times.forwardEnd = performance.now();
    const loss = crossEntropy(logits, batch.y, lossOptions);
    times.lossEnd = performance.now();
    if (dist.backward) reduced = dist.backward(loss, parameters, weight);
    else loss.backward();
    times.backwardEnd = performance.now();
    return count > 0
      ? { lossSum: loss.item() * count, correct: countCorrect(logits, batch.y).correct }
      : null;
  });
  await (reduced ?? dist.reduceGradients(parameters, weight));
  tidy(() => opt.step());
  const [lossSum, correct, seen, stops] = await dist.sum([
    local?.lossSum ?? 0,
    local?.correct ?? 0,
    count,
    stopRequested ? 1 : 0,
  ]);
  return { lossSum: lossSum!, correct: correct!, seen: seen!, stop: stops! > 0, ...times };
}

/**
 * Makes sure every rank starts at rank 0's position (epoch, batch, step): a rank that could not read
 * the checkpoint rank 0 resumes from would otherwise run other collectives than the rest. Every rank
 * throws the same error when one differs.
 */
export async function checkSameStart(dist: FitDistributed, position: readonly number[]): Promise<void> {
  const leader = await dist.broadcast(position);
  const differs = position.some((v, i) => v !== leader[i]);
  const [ranksDiffering] = await dist.sum([differs ? 1 : 0]);
  if (ranksDiffering! > 0) {
    throw new Error(
      `${ranksDiffering} rank(s) would start at another point than rank 0 (epoch ${leader[0]}, batch ${leader[1]}, step ${leader[2]})${differs ? `; this rank ${dist.rank} is at epoch ${position[0]}, batch ${position[1]}, step ${position[2]}` : ''}. Every rank must read the same checkpoint: keep the run folder on a file system all hosts share (or copy it to each) before --resume.`,
    );
  }
}
