/**
 * `@dlf/train`: the library trainer under the `dlf` command.
 *
 * - {@link train}: a whole `dlf train` run (data, model, checkpoints, final model, plots, report);
 * - {@link fit}: the training loop (seeded, resumable, cancellable with an `AbortSignal`);
 * - {@link evaluate}: accuracy, loss, confusion matrix, per-class precision/recall/F1;
 * - {@link predict}: top-k classes for image files with a saved model.
 *
 * Long work yields to the event loop between batches, so a server stays responsive while it trains.
 *
 * @example
 * ```ts
 * import { train } from '@dlf/train';
 * const controller = new AbortController();
 * const r = await train({ epochs: 1 }, { signal: controller.signal });
 * console.log(r.testAccuracy, r.modelPath);
 * ```
 *
 * @module @dlf/train
 * @packageDocumentation
 */
export {
  type CheckpointState,
  checkpointName,
  disposeCheckpoint,
  findResumeCheckpoint,
  type LoadedCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  readPointer,
} from './checkpoint.js';
export { type EmaConfig, type EmaState, WeightAverage } from './ema.js';
export { AbortError, FileError, isAbortError, UsageError } from './errors.js';
export {
  type DistributedStep,
  distributedStep,
  type FitDistributed,
  shardBatch,
  shardRange,
} from './distributed.js';
export {
  type ClassMetrics,
  classMetrics,
  type EvaluateOptions,
  type Evaluation,
  evaluate,
} from './evaluate.js';
export {
  type CheckpointOptions,
  configHash,
  type EpochProfile,
  type EpochRecord,
  type FitEvent,
  type FitOptions,
  type FitResult,
  fit,
} from './fit.js';
export { buildModel, type BuiltModel, PRESETS, saveModelFile } from './model.js';
export {
  LOOKAHEAD,
  Lookahead,
  type LookaheadPlan,
  lookaheadPlan,
  lookaheadRho,
} from './lookahead.js';
export {
  mirrored,
  translated,
  type TtaLevel,
  type TtaOption,
  ttaDescription,
  ttaLevel,
  ttaLogits,
} from './tta.js';
export {
  createTraining,
  OPTIMIZERS,
  optimizerDefaults,
  type OptimizerConfig,
  type OptimizerName,
  SCHEDULES,
  type ScheduleConfig,
  type ScheduleName,
  type Training,
} from './optim-adapter.js';
export { confusionSvg, lineChartSvg, svgToPng } from './plots.js';
export { checkRunFolderPath } from './run-folder.js';
export { loadRunConfig } from './config.js';
export { RECIPES, type Recipe } from './recipes.js';
export { type ClassScore, type Prediction, type PredictOptions, predict } from './predict.js';
export type { DataFacts } from './report.js';
export {
  AUGMENTATIONS,
  channelStats,
  checkConfig,
  DEFAULTS,
  openData,
  resolveConfig,
  type TrainConfig,
  type TrainEvent,
  type TrainOptions,
  type TrainResult,
  train,
} from './train.js';
export { packageVersion, VERSION } from './version.js';
// Model files are read by @dlf/nn; re-exported here because a trainer's users handle them too.
export { type ModelInfo, type Preprocess, readModelFile } from '@dlf/nn';
