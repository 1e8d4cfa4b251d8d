/**
 * Starts the processes of one node of a data-parallel job (`dlf train --nproc N`), as torchrun does:
 * each child gets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT, and its share of the
 * node's kernel threads. When one child dies, the others are given the collective timeout to fail on
 * their own (they name the lost rank), then stopped; the launcher reports which rank stopped first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';

/** Options of {@link launch}. */
export interface LaunchOptions {
  /** Processes on this node. */
  nproc: number;
  /** Nodes in the job (default 1) and this node's index (default 0). */
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  /** The program and arguments every child runs. */
  command: string;
  args: readonly string[];
  /** Kernel threads on this node, split between the children (default: the cores). */
  threads?: number;
  /** How long the others may take to fail after one child dies, before they are stopped (default 30 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Receives the launcher's own messages (default: stderr). */
  onMessage?: (line: string) => void;
  /** Receives the children's stderr lines (default: passed through). */
  onStderr?: (rank: number, line: string) => void;
}

/** How a child ended. */
export interface ChildExit {
  rank: number;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What {@link launch} resolves to. */
export interface LaunchResult {
  /** 0 when every child succeeded, 130 when they were interrupted (Ctrl-C), else 1. */
  exitCode: number;
  /** The first child that failed, when one did. */
  firstFailure?: ChildExit;
  exits: ChildExit[];
}

function describeExit(e: ChildExit): string {
  return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
}

/**
 * Runs `nproc` children and resolves when all have exited.
 *
 * @example
 * ```ts
 * const r = await launch({ nproc: 2, command: process.execPath, args: ['train.js'], masterPort: 29500 });
 * process.exitCode = r.exitCode;
 * ```
 */
export function launch(options: LaunchOptions): Promise<LaunchResult> {
  const nnodes = options.nnodes ?? 1;
  const nodeRank = options.nodeRank ?? 0;
  const worldSize = nnodes * options.nproc;
  const threads = Math.max(1, Math.floor((options.threads ?? availableParallelism()) / options.nproc));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const say = options.onMessage ?? ((line: string) => process.stderr.write(`${line}\n`));
  const children: { rank: number; child: ChildProcess }[] = [];
  const exits: ChildExit[] = [];
  let firstFailure: ChildExit | undefined;
  let interrupted = false;
  let stopTimer: NodeJS.Timeout | undefined;
  let killTimer: NodeJS.Timeout | undefined;

  return new Promise((resolve) => {
    const forward = (signal: NodeJS.Signals) => () => {
      for (const { child } of children) if (child.exitCode === null) child.kill(signal);
    };
    // Ctrl-C reaches every child through the terminal; the launcher stays to collect them.
    const onInt = (): void => {};
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const finish = (): void => {
      clearTimeout(stopTimer);
      clearTimeout(killTimer);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (firstFailure) {
        say(
          `dlf: rank ${firstFailure.rank} (pid ${firstFailure.pid}) ${describeExit(firstFailure)}; stopped all ${options.nproc} local processes of the ${worldSize}-process job.`,
        );
      }
      const exitCode = firstFailure ? 1 : interrupted ? 130 : 0;
      resolve({ exitCode, ...(firstFailure ? { firstFailure } : {}), exits });
    };
    for (let local = 0; local < options.nproc; local++) {
      const rank = nodeRank * options.nproc + local;
      const env = {
        ...(options.env ?? process.env),
        RANK: String(rank),
        WORLD_SIZE: String(worldSize),
        LOCAL_RANK: String(local),
        LOCAL_WORLD_SIZE: String(options.nproc),
        MASTER_ADDR: options.masterAddr ?? '127.0.0.1',
        MASTER_PORT: String(options.masterPort ?? 29500),
        DLF_NUM_THREADS: String(threads),
        DLF_DIST_TIMEOUT_MS: String(timeoutMs),
      };
      const child = spawn(options.command, options.args, {
        env,
        stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', options.onStderr ? 'pipe' : 'inherit'],
      });
      if (options.onStderr && child.stderr) {
        const onStderr = options.onStderr;
        createInterface({ input: child.stderr }).on('line', (line) => onStderr(rank, line));
      }
      children.push({ rank, child });
      child.on('exit', (code, signal) => {
        const e: ChildExit = { rank, pid: child.pid ?? -1, code, signal };
        exits.push(e);
        // 130: the child was interrupted (Ctrl-C) and saved a checkpoint, as every rank does together.
        if (code === 130) interrupted = true;
        else if ((code !== 0 || signal) && !firstFailure) {
          firstFailure = e;
          // The others should fail by themselves within the collective timeout; then stop them.
          stopTimer = setTimeout(() => {
            forward('SIGTERM')();
            killTimer = setTimeout(forward('SIGKILL'), 3000);
          }, timeoutMs + 2000);
        }
        if (exits.length === children.length) finish();
      });
    }
  });
}
