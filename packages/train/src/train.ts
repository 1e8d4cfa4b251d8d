/**
 * `train()`: the whole of `dlf train` as a library call, in four stages: {@link prepareData} opens
 * the data, {@link prepareRunFolder} creates (or reopens) the run folder, {@link fitStage} runs
 * {@link fit} with checkpoints, and {@link finishRun} writes the final model, metrics, plots and the
 * report. The command line only parses flags and prints the events.
 */
import { join, resolve } from 'node:path';
import { formatSummary, type ModelBudget, type ModelSummary, summary } from '@dlf/nn';
import { describeFsError, errnoCode, setNumThreads } from '@dlf/tensor-core';
import { type CheckpointHooks, disposeCheckpoint, loadCheckpoint, readPointer } from './checkpoint.js';
import { loadRunConfig, resolveConfig, semantic, type TrainConfig } from './config.js';
import { describeData, type PreparedData, prepareData } from './data.js';
import { AbortError, FileError, UsageError } from './errors.js';
import type { Evaluation } from './evaluate.js';
import { type EpochRecord, type FitEvent, type FitResult, fit } from './fit.js';
import type { FitDistributed } from './distributed.js';
import { finishRun, intact } from './finish.js';
import { type BuiltModel, buildModel } from './model.js';
import type { DataFacts } from './report.js';
import {
  abandonEarlyLock,
  checkRunFolderPath,
  followerRunFolder,
  lockNamedRunFolder,
  prepareRunFolder,
  type RunFolder,
} from './run-folder.js';

export {
  AUGMENTATIONS,
  checkConfig,
  DEFAULTS,
  resolveConfig,
  type TrainConfig,
} from './config.js';
export { channelStats, openData } from './data.js';

/** Training examples a fresh model's data-initialised layers (a whitening stem) are fitted to. */
const DATA_INIT_SAMPLES = 5000;

/** How a run is carried out (not part of what decides its result). */
export interface TrainOptions {
  /** The run folder (default `runs/<date>-<data>-<model>`). */
  out?: string;
  /** Continue the run in this folder (its config.json decides the settings; `epochs` may grow). */
  resume?: string;
  /** Parent of new run folders (default `runs`). */
  runsDir?: string;
  /** Kernel threads (default: DLF_NUM_THREADS or the cores). */
  threads?: number;
  /** Time each part of the step and each layer. */
  profile?: boolean;
  /** Checkpoints kept besides the best (default 3). */
  keep?: number;
  /** Cancels at the next batch, after writing a checkpoint (the promise rejects with an AbortError). */
  signal?: AbortSignal;
  /** Progress events. */
  onEvent?: (event: TrainEvent) => void;
  /** Decode cache folder for image folders. */
  cacheDir?: string;
  /** The most pixels decoded from one image (default 40 million); larger images are skipped. */
  maxImagePixels?: number;
  /** What the model may cost per example (activation bytes, MACs, parameters); see `ModelBudget`. */
  modelBudget?: ModelBudget;
  /** @internal Checkpoint test hooks. */
  hooks?: CheckpointHooks;
  /**
   * Data-parallel training (`@dlf/distributed`): `batchSize` is per process; rank 0 writes the run
   * folder (checkpoints, metrics, final model, report); other ranks write nothing and return a
   * result without files or final accuracies (NaN). Every rank needs the same data and config.
   */
  distributed?: FitDistributed;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** The run folder. */
  runDir: string;
  /** The final model file. */
  modelPath: string;
  /** The HTML report. */
  reportPath: string;
  /** Accuracy of the final model on the training set (evaluation mode, no augmentation), in [0, 1]. */
  trainAccuracy: number;
  /** Accuracy of the final model on the test set, in [0, 1]. */
  testAccuracy: number;
  /** Cross-entropy of the final model on the test set. */
  testLoss: number;
  /** The full evaluation of the final model on the test set. */
  test: Evaluation;
  /** One record per epoch. */
  history: EpochRecord[];
  /** True when early stopping ended the run. */
  stoppedEarly: boolean;
  /** The epoch with the best validation accuracy. */
  bestEpoch: number;
  /** Training seconds per epoch (mean over the epochs of the run). */
  secondsPerEpoch: number;
  /** The settings of the run, defaults filled in. */
  config: TrainConfig;
  /** Every file the run wrote, by role. */
  files: Record<string, string>;
}

