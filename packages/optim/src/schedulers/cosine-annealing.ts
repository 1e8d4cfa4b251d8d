import { checkInt, checkNumber } from '@dlf/tensor-core';
import { type Optimizer, stateNumber } from '../optimizer.js';
import { LRScheduler, type SchedulerState } from './base.js';

/** Python's `a % b` for b > 0 (the result has the sign of b). */
function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/**
 * Options for {@link CosineAnnealingLR}.
 *
 * @example
 * ```ts
 * const options: CosineAnnealingLROptions = { tMax: 100, etaMin: 1e-5 };
 * ```
 */
export interface CosineAnnealingLROptions {
  /** Steps of a half cosine period (a positive integer). */
  tMax: number;
  /** The lowest learning rate. Default 0. */
  etaMin?: number;
}

/**
 * Cosine annealing from the initial rate to `etaMin` over `tMax` steps, rising again after (PyTorch's
 * `CosineAnnealingLR`, the annealing part of SGDR without restarts), computed with PyTorch's
 * recursive form so that it composes with other schedules as PyTorch's does.
 *
 * @example
 * ```ts
 * const sched = new CosineAnnealingLR(opt, { tMax: 100, etaMin: 1e-5 });
 * ```
 */
export class CosineAnnealingLR extends LRScheduler {
  #tMax: number;
  #etaMin: number;

  /**
   * Creates the schedule and sets the optimizer's learning rate for step 0.
   *
   * @param optimizer - The optimizer whose learning rate is scheduled.
   * @param options - `tMax` (steps per half cosine) and `etaMin`.
   */
  constructor(optimizer: Optimizer, options: CosineAnnealingLROptions) {
    super(optimizer);
    this.#tMax = checkInt('tMax', options?.tMax, 1);
    this.#etaMin = checkNumber('etaMin', options.etaMin ?? 0, 0);
    this._initialStep();
  }

  /** "CosineAnnealingLR". @example `sched.type // 'CosineAnnealingLR'` */
  get type(): string {
    return 'CosineAnnealingLR';
  }

  protected computeLr(): number {
    const e = this.lastEpoch;
    const t = this.#tMax;
    const etaMin = this.#etaMin;
    const lr = this.optimizer.lr;
    if (e === 0) return lr;
    if (this.stepCount === 1 && e > 0) {
      return etaMin + ((this.baseLr - etaMin) * (1 + Math.cos((e * Math.PI) / t))) / 2;
    }
    if (pyMod(e - 1 - t, 2 * t) === 0) {
      return lr + ((this.baseLr - etaMin) * (1 - Math.cos(Math.PI / t))) / 2;
    }
    return (
      ((1 + Math.cos((Math.PI * e) / t)) / (1 + Math.cos((Math.PI * (e - 1)) / t))) * (lr - etaMin) + etaMin
    );
  }

  protected override closedFormLr(): number {
    const etaMin = this.#etaMin;
    return etaMin + ((this.baseLr - etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.#tMax))) / 2;
  }

  protected settings(): SchedulerState {
    return { tMax: this.#tMax, etaMin: this.#etaMin };
  }

  protected loadSettings(state: SchedulerState): () => void {
    const tMax = checkInt('state.tMax', state['tMax'], 1);
    const etaMin = stateNumber(state, 'etaMin', 0);
    return () => {
      this.#tMax = tMax;
      this.#etaMin = etaMin;
    };
  }
}
