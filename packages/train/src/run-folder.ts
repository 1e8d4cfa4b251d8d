/**
 * The run folder stage: naming and creating the folder of a new run or reopening one to resume
 * (its checkpoint, its metrics trimmed to that checkpoint), and the metrics log.
 */
import { existsSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { describeFsError, getNumThreads, getSimd } from '@dlf/tensor-core';
import {
  cleanTemporary,
  disposeCheckpoint,
  findResumeCheckpoint,
  type LoadedCheckpoint,
  readIfExists,
  writeJsonAtomic,
  writeTextAtomic,
} from './checkpoint.js';
import { semantic, type TrainConfig } from './config.js';
import { FileError, UsageError } from './errors.js';
import { configHash } from './fit.js';
import { acquireRunLock, refuseIfLocked, type RunLock } from './run-lock.js';
import type { TrainEvent } from './train.js';

/** `<date>-<time>-<data>-<model>`, the default name of a new run folder. */
function runName(config: TrainConfig, modelName: string): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  const data = basename(config.data).replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${stamp}-${data}-${modelName.replace(/[^A-Za-z0-9._-]+/g, '_')}`;
}

/** Keeps the metrics lines up to a checkpoint (a resumed run writes the rest again). */
async function rewriteMetrics(file: string, keepUntil: { step: number; epoch: number }): Promise<void> {
  const text = await readIfExists(file);
  if (text === undefined) return;
  const kept = text
    .split('\n')
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        const r = JSON.parse(line) as { type?: string; step?: number; epoch?: number };
        if (r.type === 'step') return (r.step ?? Infinity) <= keepUntil.step;
        if (r.type === 'epoch') return (r.epoch ?? Infinity) <= keepUntil.epoch;
        return false;
      } catch {
        return false;
      }
    })
    .map((l) => `${l}\n`)
    .join('');
  const dir = join(file, '..');
  await writeTextAtomic(dir, basename(file), kept);
}

/** The training-loss records of a metrics file, by step. */
export function readSteps(file: string): { step: number; loss: number }[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"type":"step"'))
      .map((l) => JSON.parse(l) as { step: number; loss: number })
      .sort((a, b) => a.step - b.step);
  } catch {
    return [];
  }
}

/**
 * metrics.jsonl, appended one JSON line per record. Appends are chained so that lines land in the
 * order the events happened. A failed write (a full disk, the file replaced by a folder) never
 * rejects an append: the log keeps the first error, stops writing, and {@link MetricsLog.check}
 * throws it as one {@link FileError} naming the file, so nothing becomes an unhandled rejection.
 */
export class MetricsLog {
  #tail: Promise<void> = Promise.resolve();
  #error: unknown;
  constructor(readonly file: string) {}
  /** Appends a record; the promise settles (never rejects) once it and every earlier one is done. */
  append(record: Record<string, unknown>): Promise<void> {
    this.#tail = this.#tail.then(async () => {
      if (this.#error !== undefined) return;
      try {
        await writeFile(this.file, `${JSON.stringify(record)}\n`, { flag: 'a' });
      } catch (e) {
        this.#error = e;
      }
    });
    return this.#tail;
  }
  /** True once a write has failed. */
  get failed(): boolean {
    return this.#error !== undefined;
  }
  /**
   * Waits for the appends so far, then throws a {@link FileError} for the first failed write;
   * `after` ends its sentence (e.g. which checkpoint is intact).
   */
  async check(after?: string): Promise<void> {
    await this.#tail;
    if (this.#error === undefined) return;
    throw new FileError(this.file, describeFsError(this.#error, 'write', this.file, after), {
      cause: this.#error,
    });
  }
}

/** What {@link prepareRunFolder} gives the later stages. */
export interface RunFolder {
  runDir: string;
  metrics: MetricsLog;
  /** The run folder's lock, held until {@link train} returns (none on a distributed run's other ranks: rank 0 holds it). */
  lock?: RunLock;
  /** The checkpoint a resumed run continues from (the fit stage disposes it). */
  resume: LoadedCheckpoint | undefined;
}

/**
 * Stage 2 of {@link train}: creates the run folder (or reopens it with `resumeDir`), finds the
 * checkpoint to resume from, trims the metrics to it and writes config.json.
 */
export async function prepareRunFolder(
  config: TrainConfig,
  where: {
    resumeDir?: string | undefined;
    out?: string | undefined;
    runsDir?: string | undefined;
    modelName: string;
    /** The folder's lock when {@link lockNamedRunFolder} took it already. */
    lock?: EarlyLock | undefined;
  },
  emit: (event: TrainEvent) => void,
): Promise<RunFolder> {
  const { resumeDir } = where;
  const runDir =
    where.lock?.runDir ??
    resumeDir ??
    resolve(where.out ?? join(where.runsDir ?? 'runs', runName(config, where.modelName)));
  // From here on this process owns the folder: a second trainer or a resume is refused.
  const lock = where.lock?.lock ?? (await createAndLock(runDir, resumeDir !== undefined)).lock;
  try {
    // Checked again under the lock: another trainer may have started the run meanwhile.
    if (!resumeDir) refuseNonRunFolder(runDir);
    return await prepareLocked(config, runDir, resumeDir, lock, emit);
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** A run folder locked before its data is loaded. */
export interface EarlyLock {
  runDir: string;
  lock: RunLock;
  /** True when this process created the folder (removed again if the run never starts). */
  created: boolean;
}

/** Creates the run folder (a new run's) and takes its lock. */
async function createAndLock(runDir: string, resuming: boolean): Promise<EarlyLock> {
  if (!resuming) refuseNonRunFolder(runDir);
  const created = !existsSync(runDir);
  try {
    await mkdir(runDir, { recursive: true });
  } catch (e) {
    throw new FileError(runDir, describeFsError(e, 'create the run folder', runDir), { cause: e });
  }
  try {
    return { runDir, lock: acquireRunLock(runDir, resuming ? 'resume' : 'train'), created };
  } catch (e) {
    if (created) rmEmptyFolder(runDir);
    throw e;
  }
}

/**
 * Locks a run folder named up front (`--out` or `--resume`) before any data is loaded, so that a
 * second trainer or a resume of a folder in use is refused at once, naming the process that holds
 * it, rather than after minutes of decoding. Undefined when the folder is named only later (the
 * default `runs/<date>-<data>-<model>`).
 *
 * @example
 * ```ts
 * const early = await lockNamedRunFolder({ out: 'runs/demo' });
 * // … load the data; if that fails: abandonEarlyLock(early)
 * ```
 */
export async function lockNamedRunFolder(where: {
  resumeDir?: string | undefined;
  out?: string | undefined;
}): Promise<EarlyLock | undefined> {
  const runDir = where.resumeDir ?? (where.out !== undefined ? resolve(where.out) : undefined);
  if (runDir === undefined) return undefined;
  return createAndLock(runDir, where.resumeDir !== undefined);
}

/**
 * Releases an early lock of a run that never started (its data or model failed): the folder is
 * removed again when this process created it and it is still empty.
 */
export function abandonEarlyLock(early: EarlyLock | undefined): void {
  if (!early) return;
  early.lock.release();
  if (early.created) rmEmptyFolder(early.runDir);
}

function rmEmptyFolder(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty (someone else's files) or already gone: left as it is.
  }
}

/**
 * Checks, before any data is loaded, that a new run can go in `out`: no part of the path may be a
 * file (the same one-sentence {@link FileError} that creating it would throw), and an existing folder
 * must not hold a run or files a run would overwrite (a {@link UsageError}). Checked again under
 * the run-folder lock when the run starts.
 *
 * @example
 * ```ts
 * checkRunFolderPath('runs/demo'); // fine; 'notes.txt/run' would throw
 * ```
 */
export function checkRunFolderPath(out: string): void {
  const target = resolve(out);
  for (let p = target; ; p = dirname(p)) {
    if (existsSync(p)) {
      if (p === target && !statSync(p).isDirectory()) {
        throw new FileError(target, `Cannot create the run folder ${target}: it is a file.`);
      }
      if (!statSync(p).isDirectory()) {
        const cause = Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${target}'`), {
          code: 'ENOTDIR',
        });
        throw new FileError(target, describeFsError(cause, 'create the run folder', target), { cause });
      }
      if (p === target) refuseNonRunFolder(target);
      return;
    }
    if (dirname(p) === p) return;
  }
}

