import { loadSafetensors, saveSafetensors, type Tensor } from '@dlf/tensor-core';
import type { Sequential } from './layers/index.js';
import { ARCHITECTURE_KEY } from './model-file/architecture.js';
import type { Module } from './module.js';

export { ARCHITECTURE_KEY } from './model-file/architecture.js';
export { loadModel } from './model-file/read.js';

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