/** Events of {@link train}: the trainer's own and {@link FitEvent}s. */
export type TrainEvent =
  | FitEvent
  | { type: 'config'; config: TrainConfig; runDir: string; resumed: boolean; threads: number }
  | { type: 'loading'; data: string }
  /** Decoding an image folder (not sent on a decode-cache hit): images done and total. */
  | { type: 'decoding'; done: number; total: number }
  | { type: 'data'; facts: DataFacts }
  | { type: 'summary'; summary: ModelSummary; text: string }
  | { type: 'resume'; checkpoint: string; epoch: number; batch: number; step: number }
  | { type: 'warning'; message: string }
  | { type: 'finalEvaluation'; split: 'test' | 'train'; examples: number }
  | { type: 'done'; result: TrainResult };

/** Everything the stages after the run folder share. */
export interface TrainingRun {
  config: TrainConfig;
  options: TrainOptions;
  emit: (event: TrainEvent) => void;
  data: PreparedData;
  built: BuiltModel;
  facts: DataFacts;
  folder: RunFolder;
}

/**
 * Stage 3 of {@link train}: runs {@link fit} with checkpoints in the run folder, logging steps and
 * epochs to metrics.jsonl. With early stopping the model ends with the best epoch's weights.
 */
export async function fitStage(run: TrainingRun): Promise<FitResult> {
  const { config, options, emit, data, built } = run;
  const { runDir, metrics, resume } = run.folder;
  const { model } = built;
  const modelMeta = {
    'dlf.format': 'dlf.model/1',
    'dlf.classes': JSON.stringify(data.opened.classes),
    'dlf.inputShape': JSON.stringify(data.shape),
    'dlf.preprocess': JSON.stringify(data.preprocess),
    'dlf.seed': String(config.seed),
  };
  const pending: Promise<void>[] = [];
  const dist = options.distributed;
  const writes = !dist || dist.rank === 0;
  let result: FitResult;
  try {
    result = await fit({
      model,
      train: data.train,
      ...(data.val ? { val: data.val } : {}),
      epochs: config.epochs,
      batchSize: config.batchSize,
      seed: config.seed,
      optimizer: {
        name: config.optimizer,
        lr: config.lr,
        momentum: config.momentum,
        weightDecay: config.weightDecay,
        ...(config.nesterov ? { nesterov: true } : {}),
      },
      ...(config.labelSmoothing ? { labelSmoothing: config.labelSmoothing } : {}),
      ...(config.tta ? { tta: config.tta } : {}),
      ...(config.ema ? { ema: { decay: config.ema } } : {}),
      ...(config.bnLrScale !== undefined && config.bnLrScale !== 1 ? { bnLrScale: config.bnLrScale } : {}),
      // Layers fitted to data (a whitening stem) start from the data in a fresh model; a model file's keep theirs.
      ...(built.fresh ? { initFromData: DATA_INIT_SAMPLES } : {}),
      ...(config.lookahead ? { lookahead: true } : {}),
      schedule: { name: config.schedule },
      transforms: data.transforms.train,
      evalTransforms: data.transforms.eval,
      generator: built.generator,
      checkpoints: {
        dir: runDir,
        keep: options.keep ?? 3,
        modelMetadata: modelMeta,
        config: semantic(config),
        ...(options.hooks ? { hooks: options.hooks } : {}),
      },
      ...(resume ? { resume } : {}),
      ...(config.earlyStop !== undefined ? { earlyStop: config.earlyStop } : {}),
      ...(options.profile ? { profile: true } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(dist ? { distributed: dist } : {}),
      onEvent: (e) => {
        if (!writes) {
          // Only rank 0 keeps metrics.
        } else if (e.type === 'log') {
          pending.push(
            metrics.append({
              type: 'step',
              step: e.step,
              epoch: Number(e.epoch.toFixed(4)),
              loss: e.loss,
              accuracy: e.accuracy,
              lr: e.lr,
            }),
          );
        } else if (e.type === 'epoch') {
          const { profile: _p, ...rec } = e.record;
          pending.push(metrics.append({ type: 'epoch', ...rec }));
        }
        emit(e);
      },
    });
  } finally {
    await Promise.all(pending);
    if (resume) disposeCheckpoint(resume);
  }
  await metrics.check(intact(result.lastCheckpoint));

  // With early stopping, the final model is the best epoch's (its weight average, when kept).
  if (result.stoppedEarly && result.bestCheckpoint && writes) {
    const best = await loadCheckpoint(result.bestCheckpoint);
    try {
      model.loadStateDict(best.ema?.tensors ?? best.model);
    } finally {
      disposeCheckpoint(best);
    }
  }
  if (options.signal?.aborted) throw new AbortError('Training was interrupted.', result.lastCheckpoint);
  return result;
}

/**
 * Trains a model as `dlf train` does and writes the run folder:
 * `model.safetensors` (final weights; metadata: architecture, class names, input shape,
 * preprocessing), `ckpt-e*` checkpoints with `last`/`best` pointers, `config.json`, `metrics.jsonl`,
 * `loss.png`, `accuracy.png`, `confusion.png`, `summary.txt` and `report.html`.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * const r = await train({ epochs: 2 }, { out: 'runs/demo', signal: ac.signal, onEvent: console.log });
 * r.testAccuracy; // e.g. 0.985
 * ```
 */
export async function train(
  partial: Partial<TrainConfig> = {},
  options: TrainOptions = {},
): Promise<TrainResult> {
  const emit = options.onEvent ?? (() => {});
  const resumeDir = options.resume ? resolve(options.resume) : undefined;
  const dist = options.distributed;
  // The other ranks of a data-parallel run share rank 0's folder, which rank 0 locks: they neither
  // check nor take the lock.
  const follower = dist !== undefined && dist.rank !== 0;
  const config = resumeDir
    ? await loadRunConfig(resumeDir, partial, { checkLock: !follower })
    : resolveConfig(partial);
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1 || options.threads > 256) {
      throw new UsageError(
        `Expected an integer in [1, 256] for --threads but received ${options.threads}.`,
        'train',
      );
    }
    setNumThreads(options.threads);
  }

  if (!follower && !resumeDir && options.out !== undefined) checkRunFolderPath(options.out);
  // A folder named up front is locked before the data loads (rank 0 alone holds it).
  const early = follower ? undefined : await lockNamedRunFolder({ resumeDir, out: options.out });
  let data: PreparedData;
  let built: BuiltModel;
  try {
    data = await prepareData(config, options, emit);
    built = await buildModel(config.model, {
      classes: data.opened.classes.length,
      inputShape: data.shape,
      seed: config.seed,
      ...(options.modelBudget ? { budget: options.modelBudget } : {}),
    });
  } catch (e) {
    abandonEarlyLock(early);
    throw e;
  }
  let folder: RunFolder | undefined;
  try {
    const s = summary(built.model, data.shape);
    emit({ type: 'summary', summary: s, text: formatSummary(s) });
    const facts = describeData(config, data);
    emit({ type: 'data', facts });
    folder =
      dist && dist.rank !== 0
        ? await followerRunFolder(config, resumeDir, emit)
        : await prepareRunFolder(
            config,
            { resumeDir, out: options.out, runsDir: options.runsDir, modelName: built.name, lock: early },
            emit,
          );
    const run: TrainingRun = { config, options, emit, data, built, facts, folder };
    const result = await fitStage(run);
    if (dist && dist.rank !== 0) return followerResult(run, result);
    return await finishRun(run, result);
  } catch (e) {
    throw folder ? asFileError(e, folder.runDir) : e;
  } finally {
    if (folder) folder.lock?.release();
    else abandonEarlyLock(early);
    built.model.dispose();
  }
}

