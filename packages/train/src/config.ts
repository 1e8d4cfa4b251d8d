/**
 * The settings of a training run: what decides its result, their defaults and checks, and reading
 * them back from a run folder to resume it.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { datasetSource } from '@dlf/data';
import { readIfExists } from './checkpoint.js';
import { FileError, UsageError } from './errors.js';
import { RECIPES } from './recipes.js';
import { refuseIfLocked } from './run-lock.js';
import type { TtaOption } from './tta.js';
import {
  OPTIMIZERS,
  type OptimizerName,
  optimizerDefaults,
  SCHEDULES,
  type ScheduleName,
} from './optim-adapter.js';

/** Augmentations `--augment` accepts. */
export const AUGMENTATIONS = ['crop', 'flip', 'alternating-flip'] as const;

/** What a training run is: the settings that decide its result. */
export interface TrainConfig {
  /** A dataset folder; `'mnist'` (or omitted) for the bundled MNIST. */
  data: string;
  /** `seed-cnn`, a model.json description or a .safetensors model to fine-tune. */
  model: string;
  /** Epochs to train (default 10). */
  epochs: number;
  /** Examples per step (default 64). */
  batchSize: number;
  /** Learning rate (default 0.05 for SGD, 0.001 for Adam/AdamW). */
  lr: number;
  /** `'sgd'` (default), `'adam'` or `'adamw'`. */
  optimizer: OptimizerName;
  /** SGD momentum. */
  momentum: number;
  /** Weight decay (default 5e-4 for SGD, 0 for Adam, 0.01 for AdamW). */
  weightDecay: number;
  /** Learning-rate schedule: `'cosine'` (default), `'constant'`, `'linear'` or `'step'`. */
  schedule: ScheduleName;
  /**
   * Training augmentation: any of 'crop' (random crop, padding 1/8 of the side), 'flip' (mirror at
   * random) or 'alternating-flip' (mirror each image in every other epoch).
   */
  augment: string[];
  /** Pixels added on each side before the random crop (default 1/8 of the image side; 4 at 32x32). */
  cropPadding?: number;
  /** Seeds initialisation, shuffling, augmentation and dropout (default 0). */
  seed: number;
  /** Fraction of the training set held out for validation when the data has no val/ folder. */
  valSplit: number;
  /** Image side for image folders (default 32) or to resize MNIST/CIFAR. */
  size?: number;
  /** 1 (grey) or 3 (RGB) for image folders (default 3) or to convert MNIST/CIFAR. */
  channels?: 1 | 3;
  /** Stop after this many epochs without a better validation accuracy. */
  earlyStop?: number;
  /** The recipe whose settings fill in those not given (see {@link RECIPES}). */
  recipe?: string;
  /** Nesterov momentum for SGD (default false). */
  nesterov?: boolean;
  /** Label smoothing of the training loss, in [0, 1) (default 0). */
  labelSmoothing?: number;
  /**
   * Test-time augmentation of validation and the test evaluation: `true` (or `'flip'`, stored as
   * `true`) averages the logits of each image and its mirror; `'flip-translate'` also those of the
   * image moved one pixel up-left and down-right (see `EvaluateOptions.tta`).
   */
  tta?: TtaOption;
  /**
   * Decay of an exponential moving average of the weights (e.g. 0.999), used for validation, the
   * test evaluation and the saved model; 0 or absent: none.
   */
  ema?: number;
  /**
   * Multiplies the learning rate of batch-norm layers' parameters (their weight decay is divided by
   * it, so the decay per step stays): airbench trains BN shifts 64 times faster than the weights.
   * Default 1.
   */
  bnLrScale?: number;
  /**
   * Lookahead weight averaging after airbench (see `FitOptions.lookahead`): from 30 % of the run,
   * every 5 steps the weights are averaged into a slow copy that training continues from. Not with `ema`.
   */
  lookahead?: boolean;
}

/**
 * The defaults. The reference recipe (seed-cnn, SGD at 0.05, batch 64) is kept, with momentum 0.9,
 * weight decay 5e-4 and a cosine schedule added: measured to reach ≥ 99 % on MNIST in 10 epochs
 * (see the README). Adam/AdamW default to lr 1e-3 (0.05 is far too large for them).
 */
