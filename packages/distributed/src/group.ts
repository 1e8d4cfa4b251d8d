/**
 * Process groups over Gloo: rendezvous through a TCP store hosted by rank 0 (many hosts) or a file
 * store (one host), collectives on float32 tensors that run on a communication thread and return
 * Promises.
 */
import { createSocket } from 'node:dgram';
import { checkInt, isTensor, type Tensor } from '@dlf/tensor-core';
import { loadDistributedNative, type NativeGroupOptions, type NativeProcessGroup } from './native.js';

/** How a process joins a group. */
export interface ProcessGroupOptions {
  /** This process's rank, 0 … worldSize-1. */
  rank: number;
  worldSize: number;
  /** Rank 0's address, where it hosts the rendezvous store (default 127.0.0.1). */
  masterAddr?: string;
  /** The store's port (default 29500). */
  masterPort?: number;
  /** Rendezvous through files in this folder instead (every rank on one host). */
  fileStore?: string;
  /** The network interface Gloo's TCP transport uses (e.g. `eth0`); default: the one that routes to `masterAddr`. */
  iface?: string;
  /** Or the address Gloo's TCP transport binds to. */
  hostname?: string;
  /** Every rendezvous and collective fails after this long (default 30 s). */
  timeoutMs?: number;
  /** Keeps several groups apart in one store (default `dlf`). */
  prefix?: string;
}

/** A collective failed; every later one on the group fails the same way. */
export class DistributedError extends Error {
  /** Always `DistributedError`. */
  override name = 'DistributedError';
  /** The rank that went away, when the store could tell. */
  readonly lostRank: number | undefined;
  /**
   * Parses the lost rank out of the message.
   *
   * @param message - What failed, naming the rank when known ("lost rank 2").
   * @param options - The underlying error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    const m = /lost rank (\d+)/.exec(message);
    this.lostRank = m ? Number(m[1]) : undefined;
  }
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/**
 * The local address the system would use to reach `host` (a UDP "connect" sends nothing). This avoids
 * Gloo's default, the host name, which Debian resolves to 127.0.1.1.
 */
async function localAddressToward(host: string, port: number): Promise<string> {
  if (LOOPBACK.test(host)) return '127.0.0.1';
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, host, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

/**
 * Members of one data-parallel job. Every collective must be called by every rank in the same order;
 * the data is a float32 tensor's memory (or a Float32Array) and is changed in place, so keep it alive and
 * unchanged until the Promise settles.
 *
 * @example
 * ```ts
 * const group = await initProcessGroup({ rank, worldSize: 2, masterAddr: '127.0.0.1', masterPort: 29500 });
 * const t = tensor([rank + 1, 10]);
 * await group.allreduce(t, 'sum'); // [3, 20] on both ranks
 * await group.close();
 * ```
 */
export class ProcessGroup {
  readonly #native: NativeProcessGroup;
  #closed = false;

  /** This process's rank, 0 … worldSize-1. */
  readonly rank: number;
  /** Processes in the group. */
  readonly worldSize: number;
  /** Every collective fails after this long. */
  readonly timeoutMs: number;

  /** @internal Use {@link initProcessGroup}. */
  constructor(native: NativeProcessGroup, rank: number, worldSize: number, timeoutMs: number) {
    this.#native = native;
    this.rank = rank;
    this.worldSize = worldSize;
    this.timeoutMs = timeoutMs;
  }

  /** Sums (or averages) `data` over every rank, in place. */
  allreduce(data: Tensor | Float32Array, op: 'sum' | 'avg' = 'sum'): Promise<void> {
    return this.#run(() => this.#native.allreduce(floatData(data), op));
  }

  /** Copies `data` from rank `root` to every rank, in place. */
  broadcast(data: Tensor | Float32Array, root = 0): Promise<void> {
    checkInt('root', root, 0, this.worldSize - 1);
    return this.#run(() => this.#native.broadcast(floatData(data), root));
  }

  /** Resolves once every rank has reached it. */
  barrier(): Promise<void> {
    return this.#run(() => this.#native.barrier());
  }

  /** Leaves the group cleanly (the others do not see this rank as lost). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }

  async #run(op: () => Promise<void>): Promise<void> {
    if (this.#closed) throw new DistributedError('The process group is closed.');
    try {
      await op();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new DistributedError(`Distributed training failed on ${message}`, { cause: e });
    }
  }
}

function floatData(data: Tensor | Float32Array): Float32Array {
  if (data instanceof Float32Array) return data;
  if (!isTensor(data)) throw new TypeError('Expected a float32 Tensor or a Float32Array for a collective.');
  if (data.dtype !== 'float32') {
    throw new TypeError(`Expected a float32 tensor for a collective but received ${data.dtype}.`);
  }
  return data.data() as Float32Array;
}

/**
 * Joins a process group: rank 0 hosts the rendezvous store, every rank connects to every other over
 * Gloo's TCP transport. Rejects with a clear message when rank 0 cannot be reached, the port is taken,
 * or not every rank arrives within the timeout.
 *
 * @example
 * ```ts
 * const group = await initProcessGroup({ rank: 0, worldSize: 1 });
 * await group.barrier();
 * group.close();
 * ```
 */
export async function initProcessGroup(options: ProcessGroupOptions): Promise<ProcessGroup> {
  const worldSize = checkInt('worldSize', options.worldSize, 1, 65536);
  const rank = checkInt('rank', options.rank, 0, worldSize - 1);
  const timeoutMs = checkInt('timeoutMs', options.timeoutMs ?? 30_000, 100);
  const masterAddr = options.masterAddr ?? '127.0.0.1';
  const masterPort = checkInt('masterPort', options.masterPort ?? 29500, 0, 65535);
  const resolved: NativeGroupOptions = { rank, size: worldSize, timeoutMs, prefix: options.prefix ?? 'dlf' };
  if (options.fileStore) resolved.filePath = options.fileStore;
  else Object.assign(resolved, { storeHost: masterAddr, storePort: masterPort });
  if (options.iface) resolved.iface = options.iface;
  else resolved.hostname = options.hostname ?? (await localAddressToward(masterAddr, masterPort || 1));
  const { ProcessGroup: Native } = loadDistributedNative();
  let native: NativeProcessGroup;
  try {
    native = new Native(resolved);
  } catch (e) {
    throw new DistributedError(`Could not start the process group: ${(e as Error).message}`, { cause: e });
  }
  try {
    await native.connect();
  } catch (e) {
    native.close();
    throw new DistributedError(`Could not join the process group as ${(e as Error).message}`, { cause: e });
  }
  return new ProcessGroup(native, rank, worldSize, timeoutMs);
}