/** What a rank other than 0 returns: the shared history, no files, no final evaluation. */
function followerResult(run: TrainingRun, result: FitResult): TrainResult {
  const { history } = result;
  return {
    runDir: run.folder.runDir,
    modelPath: '',
    reportPath: '',
    trainAccuracy: Number.NaN,
    testAccuracy: Number.NaN,
    testLoss: Number.NaN,
    test: {
      accuracy: Number.NaN,
      loss: Number.NaN,
      count: 0,
      confusion: [],
      perClass: [],
      macroF1: Number.NaN,
      seconds: 0,
      imagesPerSecond: 0,
    },
    history,
    stoppedEarly: result.stoppedEarly,
    bestEpoch: result.bestEpoch,
    secondsPerEpoch: history.length ? history.reduce((a, h) => a + h.seconds, 0) / history.length : 0,
    config: run.config,
    files: {},
  };
}

/**
 * A raw file-system error (a full disk, a read-only folder) from writing the run becomes one
 * {@link FileError}: the path, the cause in plain words, and which checkpoint is intact.
 */
function asFileError(e: unknown, runDir: string): unknown {
  const path = (e as { path?: unknown } | null)?.path;
  if (!errnoCode(e) || typeof path !== 'string' || e instanceof FileError) return e;
  const last = readPointer(runDir, 'last');
  const after = last
    ? `the last checkpoint ${join(runDir, last)} is intact`
    : 'no checkpoint was written yet';
  return new FileError(path, describeFsError(e, 'write', path, after), { cause: e });
}
