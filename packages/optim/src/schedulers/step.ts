import { checkInt, checkNumber } from '@dlf/tensor-core';
import { type Optimizer, stateNumber } from '../optimizer.js';
import { LRScheduler, type SchedulerState } from './base.js';

/**
 * Options for {@link StepLR}.
 *
 * @example
 * ```ts
 * const options: StepLROptions = { stepSize: 30, gamma: 0.1 };
 * ```
 */
export interface StepLROptions {
  /** Steps between decays (a positive integer). */
  stepSize: number;
  /** Multiplicative decay. Default 0.1. */
  gamma?: number;
}

/**
 * Multiplies the learning rate by `gamma` every `stepSize` steps (PyTorch's `StepLR`).
 *
 * @example
 * ```ts
 * const sched = new StepLR(opt, { stepSize: 30, gamma: 0.1 }); // 0.05, then 0.005 from step 30, ...
 * ```
 */
export class StepLR extends LRScheduler {
  #stepSize: number;
  #gamma: number;

  /**
   * Creates the schedule and sets the optimizer's learning rate for step 0.
   *
   * @param optimizer - The optimizer whose learning rate is scheduled.
   * @param options - `stepSize` and `gamma`.
   */
  constructor(optimizer: Optimizer, options: StepLROptions) {
    super(optimizer);
    this.#stepSize = checkInt('stepSize', options?.stepSize, 1);
    this.#gamma = checkNumber('gamma', options.gamma ?? 0.1, 0);
    this._initialStep();
  }

  /** "StepLR". @example `sched.type // 'StepLR'` */
  get type(): string {
    return 'StepLR';
  }

  protected computeLr(): number {
    const lr = this.optimizer.lr;
    if (this.lastEpoch === 0 || this.lastEpoch % this.#stepSize !== 0) return lr;
    return lr * this.#gamma;
  }

  protected override closedFormLr(): number {
    return this.baseLr * this.#gamma ** Math.floor(this.lastEpoch / this.#stepSize);
  }

  protected settings(): SchedulerState {
    return { stepSize: this.#stepSize, gamma: this.#gamma };
  }

  protected loadSettings(state: SchedulerState): () => void {
    const stepSize = checkInt('state.stepSize', state['stepSize'], 1);
    const gamma = stateNumber(state, 'gamma', 0);
    return () => {
      this.#stepSize = stepSize;
      this.#gamma = gamma;
    };
  }
}
