import { invalidParam, loadSafetensors, saveSafetensors, type Tensor } from '@dlf/tensor-core';
import { type Sequential, sequentialFromJSON } from './layers/index.js';
import type { Module } from './module.js';

/** The metadata key that holds a model's architecture (JSON of {@link Sequential.toJSON}). */
export const ARCHITECTURE_KEY = 'dlf.architecture';

/**
 * Writes a module's state dict to a safetensors file, atomically (a temp file in the same folder,
 * fsync, rename): an existing file is never left half-written.
 *
 * @example
 * ```ts
 * await saveStateDict(model, 'weights.safetensors', { note: 'epoch 3' });
 * ```
 */
export async function saveStateDict(
  module: Module,
  path: string,
  metadata: Record<string, string> = {},
): Promise<void> {
  const state = new Map<string, Tensor>();
  for (const [k, v] of module.stateDict()) state.set(k, v.detach());
  try {
    await saveSafetensors(path, state, metadata);
  } finally {
    for (const v of state.values()) v.dispose();
  }
}

/**
 * Loads a safetensors state dict into a module (shapes checked; names must match unless
 * `strict: false`). Returns the file's metadata.
 *
 * @example
 * ```ts
 * await loadStateDictFile(model, 'weights.safetensors');
 * ```
 */
export async function loadStateDictFile(
  module: Module,
  path: string,
  options: { strict?: boolean } = {},
): Promise<Record<string, string>> {
  const { tensors, metadata } = await loadSafetensors(path);
  try {
    module.loadStateDict(tensors, options);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return metadata;
}

/**
 * Saves a Sequential model as one self-describing safetensors file: weights plus the architecture
 * (and any metadata you add: class names, input size, preprocessing) in the header.
 *
 * @example
 * ```ts
 * await saveModel('model.safetensors', model, { classes: JSON.stringify(['cat', 'dog']) });
 * ```
 */
export async function saveModel(
  path: string,
  model: Sequential,
  metadata: Record<string, string> = {},
): Promise<void> {
  await saveStateDict(model, path, { ...metadata, [ARCHITECTURE_KEY]: JSON.stringify(model.toJSON()) });
}

/**
 * Loads a model saved by {@link saveModel}. Throws an error naming the file when the architecture
 * is missing or does not match the weights.
 *
 * @example
 * ```ts
 * const { model, metadata } = await loadModel('model.safetensors');
 * ```
 */
export async function loadModel(
  path: string,
): Promise<{ model: Sequential; metadata: Record<string, string> }> {
  const { tensors, metadata } = await loadSafetensors(path);
  try {
    const arch = metadata[ARCHITECTURE_KEY];
    if (arch === undefined) {
      throw invalidParam(
        path,
        `a model file with '${ARCHITECTURE_KEY}' metadata (was it saved with saveModel?)`,
        'no architecture',
      );
    }
    let spec: unknown;
    try {
      spec = JSON.parse(arch);
    } catch {
      throw new Error(`${path}: the '${ARCHITECTURE_KEY}' metadata is not valid JSON`);
    }
    let model: Sequential;
    try {
      model = sequentialFromJSON(spec);
    } catch (error) {
      throw new Error(`${path}: invalid architecture: ${(error as Error).message}`, { cause: error });
    }
    try {
      model.loadStateDict(tensors);
    } catch (error) {
      model.dispose();
      throw new Error(`${path}: the weights do not match the architecture: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return { model, metadata };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
