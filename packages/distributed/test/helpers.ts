import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initProcessGroup, type ProcessGroup } from '../src/group.js';
import { type LaunchResult, launch } from '../src/launch.js';

export const WORKER = fileURLToPath(new URL('./fixtures/fit-worker.mjs', import.meta.url));

/** A port that was free a moment ago (loopback only). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `size` ranks of one group inside this process (each rank has its own communication thread). */
export async function groups(size: number, timeoutMs = 5000): Promise<ProcessGroup[]> {
  const masterPort = await freePort();
  return Promise.all(
    Array.from({ length: size }, (_, rank) =>
      initProcessGroup({ rank, worldSize: size, masterAddr: '127.0.0.1', masterPort, timeoutMs }),
    ),
  );
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'dlf-dist-'));
}

export interface Job {
  batchSize: number;
  epochs?: number;
  samples?: number;
  out?: string;
  dir?: string;
  resume?: string;
  /** Only rank 0 finds the checkpoint (a run folder not shared between hosts). */
  resumeOnRank0?: boolean;
  val?: boolean;
  dieRank?: number;
  dieAtStep?: number;
  stopAtStep?: number;
  stopRank?: number;
  timeoutMs?: number;
}

/** Runs the fixture worker on `nproc` single-threaded local processes (1: the plain single-process loop). */
export async function runJob(
  nproc: number,
  job: Job,
  timeoutMs = 10_000,
): Promise<LaunchResult & { messages: string[]; stderr: string[][] }> {
  const messages: string[] = [];
  const stderr: string[][] = Array.from({ length: nproc }, () => []);
  const env = { ...process.env, DLF_TEST_JOB: JSON.stringify(job), DLF_NUM_THREADS: '1' };
  if (nproc === 1) {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [WORKER], { env, stdio: 'inherit' });
      child.on('exit', (c) => resolve(c ?? 1));
    });
    return { exitCode: code, exits: [], messages, stderr };
  }
  const r = await launch({
    nproc,
    command: process.execPath,
    args: [WORKER],
    masterPort: await freePort(),
    threads: nproc,
    timeoutMs,
    env,
    onMessage: (line) => messages.push(line),
    onStderr: (rank, line) => stderr[rank]!.push(line),
  });
  return { ...r, messages, stderr };
}

/** The largest absolute difference between two weight files written by the worker. */
export function maxAbsDiff(fileA: string, fileB: string): number {
  const a = JSON.parse(readFileSync(fileA, 'utf8')) as number[][];
  const b = JSON.parse(readFileSync(fileB, 'utf8')) as number[][];
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  a.forEach((t, i) => {
    if (t.length !== b[i]!.length) max = Number.POSITIVE_INFINITY;
    t.forEach((v, j) => {
      const d = Math.abs(v - b[i]![j]!);
      // A NaN difference must fail the comparison.
      max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(max, d);
    });
  });
  return max;
}
