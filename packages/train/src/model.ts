/**
 * Models to train and the model files a run writes: presets, `model.json` descriptions, and
 * self-describing safetensors files (read back with `@dlf/nn`'s `readModelFile`).
 */
import { existsSync, readFileSync } from 'node:fs';
import {
  checkBudget,
  checkParamBudget,
  buildPreset,
  type DescribedModel,
  impliedStateShapes,
  META,
  type ModelBudget,
  type ModelSummary,
  modelFromJSON,
  modelPresets,
  type Preprocess,
  readModelFile,
  saveModel,
  summary,
} from '@dlf/nn';
import { Generator } from '@dlf/tensor-core';
import { FileError, UsageError } from './errors.js';
import { VERSION } from './version.js';

/** Model presets known by name (the zoo of `@dlf/nn`: seed-cnn, resnet20, fast-cifar, …). */
export const PRESETS: readonly string[] = [...modelPresets.keys()];

/**
 * Writes a model file: the weights, and in the metadata the architecture, class names, input shape,
 * preprocessing and any `extra` entries. Atomic (temp file, fsync, rename).
 */
export async function saveModelFile(
  path: string,
  model: DescribedModel,
  info: { classes: readonly string[]; inputShape: readonly number[]; preprocess: Preprocess },
  extra: Record<string, string> = {},
): Promise<void> {
  await saveModel(path, model, {
    ...extra,
    [META.format]: 'dlf.model/1',
    [META.version]: VERSION,
    [META.classes]: JSON.stringify(info.classes),
    [META.inputShape]: JSON.stringify(info.inputShape),
    [META.preprocess]: JSON.stringify(info.preprocess),
  });
}

/** What {@link buildModel} makes. */
export interface BuiltModel {
  /** The model, freshly initialised (or loaded, for a model file). */
  model: DescribedModel;
  /** Drives initialisation (JSON models) and dropout; its state goes into checkpoints. */
  generator: Generator;
  /** A short name for messages and run folders. */
  name: string;
  /** True for a freshly initialised model (a preset or description), false for a model file's weights. */
  fresh: boolean;
}

/**
 * Builds a model to train: a zoo preset (`seed-cnn`, `resnet20`, …), a `model.json` description
 * (`dlf.sequential` or `dlf.graph`), or a model
 * file to fine-tune. The output must be one score per class of the data.
 *
 * @example
 * ```ts
 * const { model } = await buildModel('seed-cnn', { classes: 10, inputShape: [1, 28, 28], seed: 0 });
 * ```
 */
export async function buildModel(
  spec: string,
  options: {
    classes: number;
    inputShape: readonly [number, number, number];
    seed: number;
    /** What the model may cost per example (default `DEFAULT_MODEL_BUDGET`). */
    budget?: ModelBudget;
  },
): Promise<BuiltModel> {
  const budget = options.budget ?? {};
  const [c, h, w] = options.inputShape;
  const generator = new Generator(options.seed);
  let model: DescribedModel;
  let name: string;
  if (modelPresets.has(spec)) {
    if (h !== w) {
      throw new UsageError(
        `${spec} needs square images, but the data is ${h}×${w}; pass --size 32.`,
        'train',
      );
    }
    try {
      model = buildPreset(spec, {
        classes: options.classes,
        inChannels: c,
        inputSize: h,
        seed: options.seed,
      });
    } catch (e) {
      throw new UsageError(`${(e as Error).message}; pass --size 32 (or another size it takes).`, 'train');
    }
    name = spec;
  } else if (/\.json$/i.test(spec)) {
    if (!existsSync(spec)) throw new FileError(spec, `The model description ${spec} does not exist.`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(spec, 'utf8'));
    } catch (e) {
      throw new FileError(spec, `The model description ${spec} is not valid JSON (${(e as Error).message}).`);
    }
    try {
      checkParamBudget(spec, impliedStateShapes(json), budget);
      model = modelFromJSON(json, { generator });
    } catch (e) {
      if (e instanceof FileError) throw e;
      throw new FileError(spec, `The model description ${spec} is invalid: ${(e as Error).message}.`);
    }
    name = spec.replace(/^.*[\\/]/, '').replace(/\.json$/i, '');
  } else if (/\.safetensors$/i.test(spec)) {
    ({ model } = await readModelFile(spec, budget));
    name = spec.replace(/^.*[\\/]/, '').replace(/\.safetensors$/i, '');
  } else {
    throw new UsageError(
      `Unknown model '${spec}'; use a preset (${PRESETS.join(', ')}), a model.json description or a .safetensors model file.`,
      'train',
    );
  }
  let s: ModelSummary;
  try {
    s = summary(model, options.inputShape);
  } catch (e) {
    model.dispose();
    throw new UsageError(
      `The model ${spec} does not accept ${c}×${h}×${w} input (${(e as Error).message}); adjust the model or pass --size/--channels.`,
      'train',
    );
  }
  try {
    checkBudget(spec, s, budget);
  } catch (e) {
    model.dispose();
    throw e;
  }
  if (s.outputShape.length !== 1 || s.outputShape[0] !== options.classes) {
    model.dispose();
    throw new UsageError(
      `The model ${spec} outputs [${s.outputShape.join(', ')}] per image but the data has ${options.classes} classes.`,
      'train',
    );
  }
  return { model, generator, name, fresh: !/\.safetensors$/i.test(spec) };
}
