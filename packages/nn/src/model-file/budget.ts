/**
 * What running a model costs, judged from its description before it runs: a 1 KB model file can
 * describe a model that needs gigabytes of activations (AdaptiveAvgPool2d(8192)) or hours per image
 * (thousands of padded convolutions). The budget is checked against the analytic summary.
 */
import type { ModelSummary } from '../summary.js';
import type { impliedStateShapes } from './architecture.js';
import { FileError } from './errors.js';

/**
 * Per-example limits on what a model file's architecture may cost.
 *
 * @example
 * ```ts
 * await readModelFile('big.safetensors', { maxActivationBytes: 4 * 2 ** 30 });
 * ```
 */
export interface ModelBudget {
  /** The most bytes of float32 activations (all layers' outputs together) for one example. */
  maxActivationBytes?: number;
  /** The most multiply-accumulates for one example. */
  maxMacs?: number;
  /** The most parameter and buffer elements (float32) the architecture may declare. */
  maxParams?: number;
}

/**
 * The default budget: 1 GiB of activations and 200 G multiply-accumulates per example (ResNet-50
 * at 224×224 needs about 0.1 GB and 4 G), and 2^30 parameters (4 GiB of float32).
 *
 * @example
 * ```ts
 * DEFAULT_MODEL_BUDGET.maxMacs; // 200e9
 * ```
 */
export const DEFAULT_MODEL_BUDGET: Readonly<Required<ModelBudget>> = Object.freeze({
  maxActivationBytes: 2 ** 30,
  maxMacs: 200e9,
  maxParams: 2 ** 30,
});

/** A count in G or M (decimal), for MACs and parameters. */
const fmt = (n: number): string =>
  n >= 1e9 ? `${(n / 1e9).toFixed(1)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : String(n);

/** Bytes in GiB or MiB. */
const fmtBytes = (n: number): string =>
  n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * Throws a {@link FileError} naming `path` when the model described by `s` costs more per example
 * than the budget allows.
 *
 * @example
 * ```ts
 * checkBudget('model.safetensors', summary(model, [3, 32, 32]), {});
 * ```
 */
export function checkBudget(path: string, s: ModelSummary, budget: ModelBudget): void {
  const maxBytes = budget.maxActivationBytes ?? DEFAULT_MODEL_BUDGET.maxActivationBytes;
  const maxMacs = budget.maxMacs ?? DEFAULT_MODEL_BUDGET.maxMacs;
  let bytes = 0;
  let worst = s.rows[0];
  for (const r of s.rows) {
    const b = 4 * r.outputShape.reduce((a, d) => a * d, 1);
    bytes += b;
    if (worst && b > 4 * worst.outputShape.reduce((a, d) => a * d, 1)) worst = r;
  }
  if (bytes > maxBytes) {
    throw new FileError(
      path,
      `The model file ${path} describes a model whose activations take ${fmtBytes(bytes)} per example (layer ${worst?.name} alone outputs [${worst?.outputShape.join(', ')}]), more than the ${fmtBytes(maxBytes)} budget; raise maxActivationBytes if the model is meant to be that large.`,
    );
  }
  if (s.totalMacs > maxMacs) {
    throw new FileError(
      path,
      `The model file ${path} describes a model that needs ${fmt(s.totalMacs)} multiply-accumulates per example, more than the ${fmt(maxMacs)} budget; raise maxMacs if the model is meant to be that large.`,
    );
  }
}

/**
 * Throws a {@link FileError} naming `path` when the parameter shapes an architecture declares
 * ({@link impliedStateShapes}) add up to more elements than the budget, before any is allocated.
 *
 * @example
 * ```ts
 * checkParamBudget('model.json', impliedStateShapes(spec), {});
 * ```
 */
export function checkParamBudget(path: string, shapes: Map<string, number[]>, budget: ModelBudget): void {
  const max = budget.maxParams ?? DEFAULT_MODEL_BUDGET.maxParams;
  let total = 0;
  for (const shape of shapes.values()) total += shape.reduce((a, d) => a * d, 1);
  if (total > max) {
    throw new FileError(
      path,
      `The model ${path} declares ${fmt(total)} parameters, more than the ${fmt(max)} budget (${fmtBytes(4 * max)} of float32); raise maxParams if the model is meant to be that large.`,
    );
  }
}
