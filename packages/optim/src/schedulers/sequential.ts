import { checkInt, invalidParam } from '@dlf/tensor-core';
import type { Optimizer } from '../optimizer.js';
import { bisectRight, LRScheduler, type SchedulerState } from './base.js';
import { ReduceLROnPlateau } from './reduce-on-plateau.js';

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

  /**
   * Creates the schedule and sets the optimizer's learning rate for step 0.
   *
   * @param optimizer - The optimizer whose learning rate is scheduled.
   * @param options - `schedulers` and the `milestones` where each takes over.
   */
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
