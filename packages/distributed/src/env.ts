/**
 * Where this process sits in a distributed job, read from the environment that launchers set:
 * `dlf train --nproc` and torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), Open MPI's
 * mpirun (OMPI_COMM_WORLD_*), MPICH/Intel MPI (PMI_*) and Slurm's srun (SLURM_PROCID, SLURM_NTASKS…).
 */

/** A process's place in a job. */
export interface DistributedEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  /** Rank 0's host (MASTER_ADDR), when the environment names it. */
  masterAddr?: string;
  masterPort?: number;
  /** Which convention supplied the rank. */
  source: 'torchrun' | 'openmpi' | 'pmi' | 'slurm';
}

const CONVENTIONS = [
  { source: 'torchrun', rank: 'RANK', size: 'WORLD_SIZE', local: 'LOCAL_RANK' },
  {
    source: 'openmpi',
    rank: 'OMPI_COMM_WORLD_RANK',
    size: 'OMPI_COMM_WORLD_SIZE',
    local: 'OMPI_COMM_WORLD_LOCAL_RANK',
  },
  { source: 'pmi', rank: 'PMI_RANK', size: 'PMI_SIZE', local: 'MPI_LOCALRANKID' },
  { source: 'slurm', rank: 'SLURM_PROCID', size: 'SLURM_NTASKS', local: 'SLURM_LOCALID' },
] as const;

function intVar(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Expected an integer in [${min}, ${max}] for the environment variable ${name} but received '${text}'.`,
    );
  }
  return value;
}

/**
 * The job this process belongs to, or undefined when no launcher set a rank. The first convention
 * whose rank and size are both set wins; MASTER_ADDR/MASTER_PORT apply to all of them (Slurm's launch
 * node is the fallback address).
 *
 * @example
 * ```ts
 * distributedEnv({ RANK: '1', WORLD_SIZE: '4', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500' });
 * // { rank: 1, worldSize: 4, localRank: 1, masterAddr: '10.0.0.1', masterPort: 29500, source: 'torchrun' }
 * ```
 */
export function distributedEnv(env: NodeJS.ProcessEnv = process.env): DistributedEnv | undefined {
  for (const c of CONVENTIONS) {
    const worldSize = intVar(env, c.size, 1, 65536);
    const rank = intVar(env, c.rank, 0, 65535);
    if (worldSize === undefined || rank === undefined) continue;
    if (rank >= worldSize) {
      throw new RangeError(`${c.rank}=${rank} is not below ${c.size}=${worldSize}.`);
    }
    const masterAddr =
      env['MASTER_ADDR'] || (c.source === 'slurm' ? env['SLURM_LAUNCH_NODE_IPADDR'] : undefined);
    const masterPort = intVar(env, 'MASTER_PORT', 1, 65535);
    return {
      rank,
      worldSize,
      localRank: intVar(env, c.local, 0, 65535) ?? rank,
      ...(masterAddr ? { masterAddr } : {}),
      ...(masterPort !== undefined ? { masterPort } : {}),
      source: c.source,
    };
  }
  return undefined;
}
