/** The options, events and results of {@link fit}. */
import type { Dataset, Transform } from '@dlf/data';
import type { DescribedModel } from '@dlf/nn';
import type { Generator } from '@dlf/tensor-core';
import type { CheckpointHooks, LoadedCheckpoint } from './checkpoint.js';
import type { FitDistributed } from './distributed.js';
import type { EmaConfig } from './ema.js';
import type { OptimizerConfig, ScheduleConfig } from './optim-adapter.js';
import type { TtaOption } from './tta.js';

/** Time spent per part of a training step, summed over an epoch (milliseconds). */
export interface EpochProfile {
  /** Training batches timed. */
  batches: number;
  /** Milliseconds assembling batches. */
  dataMs: number;
  /** Milliseconds in the forward pass. */
  forwardMs: number;
  /** Milliseconds computing the loss. */
  lossMs: number;
  /** Milliseconds in the backward pass. */
  backwardMs: number;
  /** Milliseconds in optimizer steps. */
  optimizerMs: number;
  /** Milliseconds evaluating the validation set. */
  validationMs: number;
  /** Forward time per layer (a Conv2d/Linear fused with the ReLU after it counts once). */
  layers: { name: string; ms: number }[];
}

/** One epoch's results. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean training loss and accuracy over the epoch (while the weights were changing). */
  trainLoss: number;
  /** Running training accuracy over the epoch, in [0, 1]. */
  trainAccuracy: number;
  /** Validation loss, when there is validation data. */
  valLoss?: number;
  /** Validation accuracy in [0, 1], when there is validation data. */
  valAccuracy?: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Optimizer steps after this epoch. */
  step: number;
  /** Training time of the epoch (without validation). */
  seconds: number;
  /** Validation time. */
  valSeconds: number;
  /** Training examples per second. */
  imagesPerSecond: number;
  /** True when this epoch is the best so far. */
  best: boolean;
  /** Where the time went, with `profile: true`. */
  profile?: EpochProfile;
}

/** Events reported by {@link fit} while it runs. */
export type FitEvent =
  | { type: 'epochStart'; epoch: number; epochs: number; batches: number; startBatch: number }
  | {
      type: 'batch';
      epoch: number;
      epochs: number;
      /** Batches done in this epoch. */
      batch: number;
      batches: number;
      step: number;
      /** Running means over the epoch so far. */
      loss: number;
      accuracy: number;
      imagesPerSecond: number;
      lr: number;
    }
  | { type: 'log'; step: number; epoch: number; loss: number; accuracy: number; lr: number }
  | { type: 'validating'; epoch: number; examples: number }
  | { type: 'epoch'; record: EpochRecord; epochs: number }
  | {
      type: 'checkpoint';
      path: string;
      name: string;
      epoch: number;
      batch: number;
      reason: 'epoch' | 'interrupt';
      best: boolean;
    }
  | { type: 'earlyStop'; epoch: number; patience: number; bestEpoch: number };

/** Where and how checkpoints are kept. */
export interface CheckpointOptions {
  /** The run folder. */
  dir: string;
  /** Checkpoints kept besides the best one (default 3). */
  keep?: number;
  /** Metadata of each checkpoint's model.safetensors (class names, input shape, preprocessing…). */
  modelMetadata?: Record<string, string>;
  /** The run's configuration (saved, hashed; resume refuses a different one). */
  config?: Record<string, unknown>;
  /** @internal Test hooks. */
  hooks?: CheckpointHooks;
}

/** Options for {@link fit}. */
export interface FitOptions {
  /** The model to train (its weights change in place). */
  model: DescribedModel;
  /** The training data. */
  train: Dataset;
  /** Evaluated after every epoch (it drives `best` and early stopping). */
  val?: Dataset;
  /** Epochs to train in all (a resumed run continues up to this). */
  epochs: number;
  /** Default 64. */
  batchSize?: number;
  /** Drives shuffling and augmentation (default 0). Initialisation is seeded where the model is built. */
  seed?: number;
  /** The optimizer and its settings. */
  optimizer: OptimizerConfig;
  /** Default constant. */
  schedule?: ScheduleConfig;
  /** Training transforms (augmentation and normalisation). */
  transforms?: readonly Transform[];
  /** Validation transforms (normalisation). */
  evalTransforms?: readonly Transform[];
  /** The generator used by the model's dropout layers; saved in checkpoints. */
  generator?: Generator;
  /** Write checkpoints into a run folder. */
  checkpoints?: CheckpointOptions;
  /** Continue from this checkpoint. */
  resume?: LoadedCheckpoint;
  /** Stop after this many epochs without a better validation result. */
  earlyStop?: number;
  /** Time every part of the step and every layer. */
  profile?: boolean;
  /** Cancels at the next batch with an {@link AbortError} (after a checkpoint, when configured). */
  signal?: AbortSignal;
  /** Receives progress events. */
  onEvent?: (event: FitEvent) => void;
  /** Training-loss log points every this many steps (default: about 50 per epoch). */
  logEvery?: number;
  /** Label smoothing of the training loss (default 0). */
  labelSmoothing?: number;
  /** Validate with test-time augmentation: `true`/`'flip'` or `'flip-translate'` (see `EvaluateOptions.tta`). */
  tta?: TtaOption;
  /**
   * Keep an exponential moving average of the weights and batch-norm statistics, updated after every
   * optimizer step (e.g. `{ decay: 0.999 }`). Validation measures the average, checkpoints store it
   * (ema.safetensors, so a resumed run continues it bit for bit), and when `fit` returns the model
   * holds the averaged weights.
   */
  ema?: EmaConfig;
  /**
   * Multiplies the learning rate of every BatchNorm2d parameter and divides its weight decay by the
   * same factor, so the decay per step is unchanged (default 1: one group for every parameter).
   */
  bnLrScale?: number;
  /**
   * Before the first step of a run that is not resumed, fit the model's data-initialised layers
   * (such as `Whiten2d`) to this many training examples, drawn in a seeded order and preprocessed
   * with `evalTransforms` (no augmentation). 0 or absent: leave their weights as they are (a model
   * loaded from a file keeps its fitted weights).
   */
  initFromData?: number;
  /**
   * Lookahead weight averaging after airbench (see `Lookahead`): from the first epoch at or
   * after 30 % of the run, every 5 optimizer steps the slow weights move towards the trained ones
   * (slow = rho · slow + (1 − rho) · fast, rho = 0.95⁵ · (step / total steps)³) and training continues
   * from them; each epoch ends with the model set to the slow weights. Checkpoints store them
   * (ema.safetensors) so a resumed run continues bit for bit. Not with `ema`.
   */
  lookahead?: boolean;
  /**
   * Data-parallel training: `batchSize` is per process, each global batch of `batchSize × worldSize` is
   * sharded across the ranks, gradients are averaged, and only rank 0 writes checkpoints (the others
   * wait at a barrier) and validates. Without it, training is the single-process loop, unchanged.
   */
  distributed?: FitDistributed;
}

/** What {@link fit} returns. */
export interface FitResult {
  /** One record per epoch, the resumed ones included. */
  history: EpochRecord[];
  /** Optimizer steps taken in total. */
  steps: number;
  /** True when early stopping ended the run. */
  stoppedEarly: boolean;
  /** 1-based epoch with the best validation result (0 when none). */
  bestEpoch: number;
  /** Checkpoint folders (when checkpoints are kept). */
  lastCheckpoint?: string;
  /** The checkpoint with the best validation accuracy, if any was written. */
  bestCheckpoint?: string;
  /** Wall time of this call. */
  seconds: number;
}