/** A new run goes into an empty folder or a fresh one, never over a run or a model's files. */
function refuseNonRunFolder(runDir: string): void {
  refuseIfLocked(runDir);
  if (existsSync(join(runDir, 'config.json'))) {
    throw new UsageError(
      `${runDir} already holds a run; continue it with --resume ${runDir} or choose another --out.`,
      'train',
    );
  }
  const clash = OUTPUT_FILES.find((f) => existsSync(join(runDir, f)));
  if (clash) {
    throw new UsageError(
      `${runDir} is not a run folder but holds ${clash}, which a run would overwrite; choose another --out.`,
      'train',
    );
  }
}

/** The files a run writes that must not overwrite someone's own files in a folder that is not a run. */
const OUTPUT_FILES = ['model.safetensors', 'report.html'];

async function prepareLocked(
  config: TrainConfig,
  runDir: string,
  resumeDir: string | undefined,
  lock: RunLock,
  emit: (event: TrainEvent) => void,
): Promise<RunFolder> {
  await cleanTemporary(runDir);
  const metricsFile = join(runDir, 'metrics.jsonl');
  let resume: LoadedCheckpoint | undefined;
  if (resumeDir) {
    resume = await findResumeCheckpoint(runDir);
    if (resume) {
      if (resume.state.configHash !== configHash(semantic(config))) {
        disposeCheckpoint(resume);
        throw new FileError(
          join(resume.path, 'state.json'),
          `The checkpoint ${resume.path} was written with other settings than ${join(runDir, 'config.json')} holds; it cannot be resumed.`,
        );
      }
      if (resume.state.threads !== getNumThreads()) {
        emit({
          type: 'warning',
          message: `The run used ${resume.state.threads} kernel threads and continues with ${getNumThreads()}; pass --threads ${resume.state.threads} for a bit-identical continuation.`,
        });
      }
      if (resume.state.simd !== undefined && resume.state.simd !== getSimd()) {
        emit({
          type: 'warning',
          message: `The run used the ${resume.state.simd} kernels and continues with ${getSimd()}; results can differ in the last bits (set DLF_SIMD=${resume.state.simd} for a bit-identical continuation).`,
        });
      }
      emit({
        type: 'resume',
        checkpoint: resume.path,
        epoch: resume.state.epoch,
        batch: resume.state.batch,
        step: resume.state.step,
      });
      await rewriteMetrics(metricsFile, { step: resume.state.step, epoch: resume.state.epoch });
    } else {
      await rewriteMetrics(metricsFile, { step: 0, epoch: 0 });
    }
  } else {
    await writeFile(metricsFile, '');
  }
  await writeJsonAtomic(runDir, 'config.json', config);
  emit({ type: 'config', config, runDir, resumed: resume !== undefined, threads: getNumThreads() });
  return { runDir, metrics: new MetricsLog(metricsFile), resume, lock };
}

/**
 * The run folder as ranks other than 0 of a data-parallel run see it: they write nothing (rank 0
 * owns the folder) and only read the checkpoint to resume from, which rank 0 resumes too.
 */
export async function followerRunFolder(
  config: TrainConfig,
  resumeDir: string | undefined,
  emit: (event: TrainEvent) => void,
): Promise<RunFolder> {
  const runDir = resumeDir ?? '';
  const resume = resumeDir ? await findResumeCheckpoint(runDir) : undefined;
  emit({ type: 'config', config, runDir, resumed: resume !== undefined, threads: getNumThreads() });
  return { runDir, metrics: new MetricsLog(join(runDir, 'metrics.jsonl')), resume };
}
