import { checkNumber } from '@dlf/tensor-core';
import { type Optimizer, stateNumber } from '../optimizer.js';
import { LRScheduler, type SchedulerState } from './base.js';

/**
 * Options for {@link ExponentialLR}.
 *
 * @example
 * ```ts
 * const options: ExponentialLROptions = { gamma: 0.95 };
 * ```
 */
export interface ExponentialLROptions {
  /** Multiplicative decay per step. */
  gamma: number;
}

/**
 * Multiplies the learning rate by `gamma` every step (PyTorch's `ExponentialLR`).
 *
 * @example
 * ```ts
 * const sched = new ExponentialLR(opt, { gamma: 0.95 });
 * ```
 */
export class ExponentialLR extends LRScheduler {
  #gamma: number;

  /**
   * Creates the schedule and sets the optimizer's learning rate for step 0.
   *
   * @param optimizer - The optimizer whose learning rate is scheduled.
   * @param options - `gamma`, the factor per step.
   */
  constructor(optimizer: Optimizer, options: ExponentialLROptions) {
    super(optimizer);
    this.#gamma = checkNumber('gamma', options?.gamma, 0);
    this._initialStep();
  }

  /** "ExponentialLR". @example `sched.type // 'ExponentialLR'` */
  get type(): string {
    return 'ExponentialLR';
  }

  protected computeLr(): number {
    if (this.lastEpoch === 0) return this.optimizer.lr;
    return this.optimizer.lr * this.#gamma;
  }

  protected override closedFormLr(): number {
    return this.baseLr * this.#gamma ** this.lastEpoch;
  }

  protected settings(): SchedulerState {
    return { gamma: this.#gamma };
  }

  protected loadSettings(state: SchedulerState): () => void {
    const gamma = stateNumber(state, 'gamma', 0);
    return () => {
      this.#gamma = gamma;
    };
  }
}
