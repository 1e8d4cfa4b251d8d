/**
 * Weight averaging for {@link fit}: an exponential moving average (EMA) of the model's parameters
 * and batch-norm running statistics, kept in a second copy of the model that validation, the final
 * model and checkpoints use.
 */
import { type DescribedModel, modelFromJSON } from '@dlf/nn';
import { ExponentialMovingAverage } from '@dlf/optim';
import { checkNumber, Generator, invalidParam, type Tensor } from '@dlf/tensor-core';

/** Weight-averaging options of {@link fit} (`FitOptions.ema`). */
export interface EmaConfig {
  /**
   * How much of the average each optimizer step keeps, in (0, 1): 0.999 averages over roughly the
   * last 1,000 steps. The decay warms up as `min(decay, (1 + n) / (10 + n))` for update `n`.
   */
  decay: number;
}

/** An EMA's tensors and settings as a checkpoint stores them. */
export interface EmaState {
  /** The averaged parameters and buffers, by the model's state-dict names. */
  tensors: Map<string, Tensor>;
  /** The decay, warm-up and update count. */
  meta: Record<string, unknown>;
}

/** Checks `FitOptions.ema` (undefined: no averaging). */
export function checkEma(ema: EmaConfig | undefined): EmaConfig | undefined {
  if (ema === undefined) return undefined;
  if (ema === null || typeof ema !== 'object') throw invalidParam('ema', 'an object { decay }', ema, 'type');
  const decay = checkNumber('ema.decay', ema.decay, 0, 1);
  if (decay === 0 || decay === 1) throw invalidParam('ema.decay', 'a number in (0, 1)', decay);
  return { decay };
}

/**
 * A model's exponential moving average, held in a copy of the model (same architecture, built
 * from `model.toJSON()`), updated in place after each optimizer step by one native call.
 *
 * @example
 * ```ts
 * const average = new WeightAverage(model, { decay: 0.999 });
 * // after every optimizer step:
 * average.update();
 * await evaluate(average.model, test);
 * average.dispose();
 * ```
 */
export class WeightAverage {
  /** The averaged copy: evaluate or save it. Owned by this object. */
  readonly model: DescribedModel;
  readonly #ema: ExponentialMovingAverage;

  /**
   * Starts the average at the model's current weights.
   *
   * @param source - The model being trained.
   * @param config - The decay.
   */
  constructor(source: DescribedModel, config: EmaConfig) {
    const { decay } = checkEma(config)!;
    // Its own generator: building the copy must not advance the training run's random stream.
    this.model = modelFromJSON(source.toJSON(), { generator: new Generator(0) });
    try {
      const sources = source.stateDict();
      this.model.loadStateDict(sources);
      this.model.eval();
      const averages = this.model.stateDict();
      this.#ema = new ExponentialMovingAverage(
        averages.values(),
        [...averages.keys()].map((name) => sources.get(name)!),
        { decay },
      );
    } catch (e) {
      this.model.dispose();
      throw e;
    }
  }

  /** Updates done (one per optimizer step). @example `average.updates // 0` */
  get updates(): number {
    return this.#ema.updates;
  }

  /** Moves the average one step towards the model's weights. Allocates nothing. */
  update(): void {
    this.#ema.update();
  }

  /**
   * The averaged tensors (the copy's own: do not dispose them) and settings, for a checkpoint.
   *
   * @example
   * ```ts
   * const { tensors, meta } = average.state();
   * ```
   */
  state(): EmaState {
    return { tensors: this.model.stateDict(), meta: this.#ema.stateDict().state };
  }

  /**
   * Restores the average from a checkpoint (its tensors are copied).
   *
   * @example
   * ```ts
   * average.load(checkpoint.ema);
   * ```
   */
  load(saved: EmaState): void {
    if (saved.meta['type'] === 'lookahead') {
      throw new RangeError(
        "The checkpoint's weight average is a lookahead average, not an exponential moving average; resume it with lookahead instead of ema.",
      );
    }
    const decay = saved.meta['decay'];
    if (decay !== this.#ema.decay) {
      throw new RangeError(
        `The checkpoint's weight average has decay ${String(decay)} but this run uses ${this.#ema.decay}.`,
      );
    }
    this.#ema.loadStateDict({ state: saved.meta as never });
    this.model.loadStateDict(saved.tensors);
  }

  /** Frees the averaged copy. */
  dispose(): void {
    this.model.dispose();
  }
}
