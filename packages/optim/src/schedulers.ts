import { checkInt, checkNumber, invalidParam } from '@dlf/tensor-core';
import { type JsonValue, Optimizer, stateNumber } from './optimizer.js';

/**
 * A schedule's saved state: JSON-serialisable scalars only.
 *
 * @example
 * ```ts
 * const state: SchedulerState = JSON.parse(JSON.stringify(sched.stateDict()));
 * ```
 */
export type SchedulerState = { [key: string]: JsonValue };

/** Python's `a % b` for b > 0 (the result has the sign of b). */
function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** The number of sorted values <= x (Python's `bisect.bisect_right`). */
function bisectRight(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < sorted[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** JSON has no Infinity or NaN: store them as strings. */
function encodeNumber(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}
function decodeNumber(name: string, v: unknown): number {
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (v === 'NaN') return Number.NaN;
  if (typeof v !== 'number') throw invalidParam(name, 'a number', v, 'type');
  return v;
}

/**
 * The base of every learning-rate schedule. A schedule drives its optimizer's {@link Optimizer.lr}:
 * call {@link LRScheduler.step} once per epoch (or per iteration, as the schedule is meant) after
 * `optimizer.step()`. Schedules follow PyTorch 1.13's `torch.optim.lr_scheduler` exactly, including
 * its recursive ("chainable") update forms, so several schedules may drive one optimizer and the
 * learning-rate sequence matches PyTorch's to the last bits of a double.
 *
 * One deliberate difference: a schedule never sets a negative rate. Where PyTorch's formulas dip
 * below zero (rounding in a linear decay to 0 gives -2e-18; OneCycleLR's last step with linear
 * annealing extrapolates past the minimum), the rate is 0.
 *
 * Constructing a schedule applies its value for step 0 to the optimizer (as PyTorch does). To
 * resume, construct the optimizer and its schedules as in the original run, then load both state
 * dicts (in any order).
 *
 * @example
 * ```ts
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * const sched = new CosineAnnealingLR(opt, { tMax: epochs });
 * for (let epoch = 0; epoch < epochs; epoch++) {
 *   trainOneEpoch(opt);
 *   sched.step();
 * }
 * ```
 */
export abstract class LRScheduler {
  /** The optimizer whose learning rate this schedule sets. @example `sched.optimizer.lr` */
  readonly optimizer: Optimizer;
  /** The index of the current step (0 after construction, +1 per {@link LRScheduler.step}). @example `sched.lastEpoch // 0` */
  lastEpoch = -1;
  /** @internal The learning rate the schedule starts from (the optimizer's `initialLr`). */
  protected baseLr: number;
  /** @internal Calls of step, the constructor's included (PyTorch's `_step_count`). */
  protected stepCount = 0;
  #lastLr: number;

  /**
   * @param optimizer - the optimizer to drive
   * @param recordInitialLr - set the optimizer's `initialLr` to its current rate if unset (PyTorch's
   *   `setdefault('initial_lr', lr)`); ReduceLROnPlateau does not
   */
  protected constructor(optimizer: Optimizer, recordInitialLr = true) {
    if (!(optimizer instanceof Optimizer)) throw invalidParam('optimizer', 'an Optimizer', optimizer, 'type');
    this.optimizer = optimizer;
    if (recordInitialLr) optimizer.initialLr ??= optimizer.lr;
    this.baseLr = optimizer.initialLr ?? optimizer.lr;
    this.#lastLr = optimizer.lr;
  }

  /** The schedule's name, stored as `type` in its state dict ("StepLR", ...). @example `sched.type` */
  abstract get type(): string;

  /**
   * Advances the schedule by one step and sets the optimizer's learning rate. `metric` is used only
   * by {@link ReduceLROnPlateau}.
   *
   * @example
   * ```ts
   * opt.step();
   * sched.step();
   * ```
   */
  step(metric?: number): void {
    void metric;
    this.stepCount++;
    this.lastEpoch++;
    this.#apply(this.computeLr());
  }

  /**
   * The learning rate this schedule set last (the optimizer's rate after construction or the latest
   * step).
   *
   * @example
   * ```ts
   * metrics.lr = sched.getLastLr();
   * ```
   */
  getLastLr(): number {
    return this.#lastLr;
  }

  /**
   * The schedule's state: its position, starting rate, last rate and settings, as JSON-serialisable
   * scalars.
   *
   * @example
   * ```ts
   * writeFileSync('sched.json', JSON.stringify(sched.stateDict()));
   * ```
   */
  stateDict(): SchedulerState {
    return {
      type: this.type,
      lastEpoch: this.lastEpoch,
      stepCount: this.stepCount,
      baseLr: this.baseLr,
      lastLr: encodeNumber(this.#lastLr),
      ...this.settings(),
    };
  }

  /**
   * Restores a state from {@link LRScheduler.stateDict} of the same kind of schedule: position,
   * rates and settings (the settings saved win over the constructor's, as in PyTorch). The optimizer's
   * learning rate is restored by the optimizer's own state dict, not here.
   *
   * @example
   * ```ts
   * sched.loadStateDict(JSON.parse(readFileSync('sched.json', 'utf8')));
   * ```
   */
  loadStateDict(state: SchedulerState): void {
    this._prepareLoad(state)();
  }

  /** @internal Checks a state completely; returns the function that installs it (which cannot fail). */
  _prepareLoad(state: SchedulerState): () => void {
    if (state === null || typeof state !== 'object')
      throw invalidParam('state', 'a scheduler state object', state, 'type');
    if (state['type'] !== this.type) {
      throw invalidParam('state.type', `'${this.type}' (the state of a ${this.type})`, state['type']);
    }
    const lastEpoch = checkInt('state.lastEpoch', state['lastEpoch'], -1);
    const stepCount = checkInt('state.stepCount', state['stepCount'], 0);
    const baseLr = stateNumber(state, 'baseLr', 0);
    const lastLr = decodeNumber('state.lastLr', state['lastLr']);
    const install = this.loadSettings(state);
    return () => {
      install();
      this.lastEpoch = lastEpoch;
      this.stepCount = stepCount;
      this.baseLr = baseLr;
      this.#lastLr = lastLr;
    };
  }

  /** @internal The rate for the current `lastEpoch` (PyTorch's `get_lr`). */
  protected abstract computeLr(): number;
  /** @internal The closed form used when stepping to an explicit epoch, if the schedule has one. */
  protected closedFormLr(): number | undefined {
    return undefined;
  }
  /** @internal Settings for the state dict. */
  protected abstract settings(): SchedulerState;
  /** @internal Validates saved settings; returns the function that installs them. */
  protected abstract loadSettings(state: SchedulerState): () => void;

  /** @internal Sets the optimizer's rate and remembers it. */
  protected setLr(lr: number): void {
    this.#apply(lr);
  }

  // Never a negative rate: where PyTorch's formulas dip below zero (rounding in a decay to 0, OneCycleLR's
  // extrapolated last step with linear annealing) the rate is 0.
  #apply(lr: number): void {
    const value = Math.max(lr, 0);
    this.optimizer.lr = value;
    this.#lastLr = value;
  }

  /** @internal PyTorch's `_initial_step`: called at the end of each subclass constructor. */
  _initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** @internal PyTorch's `step(epoch)`: jumps to `epoch` using the closed form when there is one. */
  _stepTo(epoch: number): void {
    this.stepCount++;
    this.lastEpoch = epoch;
    this.#apply(this.closedFormLr() ?? this.computeLr());
  }
}

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

/**
 * Options for {@link SequentialLR}.
 *
 * @example
 * ```ts
 * const options: SequentialLROptions = { schedulers: [warmup, decay], milestones: [5] };
 * ```
 */
export interface SequentialLROptions {
  /** The schedules, in order, all built on the same optimizer. */
  schedulers: readonly LRScheduler[];
  /** The steps at which each next schedule takes over (increasing; one fewer than schedules). */
  milestones: readonly number[];
}

/**
 * Runs schedules one after another, switching at the milestones (PyTorch's `SequentialLR`): the
 * usual way to get linear warm-up followed by decay. Build the child schedules on the optimizer first,
 * then this; step only this one.
 *
 * @example
 * ```ts
 * const warmup = new LinearLR(opt, { startFactor: 0.1, totalIters: 5 });
 * const decay = new CosineAnnealingLR(opt, { tMax: 95 });
 * const sched = new SequentialLR(opt, { schedulers: [warmup, decay], milestones: [5] });
 * ```
 */
export class SequentialLR extends LRScheduler {
  readonly #schedulers: readonly LRScheduler[];
  #milestones: number[];

  constructor(optimizer: Optimizer, options: SequentialLROptions) {
    super(optimizer);
    const schedulers = options?.schedulers;
    if (!Array.isArray(schedulers) || schedulers.length === 0) {
      throw invalidParam('schedulers', 'a non-empty array of schedules', schedulers, 'type');
    }
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) throw invalidParam(`schedulers[${i}]`, 'an LRScheduler', s, 'type');
      if (s instanceof ReduceLROnPlateau || s instanceof SequentialLR) {
        throw invalidParam(
          `schedulers[${i}]`,
          'a step-indexed schedule (not ReduceLROnPlateau or SequentialLR)',
          s,
        );
      }
      if (s.optimizer !== optimizer)
        throw invalidParam(`schedulers[${i}]`, 'a schedule of the same optimizer', s);
    });
    this.#milestones = this.#checkMilestones(options.milestones, schedulers.length, 'milestones');
    this.#schedulers = [...schedulers];
    this.lastEpoch = 0;
    optimizer.lr = optimizer.initialLr!;
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0]!._initialStep();
    this.setLr(schedulers[0]!.getLastLr());
  }

  #checkMilestones(value: unknown, n: number, name: string): number[] {
    if (!Array.isArray(value) || value.length !== n - 1) {
      throw invalidParam(
        name,
        `an array of ${n - 1} increasing step indices (one fewer than schedules)`,
        value,
        'type',
      );
    }
    const ms = value.map((m, i) => checkInt(`${name}[${i}]`, m, 1));
    ms.forEach((m, i) => {
      if (i > 0 && m <= ms[i - 1]!) throw invalidParam(name, 'increasing step indices', value);
    });
    return ms;
  }

  /** "SequentialLR". @example `sched.type // 'SequentialLR'` */
  get type(): string {
    return 'SequentialLR';
  }

  /** Advances the active schedule (switching at a milestone). @example `sched.step()` */
  override step(): void {
    this.lastEpoch++;
    this.stepCount++;
    const idx = bisectRight(this.#milestones, this.lastEpoch);
    const s = this.#schedulers[idx]!;
    if (idx > 0 && this.#milestones[idx - 1] === this.lastEpoch) s._stepTo(0);
    else s.step();
    this.setLr(s.getLastLr());
  }

  protected computeLr(): number {
    return this.optimizer.lr;
  }

  protected settings(): SchedulerState {
    return { milestones: [...this.#milestones], schedulers: this.#schedulers.map((s) => s.stateDict()) };
  }

  protected loadSettings(state: SchedulerState): () => void {
    const milestones = this.#checkMilestones(
      state['milestones'],
      this.#schedulers.length,
      'state.milestones',
    );
    const children = state['schedulers'];
    if (!Array.isArray(children) || children.length !== this.#schedulers.length) {
      throw invalidParam('state.schedulers', `${this.#schedulers.length} schedule states`, children, 'type');
    }
    const installs = this.#schedulers.map((s, i) => {
      const c = children[i] as SchedulerState | null;
      if (c === null || typeof c !== 'object' || c['type'] !== s.type) {
        throw invalidParam(
          `state.schedulers[${i}].type`,
          `'${s.type}'`,
          c && typeof c === 'object' ? c['type'] : c,
        );
      }
      return s._prepareLoad(c);
    });
    return () => {
      this.#milestones = milestones;
      for (const install of installs) install();
    };
  }
}
