/**
 * Lookahead weight averaging for {@link fit}, after the `LookaheadState` of Jordan's airbench: from
 * 30 % of the run on, every 5 optimizer steps a slow copy of the weights moves towards the trained
 * (fast) weights, slow = rho · slow + (1 − rho) · fast, and the fast weights restart from the slow
 * ones; after each epoch's last step the model gets the slow weights once more. The averaging
 * strengthens over the run (rho grows as the cube of the progress), so the run moves fast early and
 * averages strongly at the end. Unlike an EMA the model itself carries the average: validation,
 * checkpoints and the final model need no second copy of the network.
 */
import { type DescribedModel, noGrad, Parameter } from '@dlf/nn';
import { ExponentialMovingAverage } from '@dlf/optim';
import { checkInt, invalidParam, type Tensor } from '@dlf/tensor-core';
import type { LoadedCheckpoint } from './checkpoint.js';
import type { EmaState } from './ema.js';

/** airbench's lookahead constants (its `hyp['opt']['ema']`), with the start as a share of the run. */
export const LOOKAHEAD = Object.freeze({
  /**
   * Lookahead starts with the first epoch that begins at or after this percentage of the run:
   * epoch ⌈0.3 · epochs⌉ (0-based), e.g. after 3 of 10 epochs, as airbench starts after 3 of its
   * 9.9. Whole epochs, because each epoch ends by copying the average into the model.
   */
  startPercent: 30,
  /** Optimizer steps between averagings (steps counted over the whole run). */
  every: 5,
  /** rho = decayBase^every · (step / total steps)^decayPower. */
  decayBase: 0.95,
  /** See `decayBase`. */
  decayPower: 3,
});

/** When a run of a given length averages. */
export interface LookaheadPlan {
  /** The first 0-based epoch whose steps may average. */
  startEpoch: number;
  /** Optimizer steps in the whole run. */
  totalSteps: number;
  /**
   * The first averaging step (1-based optimizer step count), where the slow copy is taken; later
   * multiples of {@link LOOKAHEAD}.every average. Past `totalSteps` when the run never averages.
   */
  firstStep: number;
}

/**
 * When lookahead averages in a run of `epochs` epochs of `batches` steps.
 *
 * @example
 * ```ts
 * lookaheadPlan(10, 48); // { startEpoch: 3, totalSteps: 480, firstStep: 145 }
 * ```
 */
export function lookaheadPlan(epochs: number, batches: number): LookaheadPlan {
  checkInt('epochs', epochs, 0);
  checkInt('batches', batches, 1);
  // Integer arithmetic: ⌈epochs · 30 / 100⌉ without a rounding error at exact multiples.
  const startEpoch = Math.ceil((epochs * LOOKAHEAD.startPercent) / 100);
  const every = LOOKAHEAD.every;
  return {
    startEpoch,
    totalSteps: epochs * batches,
    firstStep: Math.ceil((startEpoch * batches + 1) / every) * every,
  };
}

/**
 * The decay of the averaging at optimizer step `step` (1-based) of `totalSteps`: how much of the
 * slow weights it keeps.
 *
 * @example
 * ```ts
 * lookaheadRho(480, 480); // 0.95 ** 5 ≈ 0.774
 * ```
 */
export function lookaheadRho(step: number, totalSteps: number): number {
  return LOOKAHEAD.decayBase ** LOOKAHEAD.every * (step / totalSteps) ** LOOKAHEAD.decayPower;
}

/**
 * The slow weights of a lookahead run and the two in-place updates that tie them to the model: one
 * native call moves every slow tensor towards the model's, one copies them back. The slow copy is
 * allocated once, at the first averaging step (or when resuming); later steps allocate nothing.
 *
 * @example
 * ```ts
 * const lookahead = new Lookahead(model, 10, loader.length);
 * // after optimizer step `step` (1-based) of 0-based epoch `epoch`:
 * lookahead.afterStep(epoch, step);
 * // after each epoch's last step:
 * lookahead.endEpoch();
 * lookahead.dispose();
 * ```
 */
export class Lookahead {
  /** When this run averages. */
  readonly plan: LookaheadPlan;
  readonly #model: DescribedModel;
  #slow: Map<string, Tensor> | undefined;
  /** slow ← rho · slow + (1 − rho) · fast. */
  #pull: ExponentialMovingAverage | undefined;
  /** fast ← slow (decay 0: a copy). */
  #push: ExponentialMovingAverage | undefined;

  /**
   * @param model - The model being trained (its parameters and batch-norm statistics are averaged).
   * @param epochs - Epochs of the whole run.
   * @param batches - Optimizer steps per epoch.
   */
  constructor(model: DescribedModel, epochs: number, batches: number) {
    this.plan = lookaheadPlan(epochs, batches);
    this.#model = model;
  }

  /** True once the slow copy exists. @example `lookahead.started // false before 30 % of the run` */
  get started(): boolean {
    return this.#slow !== undefined;
  }

  /**
   * Called after optimizer step `step` (1-based, counted over the run) of 0-based epoch `epoch`: on
   * an averaging step, takes the slow copy (the first time) or averages and copies back.
   *
   * @example
   * ```ts
   * opt.step();
   * lookahead.afterStep(epoch, ++step);
   * ```
   */
  afterStep(epoch: number, step: number): void {
    if (epoch < this.plan.startEpoch || step % LOOKAHEAD.every !== 0) return;
    if (!this.#slow) {
      this.#begin(this.#model.stateDict());
      return;
    }
    this.#pull!.update(lookaheadRho(step, this.plan.totalSteps));
    this.#push!.update(0);
  }

