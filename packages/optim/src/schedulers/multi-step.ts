import { checkInt, checkNumber, invalidParam } from '@dlf/tensor-core';
import { type Optimizer, stateNumber } from '../optimizer.js';
import { bisectRight, LRScheduler, type SchedulerState } from './base.js';

/**
 * Options for {@link MultiStepLR}.
 *
 * @example
 * ```ts
 * const options: MultiStepLROptions = { milestones: [30, 80] };
 * ```
 */
export interface MultiStepLROptions {
  /** Steps at which to decay (non-negative integers; a step listed twice decays twice). */
  milestones: readonly number[];
  /** Multiplicative decay. Default 0.1. */
  gamma?: number;
}

function checkMilestones(name: string, value: unknown): number[] {
  if (!Array.isArray(value)) throw invalidParam(name, 'an array of non-negative integers', value, 'type');
  return value.map((m, i) => checkInt(`${name}[${i}]`, m, 0)).sort((a, b) => a - b);
}

/**
 * Multiplies the learning rate by `gamma` at each milestone (PyTorch's `MultiStepLR`).
 *
 * @example
 * ```ts
 * const sched = new MultiStepLR(opt, { milestones: [30, 80], gamma: 0.1 });
 * ```
 */
export class MultiStepLR extends LRScheduler {
  #milestones: number[];
  #gamma: number;

  /**
   * Creates the schedule and sets the optimizer's learning rate for step 0.
   *
   * @param optimizer - The optimizer whose learning rate is scheduled.
   * @param options - `milestones` and `gamma`.
   */
  constructor(optimizer: Optimizer, options: MultiStepLROptions) {
    super(optimizer);
    this.#milestones = checkMilestones('milestones', options?.milestones);
    this.#gamma = checkNumber('gamma', options.gamma ?? 0.1, 0);
    this._initialStep();
  }

  /** "MultiStepLR". @example `sched.type // 'MultiStepLR'` */
  get type(): string {
    return 'MultiStepLR';
  }

  protected computeLr(): number {
    const lr = this.optimizer.lr;
    const count = this.#milestones.filter((m) => m === this.lastEpoch).length;
    if (count === 0) return lr;
    return lr * this.#gamma ** count;
  }

  protected override closedFormLr(): number {
    return this.baseLr * this.#gamma ** bisectRight(this.#milestones, this.lastEpoch);
  }

  protected settings(): SchedulerState {
    return { milestones: [...this.#milestones], gamma: this.#gamma };
  }

  protected loadSettings(state: SchedulerState): () => void {
    const milestones = checkMilestones('state.milestones', state['milestones']);
    const gamma = stateNumber(state, 'gamma', 0);
    return () => {
      this.#milestones = milestones;
      this.#gamma = gamma;
    };
  }
}
