/**
 * Reading model files: safetensors whose metadata holds the architecture, class names, input shape
 * and preprocessing. Loading checks a file completely before building anything from it, so a
 * corrupt or hostile file gives one clear error and never a huge allocation.
 */
import { statSync } from 'node:fs';
import { loadSafetensors, SafetensorsError } from '@dlf/tensor-core';
import { type Sequential, sequentialFromJSON } from '../layers/index.js';
import { isIntIn } from '../layers/registry.js';
import { type ModelSummary, summary } from '../summary.js';
import { ARCHITECTURE_KEY, impliedStateShapes } from './architecture.js';
import { FileError } from './errors.js';

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
  /** Per-channel standard deviation divided by after subtracting the mean. */
  std: number[];
}

/** What a model file says about its model besides the weights. */
export interface ModelInfo {
  /** Class names, in output order. */
  classes: string[];
  /** Input shape of one example, [C, H, W]. */
  inputShape: [number, number, number];
  /** How images become input: resize, channels, normalisation. */
  preprocess: Preprocess;
  /** Every metadata entry of the file. */
  metadata: Record<string, string>;
}

/**
 * Metadata keys written next to the architecture.
 *
 * @example
 * ```ts
 * JSON.parse(info.metadata[META.classes]!); // the class names
 * ```
 */
export const META = Object.freeze({
  format: 'dlf.format',
  version: 'dlf.version',
  classes: 'dlf.classes',
  inputShape: 'dlf.inputShape',
  preprocess: 'dlf.preprocess',
});

/** The largest image side a model file may declare. */
const MAX_SIDE = 8192;

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
 * Loads a model saved by {@link saveModel}: checks the container, then the architecture against the
 * stored weights (from the description alone, so a hostile file never causes a huge allocation),
 * then builds the model. Every problem is a {@link FileError} naming the file.
 *
 * @example
 * ```ts
 * const { model, metadata } = await loadModel('model.safetensors');
 * ```
 */
export async function loadModel(
  path: string,
): Promise<{ model: Sequential; metadata: Record<string, string> }> {
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
    return { model, metadata };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/**
 * Reads a model file written by `saveModelFile` (or {@link saveModel} with the same metadata): the
 * model as {@link loadModel} builds it, and its class names, input shape and preprocessing, each
 * checked. Every problem is a {@link FileError} naming the file.
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
  const { model, metadata } = await loadModel(path);
  try {
    const inputShape = parseJsonMeta<unknown>(path, metadata, META.inputShape);
    if (
      !Array.isArray(inputShape) ||
      inputShape.length !== 3 ||
      !isIntIn(inputShape[0], 1, 4096) ||
      !isIntIn(inputShape[1], 1, MAX_SIDE) ||
      !isIntIn(inputShape[2], 1, MAX_SIDE)
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
      parseJsonMeta<unknown>(path, metadata, META.classes) ?? Array.from({ length: n }, (_, i) => String(i));
    if (!Array.isArray(classes) || classes.length !== n || classes.some((c) => typeof c !== 'string')) {
      throw new FileError(
        path,
        `The model file ${path} has '${META.classes}' metadata that does not list ${n} class names.`,
      );
    }
    const preprocess = checkPreprocess(path, parseJsonMeta<unknown>(path, metadata, META.preprocess), shape);
    return {
      model,
      info: { classes: classes as string[], inputShape: shape, preprocess, metadata },
      summary: s,
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
