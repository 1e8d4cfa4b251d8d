/** The base of every learning-rate schedule, its state dict, and helpers the schedules share. */
import { checkInt, invalidParam } from '@dlf/tensor-core';
import { type JsonValue, Optimizer, stateNumber } from '../optimizer.js';

/**
 * A schedule's saved state: JSON-serialisable scalars only.
 *
 * @example
 * ```ts
 * const state: SchedulerState = JSON.parse(JSON.stringify(sched.stateDict()));
 * ```
 */
export type SchedulerState = { [key: string]: JsonValue };

/** The number of sorted values <= x (Python's `bisect.bisect_right`). */
export function bisectRight(sorted: readonly number[], x: number): number {
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
export function encodeNumber(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}
export function decodeNumber(name: string, v: unknown): number {
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
