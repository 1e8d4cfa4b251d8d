/**
 * `@dlf/cli`: the `dlf` command. The trainer it is a thin layer over is `@dlf/train`; its API is
 * re-exported here so that code importing it from `@dlf/cli` keeps working.
 *
 * - {@link train}: a whole `dlf train` run (data, model, checkpoints, final model, plots, report);
 * - {@link fit}: the training loop (seeded, resumable, cancellable with an `AbortSignal`);
 * - {@link evaluate}: accuracy, loss, confusion matrix, per-class precision/recall/F1;
 * - {@link predict}: top-k classes for image files with a saved model.
 *
 * @example
 * ```ts
 * import { train } from '@dlf/cli'; // the same function as @dlf/train's
 * const controller = new AbortController();
 * const r = await train({ epochs: 1 }, { signal: controller.signal });
 * console.log(r.testAccuracy, r.modelPath);
 * ```
 *
 * @module @dlf/cli
 * @packageDocumentation
 */
export {
  AbortError,
  AUGMENTATIONS,
  type BuiltModel,
  buildModel,
  type CheckpointOptions,
  type CheckpointState,
  type ClassMetrics,
  type ClassScore,
  channelStats,
  checkpointName,
  classMetrics,
  configHash,
  createTraining,
  confusionSvg,
  type DataFacts,
  DEFAULTS,
  disposeCheckpoint,
  type EpochProfile,
  type EpochRecord,
  type EvaluateOptions,
  type Evaluation,
  evaluate,
  FileError,
  type FitEvent,
  type FitOptions,
  type FitResult,
  findResumeCheckpoint,
  fit,
  isAbortError,
  type LoadedCheckpoint,
  lineChartSvg,
  listCheckpoints,
  loadCheckpoint,
  type ModelInfo,
  OPTIMIZERS,
  type OptimizerConfig,
  type OptimizerName,
  openData,
  optimizerDefaults,
  PRESETS,
  type Prediction,
  type PredictOptions,
  type Preprocess,
  predict,
  readModelFile,
  readPointer,
  SCHEDULES,
  type ScheduleConfig,
  type ScheduleName,
  saveModelFile,
  svgToPng,
  type TrainConfig,
  type TrainEvent,
  type TrainOptions,
  type TrainResult,
  type Training,
  train,
  UsageError,
} from '@dlf/train';
export { EXIT } from './errors.js';
export { VERSION } from './version.js';