export const DEFAULTS: Readonly<TrainConfig> = Object.freeze({
  data: 'mnist',
  model: 'seed-cnn',
  epochs: 10,
  batchSize: 64,
  lr: 0.05,
  optimizer: 'sgd',
  momentum: 0.9,
  weightDecay: 5e-4,
  schedule: 'cosine',
  augment: [],
  seed: 0,
  valSplit: 0.1,
});

/** Settings that do not change what a run computes per epoch (a resumed run may change them). */
const SEMANTIC_EXCLUDED = new Set(['epochs', 'earlyStop']);

/** The settings that decide a run's result, for the checkpoint configuration hash. */
export function semantic(config: TrainConfig): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(config).filter(([k, v]) => !SEMANTIC_EXCLUDED.has(k) && v !== undefined),
  );
}

/** Checks a (partial) configuration; every problem is a {@link UsageError} naming the flag. */
export function checkConfig(c: Partial<TrainConfig>): void {
  const bad = (flag: string, expected: string, value: unknown): never => {
    throw new UsageError(
      `Expected ${expected} for --${flag} but received ${JSON.stringify(value)}.`,
      'train',
    );
  };
  const int = (flag: string, v: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
      bad(
        flag,
        max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`,
        v,
      );
    }
  };
  int('epochs', c.epochs, 0, 1_000_000);
  int('batch-size', c.batchSize, 1, 65536);
  int('seed', c.seed, 0);
  int('size', c.size, 4, 4096);
  int('early-stop', c.earlyStop, 1);
  int('crop-padding', c.cropPadding, 0, 1024);
  if (c.lr !== undefined && !(Number.isFinite(c.lr) && c.lr > 0)) bad('lr', 'a positive number', c.lr);
  if (c.momentum !== undefined && !(c.momentum >= 0 && c.momentum < 1))
    bad('momentum', 'a number in [0, 1)', c.momentum);
  if (c.weightDecay !== undefined && !(Number.isFinite(c.weightDecay) && c.weightDecay >= 0)) {
    bad('weight-decay', 'a non-negative number', c.weightDecay);
  }
  if (c.valSplit !== undefined && !(c.valSplit >= 0 && c.valSplit < 1))
    bad('val-split', 'a fraction in [0, 1)', c.valSplit);
  if (c.optimizer !== undefined && !(OPTIMIZERS as readonly string[]).includes(c.optimizer)) {
    bad('optimizer', OPTIMIZERS.join(', '), c.optimizer);
  }
  if (c.schedule !== undefined && !(SCHEDULES as readonly string[]).includes(c.schedule)) {
    bad('schedule', SCHEDULES.join(', '), c.schedule);
  }
  if (c.labelSmoothing !== undefined && !(c.labelSmoothing >= 0 && c.labelSmoothing < 1)) {
    bad('label-smoothing', 'a number in [0, 1)', c.labelSmoothing);
  }
  if (c.ema !== undefined && !(c.ema >= 0 && c.ema < 1)) bad('ema', 'a decay in [0, 1) (0: off)', c.ema);
  if (c.bnLrScale !== undefined && !(Number.isFinite(c.bnLrScale) && c.bnLrScale > 0)) {
    bad('bn-lr-scale', 'a positive number', c.bnLrScale);
  }
  if (c.lookahead !== undefined && typeof c.lookahead !== 'boolean')
    bad('lookahead', 'true or false', c.lookahead);
  if (c.lookahead && c.ema) {
    throw new UsageError(
      '--ema and --lookahead both average the weights; pass one of them, not both.',
      'train',
    );
  }
  if (c.tta !== undefined && ![true, false, 'flip', 'flip-translate'].includes(c.tta)) {
    bad('tta', "true, false, 'flip' or 'flip-translate'", c.tta);
  }
  if (c.recipe !== undefined && !RECIPES.has(c.recipe))
    bad('recipe', [...RECIPES.keys()].join(', '), c.recipe);
  if (c.channels !== undefined && c.channels !== 1 && c.channels !== 3) bad('channels', '1 or 3', c.channels);
  for (const a of c.augment ?? []) {
    if (!(AUGMENTATIONS as readonly string[]).includes(a))
      bad('augment', `none or a list of ${AUGMENTATIONS.join(', ')}`, a);
  }
  if (c.augment?.includes('flip') && c.augment.includes('alternating-flip')) {
    bad('augment', 'flip or alternating-flip, not both', c.augment.join(','));
  }
}

/** Fills in defaults: the recipe's settings first, then the optimizer-dependent ones. */
export function resolveConfig(given: Partial<TrainConfig>): TrainConfig {
  checkConfig(given);
  const recipe = { ...(given.recipe !== undefined ? RECIPES.get(given.recipe)!.settings : {}) };
  // The weight averaging chosen explicitly replaces a recipe's of the other kind.
  if (given.ema) delete recipe.lookahead;
  if (given.lookahead) delete recipe.ema;
  const partial: Partial<TrainConfig> = {
    ...recipe,
    ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
  };
  const optimizer = partial.optimizer ?? DEFAULTS.optimizer;
  const od = optimizerDefaults(optimizer);
  const c: TrainConfig = {
    ...DEFAULTS,
    augment: [],
    ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)),
    optimizer,
    lr: partial.lr ?? od.lr,
    weightDecay: partial.weightDecay ?? od.weightDecay,
  } as TrainConfig;
  c.augment = [...new Set(c.augment)].sort();
  // One spelling per level, so a run's configuration hash does not depend on it.
  if (c.tta === 'flip') c.tta = true;
  // A named source ('mnist': the bundled MNIST) stays a name; a folder becomes an absolute path.
  if (!datasetSource(c.data)) c.data = resolve(c.data);
  if (/\.(json|safetensors)$/i.test(c.model)) c.model = resolve(c.model);
  return c;
}

/**
 * The configuration of the run in `runDir`, with the settings given now checked against it: a
 * resumed run keeps its settings (only `epochs` and `earlyStop` may change). Throws a
 * {@link FileError} for a folder that is missing or not a run, a {@link UsageError} naming the flag
 * that differs, or naming the process that holds the folder.
 *
 * @example
 * ```ts
 * const config = await loadRunConfig('runs/demo', { epochs: 20 });
 * config.epochs; // 20, the rest as the run was started
 * ```
 */
export async function loadRunConfig(
  runDir: string,
  explicit: Partial<TrainConfig>,
  options: {
    /** Refuse a folder another process holds (default true; off for a data-parallel run's other ranks, whose rank 0 holds it). */
    checkLock?: boolean;
  } = {},
): Promise<TrainConfig> {
  const file = join(runDir, 'config.json');
  if (!existsSync(runDir)) throw new FileError(runDir, `The run folder ${runDir} does not exist.`);
  // A run still starting has no config.json yet: say who holds it rather than "not a run folder".
  if (options.checkLock !== false) refuseIfLocked(runDir);
  const text = await readIfExists(file);
  if (text === undefined) {
    throw new FileError(
      runDir,
      `${runDir} is not a dlf run folder (it has no config.json); pass the folder dlf train wrote.`,
    );
  }
  let saved: TrainConfig;
  try {
    saved = JSON.parse(text) as TrainConfig;
  } catch {
    throw new FileError(file, `The run configuration ${file} is not valid JSON.`);
  }
  checkConfig(explicit);
  const flag: Record<string, string> = {
    batchSize: 'batch-size',
    weightDecay: 'weight-decay',
    valSplit: 'val-split',
    earlyStop: 'early-stop',
    bnLrScale: 'bn-lr-scale',
    cropPadding: 'crop-padding',
  };
  const given = resolveConfig({ ...saved, ...explicit });
  for (const [k, v] of Object.entries(explicit)) {
    if (v === undefined || SEMANTIC_EXCLUDED.has(k)) continue;
    const a = JSON.stringify((given as unknown as Record<string, unknown>)[k]);
    const b = JSON.stringify((saved as unknown as Record<string, unknown>)[k]);
    if (a !== b) {
      const name = k === 'data' ? 'the data argument' : `--${flag[k] ?? k}`;
      throw new UsageError(
        `${name} (${a}) differs from the run being resumed (${b}); a resumed run keeps its settings, so drop the flag or start a new run.`,
        'train',
      );
    }
  }
  return {
    ...saved,
    epochs: explicit.epochs ?? saved.epochs,
    earlyStop: explicit.earlyStop ?? saved.earlyStop,
  };
}
