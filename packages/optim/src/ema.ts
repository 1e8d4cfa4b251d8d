import { optim as native } from '@dlf/native/optim';
import type { Handle } from '@dlf/native';
import { checkNumber, invalidParam, isTensor, type Tensor } from '@dlf/tensor-core';
import { type StateDict, stateBool, stateNumber } from './optimizer.js';

/**
 * Options for {@link ExponentialMovingAverage}.
 *
 * @example
 * ```ts
 * const options: EmaOptions = { decay: 0.999, warmup: true };
 * ```
 */
export interface EmaOptions {
  /** How much of the old average each update keeps, in [0, 1). 0 makes the average a plain copy. */
  decay: number;
  /**
   * Ramp the decay up as `min(decay, (1 + n) / (10 + n))` for update `n` (0-based), so the first
   * updates do not keep the starting weights for thousands of steps. Default true.
   */
  warmup?: boolean;
}

function checkTensors(name: string, list: Iterable<Tensor>): Tensor[] {
  if (list === null || typeof list !== 'object' || !(Symbol.iterator in list)) {
    throw invalidParam(name, 'an iterable of tensors', list, 'type');
  }
  const out = [...list];
  out.forEach((t, i) => {
    if (!isTensor(t) || t.dtype !== 'float32') {
      throw invalidParam(
        `${name}[${i}]`,
        'a float32 tensor',
        isTensor(t) ? `a ${t.dtype} tensor` : t,
        'type',
      );
    }
  });
  return out;
}

/**
 * An exponential moving average of tensors (model weights and batch-norm running statistics), kept
 * in tensors the caller owns: after each {@link ExponentialMovingAverage.update},
 * `average = d · average + (1 − d) · source` for every pair, in place, in one native call, with
 * `d` the decay of that update. Nothing is allocated per update.
 *
 * Averaging the weights of the last few hundred steps smooths out SGD's noise (Polyak averaging);
 * the averaged weights often evaluate better than the last ones while the learning rate is high.
 *
 * @example
 * ```ts
 * const averaged = modelFromJSON(model.toJSON());
 * averaged.loadStateDict(model.stateDict());
 * const ema = new ExponentialMovingAverage([...averaged.stateDict().values()], [...model.stateDict().values()], {
 *   decay: 0.999,
 * });
 * // after every optimizer step:
 * ema.update();
 * ```
 */
export class ExponentialMovingAverage {
  readonly #averageHandles: Handle[];
  readonly #sourceHandles: Handle[];
  #decay: number;
  #warmup: boolean;
  #updates = 0;

  /**
   * @param averages - The tensors that hold the average (updated in place; the caller owns them).
   * @param sources - The tensors averaged, one per average, of the same shape (float32, contiguous).
   * @param options - The decay and whether it warms up.
   */
  constructor(averages: Iterable<Tensor>, sources: Iterable<Tensor>, options: EmaOptions) {
    if (options === null || typeof options !== 'object') {
      throw invalidParam('options', 'an object with at least decay', options, 'type');
    }
    const a = checkTensors('averages', averages);
    const s = checkTensors('sources', sources);
    if (a.length !== s.length) {
      throw invalidParam('sources', `${a.length} tensors (one per average)`, `${s.length} tensors`);
    }
    a.forEach((t, i) => {
      const u = s[i]!;
      if (t.shape.length !== u.shape.length || t.shape.some((d, k) => d !== u.shape[k])) {
        throw invalidParam(
          `sources[${i}]`,
          `shape [${t.shape.join(', ')}] (its average's)`,
          `shape [${u.shape.join(', ')}]`,
        );
      }
    });
    this.#decay = checkNumber('decay', options.decay, 0, 1);
    if (this.#decay === 1) throw invalidParam('decay', 'a number in [0, 1)', 1);
    const warmup = options.warmup ?? true;
    if (typeof warmup !== 'boolean') throw invalidParam('warmup', 'a boolean', warmup, 'type');
    this.#warmup = warmup;
    // Handles resolved once: an update passes the same two arrays every time.
    this.#averageHandles = a.map((t) => t.handle);
    this.#sourceHandles = s.map((t) => t.handle);
  }

  /** The configured decay. @example `ema.decay // 0.999` */
  get decay(): number {
    return this.#decay;
  }

  /** Updates done so far. @example `ema.updates // 0` */
  get updates(): number {
    return this.#updates;
  }

  /**
   * The decay update `n` (0-based) uses: the configured one, or less while it warms up.
   *
   * @example
   * ```ts
   * new ExponentialMovingAverage([a], [b], { decay: 0.999 }).decayAt(0); // 0.1
   * ```
   */
  decayAt(n: number): number {
    return this.#warmup ? Math.min(this.#decay, (1 + n) / (10 + n)) : this.#decay;
  }

  /**
   * Moves every average one step towards its source (one native call, in place). `decay` replaces
   * the scheduled decay for this update, for averages whose decay follows a schedule of their own
   * (lookahead's grows with training progress): 0 copies each source into its average, 1 leaves the
   * averages as they are.
   *
   * @param decay - This update's decay in [0, 1] (default: {@link ExponentialMovingAverage.decayAt}).
   * @example
   * ```ts
   * opt.step();
   * ema.update();
   * ema.update(0.5); // halfway towards the sources
   * ```
   */
  update(decay?: number): void {
    const d = decay === undefined ? this.decayAt(this.#updates) : checkNumber('decay', decay, 0, 1);
    native.emaUpdate(this.#averageHandles, this.#sourceHandles, d);
    this.#updates++;
  }

  /**
   * The average's settings and update count (its tensors are the caller's to save).
   *
   * @example
   * ```ts
   * const { state } = ema.stateDict(); // { type: 'EMA', decay: 0.999, warmup: true, updates: 1960 }
   * ```
   */
  stateDict(): StateDict {
    return {
      state: { type: 'EMA', decay: this.#decay, warmup: this.#warmup, updates: this.#updates },
      tensors: new Map(),
    };
  }

  /**
   * Restores the settings and update count saved by {@link ExponentialMovingAverage.stateDict}.
   *
   * @example
   * ```ts
   * ema.loadStateDict(JSON.parse(text));
   * ```
   */
  loadStateDict(saved: Pick<StateDict, 'state'>): void {
    const state = saved?.state;
    if (state === null || typeof state !== 'object' || state['type'] !== 'EMA') {
      throw invalidParam('state', 'the state of an ExponentialMovingAverage', state, 'type');
    }
    const decay = stateNumber(state, 'decay', 0, 1);
    const warmup = stateBool(state, 'warmup');
    const updates = stateNumber(state, 'updates', 0);
    if (!Number.isInteger(updates)) throw invalidParam('state.updates', 'an integer', updates);
    this.#decay = decay;
    this.#warmup = warmup;
    this.#updates = updates;
  }
}
