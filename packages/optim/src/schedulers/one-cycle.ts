import { checkInt, checkNumber, invalidParam } from '@dlf/tensor-core';
import type { Optimizer } from '../optimizer.js';
import { LRScheduler, type SchedulerState } from './base.js';

/**
 * Options for {@link OneCycleLR}. Give `totalSteps`, or `epochs` and `stepsPerEpoch`.
 *
 * @example
 * ```ts
 * const options: OneCycleLROptions = { maxLr: 0.1, epochs: 10, stepsPerEpoch: 782 };
 * ```
 */
export interface OneCycleLROptions {
  /** The peak learning rate. */
  maxLr: number;
  /** Steps in the cycle (a positive integer). */
  totalSteps?: number;
  /** With `stepsPerEpoch`, sets totalSteps = epochs · stepsPerEpoch. */
  epochs?: number;
  /** With `epochs`, sets totalSteps = epochs · stepsPerEpoch. */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the rate, in [0, 1]. Default 0.3. */
  pctStart?: number;
  /** 'cos' (default) or 'linear'. */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (SGD's `momentum`, Adam's beta1) inversely to the rate. Default true. */
  cycleMomentum?: boolean;
  /** The lowest momentum. Default 0.85. */
  baseMomentum?: number;
  /** The highest momentum. Default 0.95. */
  maxMomentum?: number;
  /** initialLr = maxLr / divFactor. Default 25. */
  divFactor?: number;
  /** minLr = initialLr / finalDivFactor. Default 1e4. */
  finalDivFactor?: number;
  /** Three phases (up, down to initialLr, down to minLr) instead of two. Default false. */
  threePhase?: boolean;
}

interface Phase {
  endStep: number;
  startLr: 'initial' | 'max' | 'min';
  endLr: 'initial' | 'max' | 'min';
  startMomentum: 'max' | 'base';
  endMomentum: 'max' | 'base';
}

interface MomentumOptimizer {
  momentum?: number;
  betas?: readonly [number, number];
}

/**
 * The 1cycle policy (PyTorch's `OneCycleLR`): the rate rises from `maxLr / divFactor` to `maxLr` over
 * the first `pctStart` of `totalSteps`, then anneals to `maxLr / divFactor / finalDivFactor`, while the
 * momentum (SGD's `momentum`, Adam's beta1) moves the opposite way between `maxMomentum` and
 * `baseMomentum`. Step it once per batch; stepping past `totalSteps` throws.
 *
 * @example
 * ```ts
 * const sched = new OneCycleLR(opt, { maxLr: 0.1, epochs: 10, stepsPerEpoch: batches.length });
 * ```
 */
export class OneCycleLR extends LRScheduler {
  #totalSteps = 0;
  #phases: Phase[] = [];
  #anneal: 'cos' | 'linear' = 'cos';
  #cycleMomentum = true;
  #useBeta1 = false;
  #lrs = { initial: 0, max: 0, min: 0 };
  #momenta = { max: 0, base: 0 };
  #settings: SchedulerState = {};

