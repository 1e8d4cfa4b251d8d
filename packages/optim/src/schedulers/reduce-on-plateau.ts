import { checkInt, checkNumber, invalidParam } from '@dlf/tensor-core';
import type { Optimizer } from '../optimizer.js';
import { decodeNumber, encodeNumber, LRScheduler, type SchedulerState } from './base.js';

/**
 * Options for {@link ReduceLROnPlateau}.
 *
 * @example
 * ```ts
 * const options: ReduceLROnPlateauOptions = { mode: 'max', patience: 3 };
 * ```
 */
export interface ReduceLROnPlateauOptions {
  /** 'min' (default: lower metric is better, e.g. a loss) or 'max' (e.g. accuracy). */
  mode?: 'min' | 'max';
  /** new lr = lr · factor, in [0, 1). Default 0.1. */
  factor?: number;
  /** Steps without improvement tolerated before reducing. Default 10. */
  patience?: number;
  /** Minimum change that counts as an improvement. Default 1e-4. */
  threshold?: number;
  /** 'rel' (default: relative to the best) or 'abs'. */
  thresholdMode?: 'rel' | 'abs';
  /** Steps to wait after a reduction before counting bad steps again. Default 0. */
  cooldown?: number;
  /** Lower bound of the learning rate. Default 0. */
  minLr?: number;
  /** Reductions smaller than this are skipped. Default 1e-8. */
  eps?: number;
}

/**
 * Reduces the learning rate by `factor` when a metric has stopped improving for `patience` steps
 * (PyTorch's `ReduceLROnPlateau`). Unlike the other schedules it does not touch the learning rate
 * when constructed, and its {@link ReduceLROnPlateau.step} takes the metric.
 *
 * @example
 * ```ts
 * const sched = new ReduceLROnPlateau(opt, { mode: 'max', patience: 2 });
 * sched.step(validationAccuracy);
 * ```
 */
export class ReduceLROnPlateau extends LRScheduler {
  #mode: 'min' | 'max' = 'min';
  #factor = 0.1;
  #patience = 10;
  #threshold = 1e-4;
  #thresholdMode: 'rel' | 'abs' = 'rel';
  #cooldown = 0;
  #minLr = 0;
  #eps = 1e-8;
  #best: number;
  #numBadEpochs = 0;
  #cooldownCounter = 0;

  /**
   * Creates the schedule; the learning rate changes only when {@link ReduceLROnPlateau.step} sees no improvement.
   *
   * @param optimizer - The optimizer whose learning rate is scheduled.
   * @param options - `mode`, `factor`, `patience`, `threshold`, `cooldown` and `minLr`.
   */
  constructor(optimizer: Optimizer, options: ReduceLROnPlateauOptions = {}) {
    super(optimizer, false);
    if (options === null || typeof options !== 'object')
      throw invalidParam('options', 'an object', options, 'type');
    const install = this.#check(
      {
        mode: options.mode ?? 'min',
        factor: options.factor ?? 0.1,
        patience: options.patience ?? 10,
        threshold: options.threshold ?? 1e-4,
        thresholdMode: options.thresholdMode ?? 'rel',
        cooldown: options.cooldown ?? 0,
        minLr: options.minLr ?? 0,
        eps: options.eps ?? 1e-8,
      },
      '',
    );
    install();
    this.lastEpoch = 0;
    this.#best = this.#mode === 'min' ? Infinity : -Infinity;
  }

  #check(s: SchedulerState, prefix: string): () => void {
    const mode = s['mode'];
    if (mode !== 'min' && mode !== 'max') throw invalidParam(`${prefix}mode`, "'min' or 'max'", mode);
    const factor = checkNumber(`${prefix}factor`, s['factor'], 0);
    if (factor >= 1) throw invalidParam(`${prefix}factor`, 'a number in [0, 1)', factor);
    const patience = checkInt(`${prefix}patience`, s['patience'], 0);
    const threshold = checkNumber(`${prefix}threshold`, s['threshold'], 0);
    const thresholdMode = s['thresholdMode'];
    if (thresholdMode !== 'rel' && thresholdMode !== 'abs') {
      throw invalidParam(`${prefix}thresholdMode`, "'rel' or 'abs'", thresholdMode);
    }
    const cooldown = checkInt(`${prefix}cooldown`, s['cooldown'], 0);
    const minLr = checkNumber(`${prefix}minLr`, s['minLr'], 0);
    const eps = checkNumber(`${prefix}eps`, s['eps'], 0);
    return () => {
      this.#mode = mode;
      this.#factor = factor;
      this.#patience = patience;
      this.#threshold = threshold;
      this.#thresholdMode = thresholdMode;
      this.#cooldown = cooldown;
      this.#minLr = minLr;
      this.#eps = eps;
    };
  }

  /** "ReduceLROnPlateau". @example `sched.type // 'ReduceLROnPlateau'` */
  get type(): string {
    return 'ReduceLROnPlateau';
  }

  /** The best metric seen so far (±Infinity before the first step). @example `sched.best` */
  get best(): number {
    return this.#best;
  }

  #isBetter(a: number, best: number): boolean {
    if (this.#mode === 'min' && this.#thresholdMode === 'rel') return a < best * (1 - this.#threshold);
    if (this.#mode === 'min') return a < best - this.#threshold;
    if (this.#thresholdMode === 'rel') return a > best * (this.#threshold + 1);
    return a > best + this.#threshold;
  }

  /**
   * Records one value of the metric (NaN counts as no improvement) and reduces the rate when it has
   * not improved for more than `patience` steps.
   *
   * @example
   * ```ts
   * sched.step(valLoss);
   * ```
   */
  override step(metric?: number): void {
    if (typeof metric !== 'number')
      throw invalidParam('metric', 'a number (the monitored value)', metric, 'type');
    this.lastEpoch++;
    this.stepCount++;
    if (this.#isBetter(metric, this.#best)) {
      this.#best = metric;
      this.#numBadEpochs = 0;
    } else {
      this.#numBadEpochs++;
    }
    if (this.#cooldownCounter > 0) {
      this.#cooldownCounter--;
      this.#numBadEpochs = 0;
    }
    let lr = this.optimizer.lr;
    if (this.#numBadEpochs > this.#patience) {
      const newLr = Math.max(lr * this.#factor, this.#minLr);
      if (lr - newLr > this.#eps) lr = newLr;
      this.#cooldownCounter = this.#cooldown;
      this.#numBadEpochs = 0;
    }
    this.setLr(lr);
  }

  protected computeLr(): number {
    return this.optimizer.lr;
  }

  protected settings(): SchedulerState {
    return {
      mode: this.#mode,
      factor: this.#factor,
      patience: this.#patience,
      threshold: this.#threshold,
      thresholdMode: this.#thresholdMode,
      cooldown: this.#cooldown,
      minLr: this.#minLr,
      eps: this.#eps,
      best: encodeNumber(this.#best),
      numBadEpochs: this.#numBadEpochs,
      cooldownCounter: this.#cooldownCounter,
    };
  }

  protected loadSettings(state: SchedulerState): () => void {
    const install = this.#check(state, 'state.');
    const best = decodeNumber('state.best', state['best']);
    const numBadEpochs = checkInt('state.numBadEpochs', state['numBadEpochs'], 0);
    const cooldownCounter = checkInt('state.cooldownCounter', state['cooldownCounter'], 0);
    return () => {
      install();
      this.#best = best;
      this.#numBadEpochs = numBadEpochs;
      this.#cooldownCounter = cooldownCounter;
    };
  }
}
