/**
 * Atomic checkpoints in a run folder:
 *
 * ```
 * runs/<id>/ckpt-e0007/{model.safetensors, optimizer.safetensors, [ema.safetensors,] state.json}
 * runs/<id>/last   (a pointer file: "ckpt-e0007")
 * runs/<id>/best
 * ```
 *
 * A checkpoint is written into `.tmp-ckpt-*` in the run folder (same file system, so the rename is
 * atomic), each file fsynced, then the folder is renamed into place and the run folder fsynced;
 * only then is the `last` pointer replaced (temp file, fsync, rename). A crash at any moment leaves
 * the previous checkpoint and pointer intact; stale `.tmp-*` entries are ignored and cleaned up.
 * An interrupted epoch gets a checkpoint named `ckpt-e0007-b000123` (7 epochs and 123 batches done).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  loadSafetensors,
  replaceDirAtomic,
  SafetensorsError,
  saveSafetensors,
  type Tensor,
  writeFileAtomic,
} from '@dlf/tensor-core';
import type { EmaState } from './ema.js';
import { FileError } from './errors.js';
import type { OptimizerState } from './optim-adapter.js';

/** The JSON state saved with every checkpoint. */
export interface CheckpointState {
  /** Marks a dlf checkpoint. */
  format: 'dlf.checkpoint';
  /** Version of the checkpoint layout. */
  version: 1;
  /** @dlf/train version that wrote it. */
  dlfVersion: string;
  /** Completed epochs. */
  epoch: number;
  /** Batches done in the epoch after `epoch` (0 at an epoch boundary). */
  batch: number;
  /** Optimizer steps taken. */
  step: number;
  /** Epochs the run was planned for when this was written. */
  epochs: number;
  /** Kernel threads used (bit-identical continuation needs the same count). */
  threads: number;
  /** The SIMD kernel level used (`'avx2'`, …; absent in older checkpoints). */
  simd?: string;
  /** The dropout/initialisation generator state. */
  generator: { seed: number; offset: number };
  /** Everything that defines the learning-rate schedule. */
  schedule: Record<string, unknown>;
  /** The optimizer's facts (its tensors are in optimizer.safetensors). */
  optimizer: Record<string, unknown>;
  /** The trainer's own state (history, best metric, running sums of a partial epoch). */
  trainer: Record<string, unknown>;
  /** The training configuration and its hash (resume refuses a different configuration). */
  config: Record<string, unknown>;
  /** Hash of the settings that decide the result; resuming with other settings is refused. */
  configHash: string;
  /** When it was written (ISO 8601). */
  createdAt: string;
}

/** A checkpoint read back. The caller disposes the tensors (see {@link disposeCheckpoint}). */
export interface LoadedCheckpoint {
  /** The checkpoint folder. */
  path: string;
  /** The checkpoint folder's name, e.g. `ckpt-e0003`. */
  name: string;
  /** The model weights by parameter name. */
  model: Map<string, Tensor>;
  /** The metadata of its model file. */
  modelMetadata: Record<string, string>;
  /** The optimizer state (moments, step counts). */
  optimizer: OptimizerState;
  /** The weight average (ema.safetensors), when the run keeps one. */
  ema?: EmaState;
  /** Epoch, step, schedule, random state and the rest of `state.json`. */
  state: CheckpointState;
}

/** Test hooks: called after each file of a checkpoint is written (throwing simulates a crash). */
export interface CheckpointHooks {
  afterFile?: (file: string) => void | Promise<void>;
}

const CKPT_RE = /^ckpt-e(\d{4,})(?:-b(\d{6,}))?$/;

/** The folder name of a checkpoint after `epoch` epochs and `batch` more batches. */
export function checkpointName(epoch: number, batch = 0): string {
  const e = `ckpt-e${String(epoch).padStart(4, '0')}`;
  return batch > 0 ? `${e}-b${String(batch).padStart(6, '0')}` : e;
}

/** Atomically replaces a small text file (temp file in the same folder, fsync, rename, fsync folder). */
export function writeTextAtomic(dir: string, name: string, text: string): Promise<void> {
  return writeFileAtomic(join(dir, name), text);
}