  /**
   * Creates the schedule and sets the optimizer's learning rate for step 0.
   *
   * @param optimizer - The optimizer whose learning rate is scheduled.
   * @param options - `maxLr`, `totalSteps` (or `epochs` × `stepsPerEpoch`) and the phase settings.
   */
  constructor(optimizer: Optimizer, options: OneCycleLROptions) {
    super(optimizer);
    if (options === null || typeof options !== 'object')
      throw invalidParam('options', 'an object', options, 'type');
    let totalSteps: number;
    if (options.totalSteps !== undefined) {
      totalSteps = checkInt('totalSteps', options.totalSteps, 1);
    } else if (options.epochs !== undefined || options.stepsPerEpoch !== undefined) {
      totalSteps =
        checkInt('epochs', options.epochs, 1) * checkInt('stepsPerEpoch', options.stepsPerEpoch, 1);
    } else {
      throw invalidParam('options', 'totalSteps, or epochs and stepsPerEpoch', options);
    }
    const maxLr = checkNumber('maxLr', options.maxLr, 0);
    const divFactor = checkNumber('divFactor', options.divFactor ?? 25, Number.MIN_VALUE);
    const finalDivFactor = checkNumber('finalDivFactor', options.finalDivFactor ?? 1e4, Number.MIN_VALUE);
    const settings: SchedulerState = {
      totalSteps,
      maxLr,
      pctStart: checkNumber('pctStart', options.pctStart ?? 0.3, 0, 1),
      annealStrategy: options.annealStrategy ?? 'cos',
      cycleMomentum: options.cycleMomentum ?? true,
      baseMomentum: checkNumber('baseMomentum', options.baseMomentum ?? 0.85, 0),
      maxMomentum: checkNumber('maxMomentum', options.maxMomentum ?? 0.95, 0),
      divFactor,
      finalDivFactor,
      threePhase: options.threePhase ?? false,
      initialLr: maxLr / divFactor,
      minLr: maxLr / divFactor / finalDivFactor,
    };
    this.#configure(settings, 'options')();
    // As PyTorch: the optimizer's initial rate becomes maxLr / divFactor and its momentum starts at max.
    optimizer.initialLr = this.#lrs.initial;
    this.baseLr = this.#lrs.initial;
    if (this.#cycleMomentum) this.#setMomentum(this.#momenta.max);
    this._initialStep();
  }

  /** Validates settings; returns the function that installs them. */
  #configure(s: SchedulerState, prefix: string): () => void {
    const name = (k: string) => (prefix === 'options' ? k : `${prefix}.${k}`);
    const totalSteps = checkInt(name('totalSteps'), s['totalSteps'], 1);
    const pctStart = checkNumber(name('pctStart'), s['pctStart'], 0, 1);
    const anneal = s['annealStrategy'];
    if (anneal !== 'cos' && anneal !== 'linear')
      throw invalidParam(name('annealStrategy'), "'cos' or 'linear'", anneal);
    const cycleMomentum = s['cycleMomentum'];
    if (typeof cycleMomentum !== 'boolean')
      throw invalidParam(name('cycleMomentum'), 'a boolean', cycleMomentum, 'type');
    const threePhase = s['threePhase'];
    if (typeof threePhase !== 'boolean')
      throw invalidParam(name('threePhase'), 'a boolean', threePhase, 'type');
    const initial = checkNumber(name('initialLr'), s['initialLr'], 0);
    const max = checkNumber(name('maxLr'), s['maxLr'], 0);
    const min = checkNumber(name('minLr'), s['minLr'], 0);
    const baseMomentum = checkNumber(name('baseMomentum'), s['baseMomentum'], 0);
    const maxMomentum = checkNumber(name('maxMomentum'), s['maxMomentum'], 0);
    const phases: Phase[] = threePhase
      ? [
          {
            endStep: pctStart * totalSteps - 1,
            startLr: 'initial',
            endLr: 'max',
            startMomentum: 'max',
            endMomentum: 'base',
          },
          {
            endStep: 2 * pctStart * totalSteps - 2,
            startLr: 'max',
            endLr: 'initial',
            startMomentum: 'base',
            endMomentum: 'max',
          },
          {
            endStep: totalSteps - 1,
            startLr: 'initial',
            endLr: 'min',
            startMomentum: 'max',
            endMomentum: 'max',
          },
        ]
      : [
          {
            endStep: pctStart * totalSteps - 1,
            startLr: 'initial',
            endLr: 'max',
            startMomentum: 'max',
            endMomentum: 'base',
          },
          {
            endStep: totalSteps - 1,
            startLr: 'max',
            endLr: 'min',
            startMomentum: 'base',
            endMomentum: 'max',
          },
        ];
    // PyTorch divides by each phase's length; a phase of length 0 would divide by zero.
    let start = 0;
    for (const p of phases) {
      if (p.endStep === start) {
        throw invalidParam(
          name('totalSteps'),
          'enough steps for every phase (pctStart · totalSteps must not be 1, or 0.5 with threePhase)',
          totalSteps,
        );
      }
      start = p.endStep;
    }
    let useBeta1 = false;
    if (cycleMomentum) {
      const opt = this.optimizer as unknown as MomentumOptimizer;
      if ('betas' in opt) useBeta1 = true;
      else if (!('momentum' in opt)) {
        throw invalidParam(
          'optimizer',
          'an optimizer with momentum or betas when cycleMomentum is true',
          this.optimizer,
        );
      }
    }
    const settings: SchedulerState = {
      totalSteps,
      maxLr: max,
      pctStart,
      annealStrategy: anneal,
      cycleMomentum,
      baseMomentum,
      maxMomentum,
      divFactor: s['divFactor'] ?? null,
      finalDivFactor: s['finalDivFactor'] ?? null,
      threePhase,
      initialLr: initial,
      minLr: min,
    };
    return () => {
      this.#totalSteps = totalSteps;
      this.#phases = phases;
      this.#anneal = anneal;
      this.#cycleMomentum = cycleMomentum;
      this.#useBeta1 = useBeta1;
      this.#lrs = { initial, max, min };
      this.#momenta = { max: maxMomentum, base: baseMomentum };
      this.#settings = settings;
    };
  }

  /** "OneCycleLR". @example `sched.type // 'OneCycleLR'` */
  get type(): string {
    return 'OneCycleLR';
  }

  /** Throws RangeError instead of stepping past `totalSteps`. */
  override step(metric?: number): void {
    if (this.lastEpoch + 1 > this.#totalSteps) {
      throw new RangeError(
        `OneCycleLR: tried to step ${this.lastEpoch + 2} times, but the schedule has totalSteps = ${this.#totalSteps}`,
      );
    }
    super.step(metric);
  }

  #annealFn(start: number, end: number, pct: number): number {
    if (this.#anneal === 'linear') return (end - start) * pct + start;
    const cosOut = Math.cos(Math.PI * pct) + 1;
    return end + ((start - end) / 2.0) * cosOut;
  }

  #setMomentum(m: number): void {
    const opt = this.optimizer as unknown as MomentumOptimizer;
    if (this.#useBeta1) opt.betas = [m, opt.betas![1]];
    else opt.momentum = m;
  }

  protected computeLr(): number {
    const stepNum = this.lastEpoch;
    let startStep = 0;
    let lr = 0;
    for (let i = 0; i < this.#phases.length; i++) {
      const phase = this.#phases[i]!;
      const endStep = phase.endStep;
      if (stepNum <= endStep || i === this.#phases.length - 1) {
        const pct = (stepNum - startStep) / (endStep - startStep);
        lr = this.#annealFn(this.#lrs[phase.startLr], this.#lrs[phase.endLr], pct);
        if (this.#cycleMomentum) {
          this.#setMomentum(
            this.#annealFn(this.#momenta[phase.startMomentum], this.#momenta[phase.endMomentum], pct),
          );
        }
        break;
      }
      startStep = phase.endStep;
    }
    return lr;
  }

  protected settings(): SchedulerState {
    return { ...this.#settings };
  }

  protected loadSettings(state: SchedulerState): () => void {
    return this.#configure(state, 'state');
  }
}
