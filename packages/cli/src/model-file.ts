/**
 * Models: presets, `model.json` descriptions, and self-describing model files (safetensors whose
 * metadata holds the architecture, class names, input shape and preprocessing). Loading checks a
 * file completely before building anything from it, so a corrupt or hostile file gives one clear
 * error and never a huge allocation.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import {
  ARCHITECTURE_KEY,
  type ModelSummary,
  type Sequential,
  type SequentialSpec,
  saveModel,
  seedCnn,
  sequentialFromJSON,
  summary,
} from '@dlf/nn';
import { Generator, loadSafetensors, SafetensorsError, type Tensor } from '@dlf/tensor-core';
import { FileError, UsageError } from './errors.js';
import { VERSION } from './version.js';

/** Model presets known by name. */
export const PRESETS = ['seed-cnn'] as const;

/** How images are turned into model input. */
export interface Preprocess {
  /** Height and width the images are resized to. */
  size: [number, number];
  /** 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
  /** How images are fitted to the size (sharp's fit: 'fill' stretches). */
  fit: 'fill' | 'cover' | 'contain';
  /** Multiplier from uint8 pixels to [0, 1]. */
  scale: number;
  /** Per-channel mean and standard deviation subtracted and divided after scaling. */
  mean: number[];
  std: number[];
}

/** What a model file says about its model besides the weights. */
export interface ModelInfo {
  /** Class names, in output order. */
  classes: string[];
  /** Input shape of one example, [C, H, W]. */
  inputShape: [number, number, number];
  preprocess: Preprocess;
  /** Every metadata entry of the file. */
  metadata: Record<string, string>;
}

/** Metadata keys written next to the architecture. */
export const META = Object.freeze({
  format: 'dlf.format',
  version: 'dlf.version',
  classes: 'dlf.classes',
  inputShape: 'dlf.inputShape',
  preprocess: 'dlf.preprocess',
});

const MAX_LAYERS = 4096;
const MAX_DIM = 1 << 20;
const MAX_SIDE = 8192;

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function pairOf(v: unknown): [number, number] | undefined {
  if (isInt(v, 0, MAX_DIM)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && isInt(v[0], 0, MAX_DIM) && isInt(v[1], 0, MAX_DIM))
    return [v[0], v[1]];
  return undefined;
}

/**
 * The parameter and buffer shapes a Sequential description implies, computed from the description
 * alone (no allocation), with every size checked to be a sane integer.
 */
export function impliedStateShapes(spec: unknown): Map<string, number[]> {
  const fail = (what: string): never => {
    throw new Error(`the architecture is invalid: ${what}`);
  };
  if (typeof spec !== 'object' || spec === null) fail('it is not an object');
  const s = spec as Partial<SequentialSpec>;
  if (s.format !== 'dlf.sequential') fail("its format is not 'dlf.sequential'");
  if (!Array.isArray(s.layers)) fail('it has no layers array');
  const layers = s.layers as unknown[];
  if (layers.length > MAX_LAYERS) fail(`it has ${layers.length} layers (at most ${MAX_LAYERS})`);
  const out = new Map<string, number[]>();
  layers.forEach((l, i) => {
    if (typeof l !== 'object' || l === null) fail(`layer ${i} is not an object`);
    const layer = l as Record<string, unknown>;
    const int = (key: string, fallback?: number): number => {
      const v = layer[key] ?? fallback;
      if (!isInt(v, 1, MAX_DIM)) fail(`layer ${i} (${String(layer.type)}) has ${key} = ${JSON.stringify(v)}`);
      return v as number;
    };
    const bias = layer.bias ?? true;
    switch (layer.type) {
      case 'Linear': {
        const inF = int('inFeatures');
        const outF = int('outFeatures');
        out.set(`${i}.weight`, [outF, inF]);
        if (bias) out.set(`${i}.bias`, [outF]);
        break;
      }
      case 'Conv2d': {
        const inC = int('inChannels');
        const outC = int('outChannels');
        const groups = int('groups', 1);
        const k = pairOf(layer.kernelSize);
        if (!k || k[0] < 1 || k[1] < 1)
          fail(`layer ${i} (Conv2d) has kernelSize = ${JSON.stringify(layer.kernelSize)}`);
        if (inC % groups !== 0) fail(`layer ${i} (Conv2d) has groups that do not divide inChannels`);
        out.set(`${i}.weight`, [outC, inC / groups, k![0], k![1]]);
        if (bias) out.set(`${i}.bias`, [outC]);
        break;
      }
      case 'BatchNorm2d': {
        const n = int('numFeatures');
        if (layer.affine ?? true) {
          out.set(`${i}.weight`, [n]);
          out.set(`${i}.bias`, [n]);
        }
        if (layer.trackRunningStats ?? true) {
          out.set(`${i}.runningMean`, [n]);
          out.set(`${i}.runningVar`, [n]);
        }
        break;
      }
      default:
        if (typeof layer.type !== 'string') fail(`layer ${i} has no type`);
    }
  });
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function parseJsonMeta<T>(path: string, metadata: Record<string, string>, key: string): T | undefined {
  const raw = metadata[key];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw new FileError(path, `The model file ${path} has '${key}' metadata that is not valid JSON.`);
  }
}

