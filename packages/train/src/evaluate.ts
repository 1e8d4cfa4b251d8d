import { DataLoader, type Dataset, type Transform } from '@dlf/data';
import { crossEntropy } from '@dlf/loss';
import { type Module, noGrad } from '@dlf/nn';
import { checkInt, tidy } from '@dlf/tensor-core';
import { AbortError } from './errors.js';
import { type TtaOption, ttaLevel, ttaLogits } from './tta.js';

export { mirrored } from './tta.js';

/** Precision, recall and F1 of one class. */
export interface ClassMetrics {
  /** The class name. */
  class: string;
  /** Correct among the examples predicted as this class, in [0, 1]. */
  precision: number;
  /** Found among the examples of this class, in [0, 1]. */
  recall: number;
  /** Harmonic mean of precision and recall. */
  f1: number;
  /** Examples of this class in the data. */
  support: number;
}

/** What {@link evaluate} measures. */
export interface Evaluation {
  /** Fraction correct, in [0, 1]. */
  accuracy: number;
  /** Mean cross-entropy. */
  loss: number;
  /** Examples evaluated. */
  count: number;
  /** `confusion[true][predicted]` counts. */
  confusion: number[][];
  /** Precision, recall, F1 and support of each class. */
  perClass: ClassMetrics[];
  /** Unweighted mean of the per-class F1 scores. */
  macroF1: number;
  /** Wall time of the evaluation. */
  seconds: number;
  /** Examples evaluated per second. */
  imagesPerSecond: number;
}

/** Options for {@link evaluate}. */
export interface EvaluateOptions {
  /** Examples per forward pass (default 256). */
  batchSize?: number;
  /** Preprocessing (normalisation) applied to each batch. */
  transforms?: readonly Transform[];
  /** Cancels between batches with an {@link AbortError}. */
  signal?: AbortSignal;
  /** Called after each batch with examples done and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Test-time augmentation (default false: none). `true` or `'flip'`: classify each image and its
   * left-right mirror and average the two outputs (logits). `'flip-translate'` (airbench's level 2):
   * ½ of that plus ¼ of the same for the image moved one pixel up-left and ¼ for it moved one pixel
   * down-right (reflect padding at the edges): six forward passes per image. See {@link ttaLogits}.
   */
  tta?: TtaOption;
}

/** Yields to the event loop (timers, I/O, signals) between batches. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Index of the largest value in each row of a [n, c] block. Ties go to the lower index. */
export function argmaxRows(z: Float32Array, n: number, c: number, out: Int32Array): void {
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = z[i * c]!;
    for (let j = 1; j < c; j++) {
      const v = z[i * c + j]!;
      if (v > bv) {
        bv = v;
        best = j;
      }
    }
    out[i] = best;
  }
}

/**
 * Per-class precision, recall and F1 from a confusion matrix (`confusion[true][predicted]`). A class
 * never predicted has precision 0; a class absent from the data has recall 0.
 *
 * @example
 * ```ts
 * classMetrics([[5, 1], [0, 4]], ['cat', 'dog'])[0].recall; // 5/6
 * ```
 */
export function classMetrics(confusion: number[][], classes: readonly string[]): ClassMetrics[] {
  return classes.map((name, k) => {
    const tp = confusion[k]![k]!;
    const support = confusion[k]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[k]!, 0);
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { class: name, precision, recall, f1, support };
  });
}

/**
 * Evaluates a classifier on a dataset in evaluation mode without gradients: accuracy, mean loss,
 * the confusion matrix and per-class precision/recall/F1. Yields to the event loop between batches
 * and stops with an {@link AbortError} when `signal` fires.
 *
 * @example
 * ```ts
 * const r = await evaluate(model, test, { transforms: [normalize(0.1307, 0.3081)] });
 * console.log(r.accuracy, r.perClass[3].f1);
 * ```
 */
export async function evaluate(
  model: Module,
  dataset: Dataset,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const batchSize = checkInt('batchSize', options.batchSize ?? 256, 1);
  const level = ttaLevel(options.tta);
  const k = dataset.classes.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const loader = new DataLoader(dataset, {
    batchSize,
    shuffle: false,
    prefetch: 0,
    transforms: options.transforms ?? [],
  });
  const wasTraining = model.training;
  model.eval();
  const start = performance.now();
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  const preds = new Int32Array(batchSize);
  try {
    for (let b = 0; b < loader.length; b++) {
      if (options.signal?.aborted) throw new AbortError('Evaluation was interrupted.');
      const { x, y } = loader.batch(0, b);
      try {
        const { loss, logits, c } = tidy(() =>
          noGrad(() => {
            const out = ttaLogits(model, x, level);
            const l = crossEntropy(out, y, { reduction: 'sum' }).item();
            return { loss: l, logits: out.toTypedArray() as Float32Array, c: out.shape[1]! };
          }),
        );
        if (c !== k) {
          throw new RangeError(`The model outputs ${c} scores per image but the data has ${k} classes.`);
        }
        const labels = y.toTypedArray() as Int32Array;
        const n = labels.length;
        argmaxRows(logits, n, c, preds);
        for (let i = 0; i < n; i++) {
          const t = labels[i]!;
          const p = preds[i]!;
          confusion[t]![p]!++;
          if (t === p) correct++;
        }
        lossSum += loss;
        count += n;
      } finally {
        x.dispose();
        y.dispose();
      }
      options.onProgress?.(count, dataset.length);
      await yieldToEventLoop();
    }
  } finally {
    model.train(wasTraining);
  }
  const seconds = (performance.now() - start) / 1000;
  const perClass = classMetrics(confusion, dataset.classes);
  return {
    accuracy: count === 0 ? 0 : correct / count,
    loss: count === 0 ? 0 : lossSum / count,
    count,
    confusion,
    perClass,
    macroF1: perClass.reduce((a, m) => a + m.f1, 0) / Math.max(1, perClass.length),
    seconds,
    imagesPerSecond: seconds > 0 ? count / seconds : 0,
  };
}