/** Writes one checkpoint folder atomically and returns its path. */
export async function writeCheckpoint(
  runDir: string,
  name: string,
  content: {
    model: Map<string, Tensor>;
    modelMetadata: Record<string, string>;
    optimizer: OptimizerState;
    ema?: EmaState;
    state: CheckpointState;
  },
  hooks: CheckpointHooks = {},
): Promise<string> {
  const final = join(runDir, name);
  let crashed = false;
  const fill = async (tmp: string): Promise<void> => {
    const step = async (file: string, write: () => Promise<void>): Promise<void> => {
      await write();
      try {
        await hooks.afterFile?.(file);
      } catch (e) {
        crashed = true; // a simulated crash leaves its debris behind, as a real one would
        throw e;
      }
    };
    await step('model.safetensors', () =>
      saveSafetensors(join(tmp, 'model.safetensors'), content.model, content.modelMetadata),
    );
    await step('optimizer.safetensors', () =>
      saveSafetensors(join(tmp, 'optimizer.safetensors'), content.optimizer.tensors, {
        'dlf.optimizer': JSON.stringify(content.optimizer.meta),
      }),
    );
    const ema = content.ema;
    if (ema) {
      await step('ema.safetensors', () =>
        saveSafetensors(join(tmp, 'ema.safetensors'), ema.tensors, { 'dlf.ema': JSON.stringify(ema.meta) }),
      );
    }
    await step('state.json', () =>
      writeFileAtomic(join(tmp, 'state.json'), `${JSON.stringify(content.state, null, 2)}\n`),
    );
  };
  // Same position saved again (e.g. interrupted twice at one batch): the old one is swapped out.
  await replaceDirAtomic(final, fill, { keepTempOnError: () => crashed });
  return final;
}

/** Points `last` or `best` at a checkpoint folder name, atomically. */
export function setPointer(runDir: string, pointer: 'last' | 'best', name: string): Promise<void> {
  return writeTextAtomic(runDir, pointer, `${name}\n`);
}

/** The checkpoint name a pointer holds, or undefined. */
export function readPointer(runDir: string, pointer: 'last' | 'best'): string | undefined {
  try {
    const name = readFileSync(join(runDir, pointer), 'utf8').trim();
    return CKPT_RE.test(name) ? name : undefined;
  } catch {
    return undefined;
  }
}

/** Checkpoint folders of a run, oldest first (by epoch, then batch). */
export function listCheckpoints(runDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(runDir);
  } catch {
    return [];
  }
  const key = (n: string): [number, number] => {
    const m = CKPT_RE.exec(n)!;
    return [Number(m[1]), Number(m[2] ?? 0)];
  };
  return names
    .filter((n) => CKPT_RE.test(n) && statSync(join(runDir, n), { throwIfNoEntry: false })?.isDirectory())
    .sort((a, b) => {
      const [ea, ba] = key(a);
      const [eb, bb] = key(b);
      return ea - eb || ba - bb;
    });
}

/** Removes checkpoints beyond the newest `keep`, never the ones in `protect`. Returns the removed names. */
export async function rotateCheckpoints(
  runDir: string,
  keep: number,
  protect: Iterable<string>,
): Promise<string[]> {
  const keepSet = new Set(protect);
  const all = listCheckpoints(runDir);
  const newest = new Set(all.slice(-Math.max(1, keep)));
  const toRemove = all.filter((n) => !newest.has(n) && !keepSet.has(n));
  for (const n of toRemove) await rm(join(runDir, n), { recursive: true, force: true });
  return toRemove;
}

/** Deletes stale `.tmp-*` entries (left by a crash) from a run folder. */
export async function cleanTemporary(runDir: string): Promise<void> {
  let names: string[] = [];
  try {
    names = readdirSync(runDir);
  } catch {
    return;
  }
  for (const n of names)
    if (n.startsWith('.tmp-')) await rm(join(runDir, n), { recursive: true, force: true });
}

function disposeMap(m: Map<string, Tensor> | undefined): void {
  if (m) for (const t of m.values()) t.dispose();
}

/** Frees the tensors of a loaded checkpoint. */
export function disposeCheckpoint(c: LoadedCheckpoint): void {
  disposeMap(c.model);
  disposeMap(c.optimizer.tensors);
  disposeMap(c.ema?.tensors);
}