function checkPreprocess(path: string, p: unknown, inputShape: [number, number, number]): Preprocess {
  const bad = (what: string): never => {
    throw new FileError(path, `The model file ${path} has invalid preprocessing metadata: ${what}.`);
  };
  const [c, h, w] = inputShape;
  const dflt: Preprocess = {
    size: [h, w],
    channels: c === 1 ? 1 : 3,
    fit: 'fill',
    scale: 1 / 255,
    mean: [0],
    std: [1],
  };
  if (p === undefined) return dflt;
  if (typeof p !== 'object' || p === null) return bad('not an object');
  const o = p as Record<string, unknown>;
  const nums = (key: string, positive: boolean): number[] => {
    const v = o[key];
    if (
      !Array.isArray(v) ||
      (v.length !== 1 && v.length !== c) ||
      v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || (positive && x <= 0))
    ) {
      return bad(`${key} must be 1 or ${c} ${positive ? 'positive ' : ''}numbers`);
    }
    return v as number[];
  };
  const fit = o.fit ?? 'fill';
  if (fit !== 'fill' && fit !== 'cover' && fit !== 'contain') return bad(`fit '${String(fit)}' is unknown`);
  const scale = o.scale ?? 1 / 255;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) return bad('scale must be a number');
  return { ...dflt, fit, scale, mean: nums('mean', false), std: nums('std', true) };
}

/**
 * Reads a model file written by {@link saveModelFile} (or `@dlf/nn`'s `saveModel`), checking the
 * container, the metadata and the architecture against the stored weights before building the
 * model. Every problem is a {@link FileError} naming the file.
 *
 * @example
 * ```ts
 * const { model, info } = await readModelFile('runs/mnist/model.safetensors');
 * info.classes; // ['0', '1', …]
 * ```
 */