  /**
   * After an epoch's last step: the model continues from the slow weights (airbench's update with
   * rho = 1, which leaves the slow weights as they are). Does nothing before the slow copy exists.
   *
   * @example
   * ```ts
   * lookahead.endEpoch();
   * ```
   */
  endEpoch(): void {
    this.#push?.update(0);
  }

  /**
   * The slow weights (this object's own: do not dispose them) and the settings, for a checkpoint's
   * ema.safetensors; undefined before the slow copy exists.
   *
   * @example
   * ```ts
   * const saved = lookahead.state(); // { tensors, meta: { type: 'lookahead', … } } or undefined
   * ```
   */
  state(): EmaState | undefined {
    if (!this.#slow) return undefined;
    const { every, decayBase, decayPower } = LOOKAHEAD;
    return {
      tensors: this.#slow,
      meta: { type: 'lookahead', every, decayBase, decayPower, ...this.plan },
    };
  }

  /**
   * Continues from a checkpoint's average (its tensors are copied), or checks that the run had not
   * yet taken its slow copy at step `step` when the checkpoint has none.
   *
   * @param saved - The checkpoint's ema.safetensors, if any.
   * @param path - The checkpoint, for messages.
   * @param step - Optimizer steps the checkpoint had taken.
   * @example
   * ```ts
   * lookahead.load(checkpoint.ema, checkpoint.path, checkpoint.state.step);
   * ```
   */
  load(saved: EmaState | undefined, path: string, step: number): void {
    if (!saved) {
      if (step >= this.plan.firstStep) {
        throw new RangeError(
          `The checkpoint ${path} has no lookahead average (ema.safetensors) though this run's lookahead starts at step ${this.plan.firstStep}; resume it with the epochs it was started with, or without lookahead.`,
        );
      }
      return;
    }
    if (saved.meta['type'] !== 'lookahead') {
      throw new RangeError(
        `The checkpoint ${path} keeps an exponential moving average of the weights, not a lookahead average; resume it with ema instead of lookahead.`,
      );
    }
    for (const [name, t] of this.#floats(this.#model.stateDict())) {
      const s = saved.tensors.get(name);
      if (s?.dtype !== 'float32' || s.shape.join() !== t.shape.join()) {
        throw new RangeError(
          `The lookahead average of the checkpoint ${path} does not match the model at '${name}' (expected float32 [${t.shape.join(', ')}]).`,
        );
      }
    }
    this.dispose();
    this.#begin(saved.tensors);
  }

  /** Frees the slow copy. */
  dispose(): void {
    if (this.#slow) for (const t of this.#slow.values()) t.dispose();
    this.#slow = undefined;
    this.#pull = undefined;
    this.#push = undefined;
  }

  /**
   * The float tensors of a state dict that are averaged: the trained parameters and batch-norm
   * statistics. Frozen parameters (a whitening stem, BN scales kept at 1) are left out: averaging a
   * tensor with itself would still round, and frozen must mean bit for bit unchanged.
   */
  #floats(state: Map<string, Tensor>): [string, Tensor][] {
    return [...state].filter(
      ([, t]) => t.dtype === 'float32' && !(t instanceof Parameter && !t.requiresGrad),
    );
  }

  /** Takes the slow copy from `from` (the model's state dict or a checkpoint's average). */
  #begin(from: Map<string, Tensor>): void {
    const fast = this.#floats(this.#model.stateDict());
    // Plain copies: outside noGrad, cloning a parameter would record a graph node.
    const slow = noGrad(() => new Map(fast.map(([name]) => [name, from.get(name)!.clone()])));
    this.#slow = slow;
    const fastTensors = fast.map(([, t]) => t);
    this.#pull = new ExponentialMovingAverage(slow.values(), fastTensors, { decay: 0, warmup: false });
    this.#push = new ExponentialMovingAverage(fastTensors, slow.values(), { decay: 0, warmup: false });
  }
}

/**
 * Checks `FitOptions.lookahead` (a boolean or undefined) against the EMA setting: both average the
 * weights, so only one may be on. Returns whether lookahead is on.
 *
 * @example
 * ```ts
 * checkLookahead(true, false); // true
 * ```
 */
export function checkLookahead(lookahead: unknown, ema: boolean): boolean {
  if (lookahead !== undefined && typeof lookahead !== 'boolean') {
    throw invalidParam('lookahead', 'a boolean', lookahead, 'type');
  }
  if (lookahead && ema) {
    throw new RangeError('ema and lookahead both average the weights; pass one of them, not both.');
  }
  return lookahead === true;
}

/**
 * The run's lookahead, continued from the checkpoint when resuming.
 *
 * @example
 * ```ts
 * const lookahead = startLookahead(model, 10, loader.length, checkpoint);
 * ```
 */
export function startLookahead(
  model: DescribedModel,
  epochs: number,
  batches: number,
  resume?: LoadedCheckpoint,
): Lookahead {
  const lookahead = new Lookahead(model, epochs, batches);
  try {
    if (resume) lookahead.load(resume.ema, resume.path, resume.state.step);
    return lookahead;
  } catch (e) {
    lookahead.dispose();
    throw e;
  }
}