/** Reads a checkpoint folder; every problem is a {@link FileError} naming the file. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const name = dir.replace(/[\\/]+$/, '').replace(/^.*[\\/]/, '');
  const statePath = join(dir, 'state.json');
  let state: CheckpointState;
  try {
    state = JSON.parse(await readFile(statePath, 'utf8')) as CheckpointState;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileError(
      statePath,
      code === 'ENOENT'
        ? `The checkpoint ${dir} has no state.json.`
        : `The checkpoint file ${statePath} is not valid JSON.`,
      { cause: e },
    );
  }
  if (
    typeof state !== 'object' ||
    state === null ||
    state.format !== 'dlf.checkpoint' ||
    !Number.isInteger(state.epoch) ||
    !Number.isInteger(state.batch) ||
    !Number.isInteger(state.step)
  ) {
    throw new FileError(statePath, `The checkpoint file ${statePath} is not a dlf checkpoint state.`);
  }
  const read = async (file: string) => {
    const p = join(dir, file);
    try {
      return await loadSafetensors(p);
    } catch (e) {
      const why = e instanceof SafetensorsError ? e.message : (e as Error).message;
      throw new FileError(p, `The checkpoint file ${p} cannot be read (${why}).`, { cause: e });
    }
  };
  const model = await read('model.safetensors');
  let opt: Awaited<ReturnType<typeof read>>;
  try {
    opt = await read('optimizer.safetensors');
  } catch (e) {
    disposeMap(model.tensors);
    throw e;
  }
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(opt.metadata['dlf.optimizer'] ?? 'null') as Record<string, unknown>;
    if (typeof meta !== 'object' || meta === null) throw new Error('missing');
  } catch {
    disposeMap(model.tensors);
    disposeMap(opt.tensors);
    throw new FileError(
      join(dir, 'optimizer.safetensors'),
      `The checkpoint file ${join(dir, 'optimizer.safetensors')} has no optimizer description.`,
    );
  }
  let ema: EmaState | undefined;
  try {
    ema = await readEma(dir, read);
  } catch (e) {
    disposeMap(model.tensors);
    disposeMap(opt.tensors);
    throw e;
  }
  return {
    path: dir,
    name,
    model: model.tensors,
    modelMetadata: model.metadata,
    optimizer: { tensors: opt.tensors, meta },
    ...(ema ? { ema } : {}),
    state,
  };
}

/** A checkpoint's ema.safetensors, or undefined when the run keeps no weight average. */
async function readEma(
  dir: string,
  read: (file: string) => Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }>,
): Promise<EmaState | undefined> {
  const p = join(dir, 'ema.safetensors');
  if (!existsSync(p)) return undefined;
  const file = await read('ema.safetensors');
  try {
    const meta = JSON.parse(file.metadata['dlf.ema'] ?? 'null') as Record<string, unknown>;
    if (typeof meta !== 'object' || meta === null) throw new Error('missing');
    return { tensors: file.tensors, meta };
  } catch {
    disposeMap(file.tensors);
    throw new FileError(p, `The checkpoint file ${p} has no weight-average description.`);
  }
}

/**
 * The checkpoint to resume a run from: the one `last` points to, or, if that is missing or
 * unreadable, the newest checkpoint folder whose state can be read. Returns undefined when the run
 * has none.
 */
export async function findResumeCheckpoint(runDir: string): Promise<LoadedCheckpoint | undefined> {
  const candidates: string[] = [];
  const last = readPointer(runDir, 'last');
  if (last) candidates.push(last);
  for (const n of listCheckpoints(runDir).reverse()) if (n !== last) candidates.push(n);
  let firstError: unknown;
  for (const n of candidates) {
    try {
      return await loadCheckpoint(join(runDir, n));
    } catch (e) {
      firstError ??= e;
    }
  }
  if (firstError) throw firstError;
  return undefined;
}

/** Writes JSON (pretty) atomically. */
export function writeJsonAtomic(dir: string, name: string, value: unknown): Promise<void> {
  return writeTextAtomic(dir, name, `${JSON.stringify(value, null, 2)}\n`);
}

/** Reads a file if it exists. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
