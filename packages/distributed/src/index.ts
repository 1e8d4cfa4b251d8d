/**
 * `@dlf/distributed`: data-parallel training across processes and machines, on Gloo (Facebook's
 * collective-communication library, PyTorch's CPU backend) over TCP. Process groups with allreduce,
 * broadcast and barrier on float32 tensors (Promises; a communication thread); distributed data
 * parallel for `@dlf/train`; the environment of torchrun, mpirun and Slurm; and a local launcher.
 * The native addon is loaded only when a process group is created.
 *
 * @example
 * ```ts
 * import { DistributedDataParallel, distributedEnv, initProcessGroup } from '@dlf/distributed';
 * const env = distributedEnv()!; // RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
 * const group = await initProcessGroup({ rank: env.rank, worldSize: env.worldSize, masterAddr: env.masterAddr, masterPort: env.masterPort });
 * const result = await train({ epochs: 5 }, { distributed: new DistributedDataParallel(group) });
 * group.close();
 * ```
 *
 * @module @dlf/distributed
 * @packageDocumentation
 */
export { type DataParallelOptions, DistributedDataParallel } from './ddp.js';
export { type DistributedEnv, distributedEnv } from './env.js';
export { DistributedError, initProcessGroup, ProcessGroup, type ProcessGroupOptions } from './group.js';
export { distributedNativeLocation } from './native.js';
export { type ChildExit, type LaunchOptions, type LaunchResult, launch } from './launch.js';
