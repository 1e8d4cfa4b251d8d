import { decodeImage } from '@dlf/data';
import { type ModelInfo, noGrad, type DescribedModel } from '@dlf/nn';
import { tensor, tidy } from '@dlf/tensor-core';
import { AbortError, FileError } from './errors.js';
import { yieldToEventLoop } from './evaluate.js';

/** One class and its probability. */
export interface ClassScore {
  /** The class name. */
  class: string;
  /** The class index (the model output's position). */
  index: number;
  /** Softmax probability in [0, 1]. */
  probability: number;
}

/** The top classes for one image. */
export interface Prediction {
  /** The image's path (or `#<n>` for a buffer). */
  image: string;
  /** The most likely classes, most likely first. */
  top: ClassScore[];
}

/** Options for {@link predict}. */
export interface PredictOptions {
  /** Classes reported per image (default 1). */
  topK?: number;
  /** Images per forward pass (default 64). */
  batchSize?: number;
  /** Stops between batches (the promise rejects with an AbortError). */
  signal?: AbortSignal;
  /** The most pixels decoded from one image (default: `@dlf/data`'s `DEFAULT_MAX_PIXELS`). */
  maxPixels?: number;
}

/** Softmax of one row of logits, in double precision. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const e = Array.from({ length: logits.length }, (_, i) => Math.exp(logits[i]! - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/**
 * Classifies image files (or their bytes) with a model and the preprocessing its file describes:
 * decoded and resized as in training, scaled and normalised, then the top-k classes by softmax
 * probability.
 *
 * @example
 * ```ts
 * const { model, info } = await readModelFile('runs/x/model.safetensors');
 * const [p] = await predict(model, info, ['digit.png'], { topK: 3 });
 * p.top[0]; // { class: '7', index: 7, probability: 0.998 }
 * ```
 */
export async function predict(
  model: DescribedModel,
  info: ModelInfo,
  images: readonly (string | Buffer)[],
  options: PredictOptions = {},
): Promise<Prediction[]> {
  const k = Math.max(1, Math.min(options.topK ?? 1, info.classes.length));
  const batchSize = Math.max(1, options.batchSize ?? 64);
  const pre = info.preprocess;
  const [h, w] = pre.size;
  const c = pre.channels;
  const plane = h * w;
  const out: Prediction[] = [];
  const wasTraining = model.training;
  model.eval();
  try {
    for (let start = 0; start < images.length; start += batchSize) {
      const chunk = images.slice(start, start + batchSize);
      const x = new Float32Array(chunk.length * c * plane);
      for (let i = 0; i < chunk.length; i++) {
        if (options.signal?.aborted) throw new AbortError('Prediction was interrupted.');
        const input = chunk[i]!;
        const name = typeof input === 'string' ? input : `#${start + i}`;
        let pixels: Uint8Array;
        try {
          pixels = await decodeImage(input, {
            width: w,
            height: h,
            channels: c,
            fit: pre.fit,
            ...(options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {}),
          });
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw new FileError(
            name,
            code === 'ENOENT'
              ? `The image ${name} does not exist.`
              : `The image ${name} could not be read or decoded (${(e as Error).message.split('\n')[0]}).`,
            { cause: e },
          );
        }
        for (let ch = 0; ch < c; ch++) {
          const m = pre.mean.length === 1 ? pre.mean[0]! : pre.mean[ch]!;
          const s = pre.std.length === 1 ? pre.std[0]! : pre.std[ch]!;
          const o = (i * c + ch) * plane;
          for (let p = 0; p < plane; p++) x[o + p] = (pixels[ch * plane + p]! * pre.scale - m) / s;
        }
      }
      const logits = tidy(() =>
        noGrad(() => {
          const xt = tensor(x, { shape: [chunk.length, c, h, w] });
          return model.forward(xt).toTypedArray() as Float32Array;
        }),
      );
      const n = info.classes.length;
      for (let i = 0; i < chunk.length; i++) {
        const probs = softmax(logits.subarray(i * n, (i + 1) * n));
        const order = probs.map((p, j) => [p, j] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
        out.push({
          image: typeof chunk[i] === 'string' ? (chunk[i] as string) : `#${start + i}`,
          top: order.slice(0, k).map(([p, j]) => ({ class: info.classes[j]!, index: j, probability: p })),
        });
      }
      await yieldToEventLoop();
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}