export async function readModelFile(
  path: string,
): Promise<{ model: Sequential; info: ModelInfo; summary: ModelSummary }> {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(path);
  } catch {
    throw new FileError(path, `The model file ${path} does not exist.`);
  }
  if (st.isDirectory()) {
    throw new FileError(path, `${path} is a folder; expected a model file (.safetensors).`);
  }
  let contents: Awaited<ReturnType<typeof loadSafetensors>>;
  try {
    contents = await loadSafetensors(path);
  } catch (e) {
    if (e instanceof SafetensorsError) {
      const detail = e.message.startsWith(`${path}: `) ? e.message.slice(path.length + 2) : e.message;
      throw new FileError(path, `The model file ${path} is not a valid safetensors file: ${detail}.`, {
        cause: e,
      });
    }
    throw new FileError(path, `Cannot read the model file ${path} (${(e as Error).message}).`, { cause: e });
  }
  const { tensors, metadata } = contents;
  try {
    const arch = parseJsonMeta<unknown>(path, metadata, ARCHITECTURE_KEY);
    if (arch === undefined) {
      throw new FileError(
        path,
        `The model file ${path} has no '${ARCHITECTURE_KEY}' metadata: it holds weights but no model description (save models with dlf train or saveModel).`,
      );
    }
    let shapes: Map<string, number[]>;
    try {
      shapes = impliedStateShapes(arch);
    } catch (e) {
      throw new FileError(path, `The model file ${path} is not usable: ${(e as Error).message}.`);
    }
    for (const [name, shape] of shapes) {
      const t = tensors.get(name);
      if (!t)
        throw new FileError(
          path,
          `The model file ${path} lacks the tensor '${name}' its architecture needs.`,
        );
      if (t.dtype !== 'float32' || !sameShape(t.shape, shape)) {
        throw new FileError(
          path,
          `The model file ${path} has '${name}' of shape [${t.shape.join(', ')}] (${t.dtype}) but its architecture needs [${shape.join(', ')}] (float32).`,
        );
      }
    }
    for (const name of tensors.keys()) {
      if (!shapes.has(name)) {
        throw new FileError(
          path,
          `The model file ${path} holds a tensor '${name}' that its architecture does not use.`,
        );
      }
    }
    let model: Sequential;
    try {
      model = sequentialFromJSON(arch);
      model.loadStateDict(tensors);
    } catch (e) {
      throw new FileError(
        path,
        `The model file ${path} has an unusable architecture: ${(e as Error).message}.`,
        {
          cause: e,
        },
      );
    }
    try {
      const inputShape = parseJsonMeta<unknown>(path, metadata, META.inputShape);
      if (
        !Array.isArray(inputShape) ||
        inputShape.length !== 3 ||
        !isInt(inputShape[0], 1, 4096) ||
        !isInt(inputShape[1], 1, MAX_SIDE) ||
        !isInt(inputShape[2], 1, MAX_SIDE)
      ) {
        throw new FileError(
          path,
          `The model file ${path} has no valid '${META.inputShape}' metadata (expected [channels, height, width]).`,
        );
      }
      const shape = inputShape as [number, number, number];
      let s: ModelSummary;
      try {
        s = summary(model, shape);
      } catch (e) {
        throw new FileError(
          path,
          `The model file ${path} says its input is ${shape.join('×')}, which its layers do not accept (${(e as Error).message}).`,
        );
      }
      if (s.outputShape.length !== 1) {
        throw new FileError(
          path,
          `The model file ${path} describes a model whose output is not one score per class.`,
        );
      }
      const n = s.outputShape[0]!;
      const classes =
        parseJsonMeta<unknown>(path, metadata, META.classes) ??
        Array.from({ length: n }, (_, i) => String(i));
      if (!Array.isArray(classes) || classes.length !== n || classes.some((c) => typeof c !== 'string')) {
        throw new FileError(
          path,
          `The model file ${path} has '${META.classes}' metadata that does not list ${n} class names.`,
        );
      }
      const preprocess = checkPreprocess(
        path,
        parseJsonMeta<unknown>(path, metadata, META.preprocess),
        shape,
      );
      return {
        model,
        info: { classes: classes as string[], inputShape: shape, preprocess, metadata },
        summary: s,
      };
    } catch (e) {
      model.dispose();
      throw e;
    }
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/**
 * Writes a model file: the weights, and in the metadata the architecture, class names, input shape,
 * preprocessing and any `extra` entries. Atomic (temp file, fsync, rename).
 */
export async function saveModelFile(
  path: string,
  model: Sequential,
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
  model: Sequential;
  /** Drives initialisation (JSON models) and dropout; its state goes into checkpoints. */
  generator: Generator;
  /** A short name for messages and run folders. */
  name: string;
}

/**
 * Builds a model to train: a preset (`seed-cnn`), a `model.json` Sequential description, or a model
 * file to fine-tune. The output must be one score per class of the data.
 *
 * @example
 * ```ts
 * const { model } = await buildModel('seed-cnn', { classes: 10, inputShape: [1, 28, 28], seed: 0 });
 * ```
 */
export async function buildModel(
  spec: string,
  options: { classes: number; inputShape: readonly [number, number, number]; seed: number },
): Promise<BuiltModel> {
  const [c, h, w] = options.inputShape;
  const generator = new Generator(options.seed);
  let model: Sequential;
  let name: string;
  if (spec === 'seed-cnn') {
    if (h !== w || h % 4 !== 0) {
      throw new UsageError(
        `seed-cnn needs square images with a side divisible by 4, but the data is ${h}×${w}; pass --size 32 (or another multiple of 4).`,
        'train',
      );
    }
    model = seedCnn({ classes: options.classes, inChannels: c, inputSize: h, seed: options.seed });
    name = 'seed-cnn';
  } else if (/\.json$/i.test(spec)) {
    if (!existsSync(spec)) throw new FileError(spec, `The model description ${spec} does not exist.`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(spec, 'utf8'));
    } catch (e) {
      throw new FileError(spec, `The model description ${spec} is not valid JSON (${(e as Error).message}).`);
    }
    try {
      impliedStateShapes(json);
      model = sequentialFromJSON(json, { generator });
    } catch (e) {
      throw new FileError(spec, `The model description ${spec} is invalid: ${(e as Error).message}.`);
    }
    name = spec.replace(/^.*[\\/]/, '').replace(/\.json$/i, '');
  } else if (/\.safetensors$/i.test(spec)) {
    ({ model } = await readModelFile(spec));
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
  if (s.outputShape.length !== 1 || s.outputShape[0] !== options.classes) {
    model.dispose();
    throw new UsageError(
      `The model ${spec} outputs [${s.outputShape.join(', ')}] per image but the data has ${options.classes} classes.`,
      'train',
    );
  }
  return { model, generator, name };
}

/** Parses `3x32x32` (or `3,32,32`) into [C, H, W]. */
export function parseInputShape(text: string): [number, number, number] {
  const parts = text.split(/[x×,]/).map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 1 || p > MAX_SIDE)) {
    throw new UsageError(`Expected --input as CxHxW (e.g. 3x32x32) but received '${text}'.`);
  }
  return parts as [number, number, number];
}

/** The tensors of a state dict as copies (for writing while the model keeps training). */
export function stateCopies(model: Sequential): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of model.stateDict()) out.set(k, v.detach());
  return out;
}
