/**
 * The run-folder lock: one trainer (or resume) per run folder at a time, across processes and
 * within one. The lock is a file `.lock` in the run folder, created exclusively (`wx`), holding the
 * owner's process id, host name and start time. A lock left by a process that no longer runs on
 * this host is stale and taken over; a lock from another host is respected (its process cannot be
 * checked), and the message says how to remove it.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, openSync, readFileSync, renameSync, rmSync, writeSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describeFsError, errnoCode } from '@dlf/tensor-core';
import { FileError, UsageError } from './errors.js';

/** The lock file's name inside a run folder. */
export const LOCK_NAME = '.lock';

/** What a lock file records. */
export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** What holds it: `'train'`, `'resume'`. */
  purpose: string;
}

/** A held lock; {@link RunLock.release} removes it (idempotent). */
export interface RunLock {
  readonly file: string;
  release(): void;
}

/** Locks taken by this process, by file: a second `train()` into one folder in one process is refused too. */
const held = new Set<string>();

let exitHook = false;
/**
 * Removes this process's locks when it exits without releasing them (`process.exit` after Ctrl-C
 * while the data loads): the next run would take them over as stale anyway, but a folder should
 * not say it is in use by a process that is gone.
 */
function releaseOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const file of held) {
      if (readOwner(file)?.pid === process.pid) rmSync(file, { force: true });
    }
  });
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    if (typeof o.pid === 'number' && typeof o.host === 'string')
      return { pid: o.pid, host: o.host, since: String(o.since ?? '?'), purpose: String(o.purpose ?? '?') };
  } catch {}
  return undefined;
}

/** True when `pid` names a running process on this host. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM'; // exists, owned by another user
  }
}

function isStale(owner: LockOwner | undefined): boolean {
  // An unreadable lock is being written right now (or is damaged): not stale.
  if (!owner) return false;
  if (owner.host !== hostname()) return false;
  if (owner.pid === process.pid) return false;
  return !alive(owner.pid);
}

/**
 * Moves a stale lock aside, unless another process replaced it meanwhile: the moved file is read
 * again and, when it is not the stale one, linked back (a link fails rather than overwrite).
 */
function takeOver(file: string, stale: LockOwner): void {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // someone else moved it first
  }
  const moved = readOwner(aside);
  if (moved && (moved.pid !== stale.pid || moved.since !== stale.since)) {
    try {
      linkSync(aside, file);
    } catch {}
  }
  rmSync(aside, { force: true });
}

/**
 * Takes the lock of a run folder (which must exist) or throws a {@link UsageError} naming the
 * process that holds it.
 *
 * @example
 * ```ts
 * const lock = acquireRunLock('runs/demo', 'train');
 * try { await work(); } finally { lock.release(); }
 * ```
 */
export function acquireRunLock(runDir: string, purpose: string): RunLock {
  const file = join(runDir, LOCK_NAME);
  const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString(), purpose };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (held.has(file)) break;
    // The owner is written to a file of our own first and then linked into place: the lock appears
    // with its contents complete, so no other process ever reads an empty lock (it would not know
    // whom to name, nor whether the holder is alive).
    const draft = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      const fd = openSync(draft, 'wx');
      try {
        writeSync(fd, `${JSON.stringify(owner)}\n`);
      } finally {
        closeSync(fd);
      }
      linkSync(draft, file);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') {
        throw new FileError(file, describeFsError(e, 'lock the run folder with', file));
      }
      const current = readOwner(file);
      if (current && isStale(current)) {
        takeOver(file, current);
        continue;
      }
      throw busy(runDir, file, current);
    } finally {
      rmSync(draft, { force: true });
    }
    held.add(file);
    releaseOnExit();
    let released = false;
    return {
      file,
      release(): void {
        if (released) return;
        released = true;
        held.delete(file);
        // Only our own lock is removed (a stale-lock take-over could have replaced it).
        const now = readOwner(file);
        if (now && now.pid === owner.pid && now.since === owner.since) rmSync(file, { force: true });
      },
    };
  }
  throw busy(runDir, file, readOwner(file));
}

/**
 * Throws the {@link UsageError} naming the holder when another live process holds the run folder's lock,
 * so that a folder in use is reported as such (not as "already holds a run" or "has no
 * config.json" while its first trainer is still writing them). Taking the lock stays the real check.
 *
 * @example
 * ```ts
 * refuseIfLocked('runs/demo'); // throws while another `dlf train` runs there
 * ```
 */
export function refuseIfLocked(runDir: string): void {
  // Only other processes count: this one's own lock is checked (and refused) when it is taken.
  const file = join(runDir, LOCK_NAME);
  const owner = readOwner(file);
  if (owner && !isStale(owner) && owner.pid !== process.pid) throw busy(runDir, file, owner);
}

function busy(runDir: string, file: string, owner: LockOwner | undefined): UsageError {
  const who = owner
    ? `process ${owner.pid} on ${owner.host === hostname() ? 'this host' : `host ${owner.host}`} (${owner.purpose}, since ${owner.since})`
    : 'another process';
  return new UsageError(
    `${runDir} is in use by ${who}; wait for it to finish, or delete ${file} if no process is using the folder.`,
    'train',
  );
}
