/**
 * `dlf train` across processes and machines: `--nproc N` turns this process into a launcher of N
 * training processes; a process started by a launcher (dlf, torchrun, mpirun, srun) joins the process
 * group named by its environment and the flags. `@dlf/distributed` (and Gloo) load only here.
 */
import type { FitDistributed } from '@dlf/train';
import { UsageError } from '../errors.js';
import { intFlag, type Parsed } from './args.js';

/** The flags `dlf train` adds for distributed runs. */
export const DISTRIBUTED_OPTIONS = {
  nproc: { type: 'string' },
  nnodes: { type: 'string' },
  'node-rank': { type: 'string' },
  'master-addr': { type: 'string' },
  'master-port': { type: 'string' },
  iface: { type: 'string' },
  'dist-timeout': { type: 'string' },
} as const;

/** Flags that only the launcher reads; its children get the rest. */
const LAUNCHER_FLAGS = new Set(['--nproc', '--nnodes', '--node-rank', '--threads']);

/** `argv` without the launcher's own flags (`--flag value` and `--flag=value`). */
export function childArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.split('=')[0]!;
    if (!LAUNCHER_FLAGS.has(name)) out.push(a);
    else if (!a.includes('=')) i++;
  }
  return out;
}

function timeoutMs(c: string, v: Parsed['values']): number {
  const seconds = intFlag(c, v, 'dist-timeout', 1, 86_400);
  if (seconds !== undefined) return seconds * 1000;
  const env = Number(process.env['DLF_DIST_TIMEOUT_MS']);
  return Number.isInteger(env) && env > 0 ? env : 30_000;
}

/** True when this process is one rank (not rank 0) of a launched job: it prints nothing but errors. */
export function isFollowerRank(): boolean {
  const rank = Number(
    process.env['RANK'] ??
      process.env['OMPI_COMM_WORLD_RANK'] ??
      process.env['PMI_RANK'] ??
      process.env['SLURM_PROCID'] ??
      0,
  );
  return Number.isInteger(rank) && rank > 0;
}

/**
 * With `--nproc` (or `--nnodes`), starts this node's processes and resolves to the exit code once they
 * have all ended; otherwise resolves to undefined (train in this process).
 */
export async function launchIfAsked(
  c: string,
  v: Parsed['values'],
  warn: (m: string) => void,
): Promise<number | undefined> {
  const nproc = intFlag(c, v, 'nproc', 1, 1024);
  const nnodes = intFlag(c, v, 'nnodes', 1, 65536) ?? 1;
  const nodeRank = intFlag(c, v, 'node-rank', 0, 65535) ?? 0;
  if (nodeRank >= nnodes) {
    throw new UsageError(`Expected --node-rank below --nnodes (${nnodes}) but received ${nodeRank}.`, c);
  }
  if (nproc === undefined && nnodes === 1) return undefined;
  if (process.env['WORLD_SIZE'] !== undefined && process.env['RANK'] !== undefined) {
    warn('RANK and WORLD_SIZE are set (a launcher started this process): --nproc and --nnodes are ignored.');
    return undefined;
  }
  if ((nproc ?? 1) * nnodes === 1) return undefined;
  if (nnodes > 1 && v['master-addr'] === undefined) {
    throw new UsageError('A run on several hosts needs --master-addr (the address of node 0).', c);
  }
  const { launch } = await import('@dlf/distributed');
  const threads = intFlag(c, v, 'threads', 1, 256);
  const script = process.argv[1]!;
  const result = await launch({
    nproc: nproc ?? 1,
    nnodes,
    nodeRank,
    masterAddr: String(v['master-addr'] ?? '127.0.0.1'),
    masterPort: intFlag(c, v, 'master-port', 1, 65535) ?? 29500,
    command: process.execPath,
    args: [...process.execArgv, script, ...childArgs(process.argv.slice(2))],
    ...(threads !== undefined ? { threads } : {}),
    timeoutMs: timeoutMs(c, v),
  });
  return result.exitCode;
}

/** This process's place in a launched job, joined; undefined when it runs alone. */
export async function joinIfLaunched(
  c: string,
  v: Parsed['values'],
): Promise<{ distributed: FitDistributed; close: () => void } | undefined> {
  const e = process.env;
  if (!(e['WORLD_SIZE'] || e['OMPI_COMM_WORLD_SIZE'] || e['PMI_SIZE'] || e['SLURM_NTASKS'])) return undefined;
  const { DistributedDataParallel, distributedEnv, initProcessGroup } = await import('@dlf/distributed');
  const env = distributedEnv();
  if (!env || env.worldSize === 1) return undefined;
  const group = await initProcessGroup({
    rank: env.rank,
    worldSize: env.worldSize,
    masterAddr: String(v['master-addr'] ?? env.masterAddr ?? '127.0.0.1'),
    masterPort: intFlag(c, v, 'master-port', 1, 65535) ?? env.masterPort ?? 29500,
    ...(v.iface !== undefined ? { iface: String(v.iface) } : {}),
    timeoutMs: timeoutMs(c, v),
  });
  return { distributed: new DistributedDataParallel(group), close: () => group.close() };
}
