import { checkInt, checkNumber, invalidParam } from '@dlf/tensor-core';
import { type Optimizer, stateNumber } from '../optimizer.js';
import { LRScheduler, type SchedulerState } from './base.js';

/**
 * Options for {@link LinearLR}.
 *
 * @example
 * ```ts
 * const options: LinearLROptions = { startFactor: 0.1, totalIters: 5 };
 * ```
 */
export interface LinearLROptions {
  /** The factor applied at step 0, in (0, 1]. Default 1/3. */
  startFactor?: number;
  /** The factor reached at `totalIters`, in [0, 1]. Default 1. */
  endFactor?: number;
  /** Steps over which the factor moves from start to end (a positive integer). Default 5. */
  totalIters?: number;
}

/**
 * Linear warm-up (or decay): scales the initial learning rate by a factor moving linearly from
 * `startFactor` to `endFactor` over `totalIters` steps, then keeps it (PyTorch's `LinearLR`). Combine
 * it with another schedule through {@link SequentialLR} for warm-up followed by decay.
 *
 * @example
 * ```ts
 * // 0.025, 0.03125, 0.0375, 0.04375, then 0.05 for lr 0.05
 * const warmup = new LinearLR(opt, { startFactor: 0.5, totalIters: 4 });
 * ```
 */
export class LinearLR extends LRScheduler {
  #startFactor: number;
  #endFactor: number;
  #totalIters: number;

  /**
   * Creates the schedule and sets the optimizer's learning rate for step 0.
   *
   * @param optimizer - The optimizer whose learning rate is scheduled.
   * @param options - `startFactor`, `endFactor` and `totalIters`.
   */
  constructor(optimizer: Optimizer, options: LinearLROptions = {}) {
    super(optimizer);
    this.#startFactor = checkNumber('startFactor', options.startFactor ?? 1 / 3, 0, 1);
    if (this.#startFactor === 0) throw invalidParam('startFactor', 'a number in (0, 1]', 0);
    this.#endFactor = checkNumber('endFactor', options.endFactor ?? 1, 0, 1);
    this.#totalIters = checkInt('totalIters', options.totalIters ?? 5, 1);
    this._initialStep();
  }

  /** "LinearLR". @example `sched.type // 'LinearLR'` */
  get type(): string {
    return 'LinearLR';
  }

  protected computeLr(): number {
    const lr = this.optimizer.lr;
    const s = this.#startFactor;
    const f = this.#endFactor;
    if (this.lastEpoch === 0) return lr * s;
    if (this.lastEpoch > this.#totalIters) return lr;
    return lr * (1 + (f - s) / (this.#totalIters * s + (this.lastEpoch - 1) * (f - s)));
  }

  protected override closedFormLr(): number {
    const s = this.#startFactor;
    const f = this.#endFactor;
    return this.baseLr * (s + ((f - s) * Math.min(this.#totalIters, this.lastEpoch)) / this.#totalIters);
  }

  protected settings(): SchedulerState {
    return { startFactor: this.#startFactor, endFactor: this.#endFactor, totalIters: this.#totalIters };
  }

  protected loadSettings(state: SchedulerState): () => void {
    const startFactor = stateNumber(state, 'startFactor', Number.MIN_VALUE, 1);
    const endFactor = stateNumber(state, 'endFactor', 0, 1);
    const totalIters = checkInt('state.totalIters', state['totalIters'], 1);
    return () => {
      this.#startFactor = startFactor;
      this.#endFactor = endFactor;
      this.#totalIters = totalIters;
    };
  }
}
