/**
 * Distributed data parallel, after PyTorch's DDP: rank 0's parameters are broadcast at the start,
 * gradients are averaged in buckets in one fixed order (reverse parameter order, roughly the order
 * backward produces them), and every rank steps its own optimizer on identical gradients.
 */
import '@dlf/autograd';
import { checkNumber, keep, type Tensor, zeros } from '@dlf/tensor-core';
import type { FitDistributed } from '@dlf/train';
import type { ProcessGroup } from './group.js';

/** Options of {@link DistributedDataParallel}. */
export interface DataParallelOptions {
  /** Gradient bytes per allreduce (default 1 MiB); a parameter larger than this gets its own bucket. */
  bucketBytes?: number;
}

interface Bucket {
  /** Indices into the parameter list, in bucket order. */
  members: number[];
  offsets: number[];
  buffer: Tensor;
}

/**
 * Connects `fit()`/`train()` to a {@link ProcessGroup}: pass it as their `distributed` option.
 * Gradients are reduced after backward returns (the engine runs backward as one native call without
 * per-gradient hooks, so communication does not yet overlap it); the buckets' allreduces are queued
 * back to back on the communication thread while later buckets are still being packed.
 *
 * @example
 * ```ts
 * const group = await initProcessGroup({ rank, worldSize, masterAddr, masterPort });
 * const ddp = new DistributedDataParallel(group);
 * await fit({ model, train, epochs: 5, batchSize: 32, optimizer, distributed: ddp });
 * console.log(ddp.commMs); // time spent waiting for gradient allreduces
 * group.close();
 * ```
 */
export class DistributedDataParallel implements FitDistributed {
  /** The group's rank of this process. */
  readonly rank: number;
  /** Processes in the group. */
  readonly worldSize: number;
  /** Milliseconds this rank waited for gradient communication, summed over steps. */
  commMs = 0;
  readonly #group: ProcessGroup;
  readonly #bucketBytes: number;
  #buckets: Bucket[] | undefined;
  #planned: readonly Tensor[] | undefined;

  /**
   * Wraps a connected group; buckets are planned on the first gradient reduction.
   *
   * @param group - A connected process group (see `initProcessGroup`).
   * @param options - Bucket size.
   */
  constructor(group: ProcessGroup, options: DataParallelOptions = {}) {
    this.#group = group;
    this.rank = group.rank;
    this.worldSize = group.worldSize;
    this.#bucketBytes = checkNumber('bucketBytes', options.bucketBytes ?? 1 << 20, 4);
  }

  /** Rank 0's values into every rank's tensors (queued together, awaited once). */
  async broadcastParameters(tensors: readonly Tensor[]): Promise<void> {
    await Promise.all(tensors.map((t) => this.#group.broadcast(t, 0)));
  }

  /** Averages gradients over the ranks, bucket by bucket in reverse parameter order (see `FitDistributed` in @dlf/train). */
  async reduceGradients(parameters: readonly Tensor[], weight: number): Promise<void> {
    const buckets = this.#plan(parameters);
    const pending: Promise<void>[] = [];
    for (const bucket of buckets) {
      const data = bucket.buffer.data() as Float32Array;
      bucket.members.forEach((p, k) => {
        const param = parameters[p]!;
        const offset = bucket.offsets[k]!;
        const grad = param.grad;
        if (grad === null) {
          data.fill(0, offset, offset + param.size);
          return;
        }
        const g = grad.data() as Float32Array;
        for (let i = 0; i < g.length; i++) data[offset + i] = g[i]! * weight;
        grad.dispose();
      });
      pending.push(this.#group.allreduce(bucket.buffer, 'sum'));
    }
    const started = performance.now();
    await Promise.all(pending);
    this.commMs += performance.now() - started;
    for (const bucket of buckets) {
      const data = bucket.buffer.data() as Float32Array;
      bucket.members.forEach((p, k) => {
        const grad = parameters[p]!.grad;
        if (grad === null) return;
        const offset = bucket.offsets[k]!;
        (grad.data() as Float32Array).set(data.subarray(offset, offset + grad.size));
        grad.dispose();
      });
    }
  }

  /** Element-wise sums over ranks (float32). */
  async sum(values: readonly number[]): Promise<number[]> {
    const data = Float32Array.from(values);
    await this.#group.allreduce(data, 'sum');
    return Array.from(data);
  }

  /** Rank 0's values on every rank (float32). */
  async broadcast(values: readonly number[]): Promise<number[]> {
    const data = Float32Array.from(values);
    await this.#group.broadcast(data, 0);
    return Array.from(data);
  }

  /** Resolves once every rank has called it. */
  barrier(): Promise<void> {
    return this.#group.barrier();
  }

  /** Frees the bucket buffers. */
  dispose(): void {
    for (const b of this.#buckets ?? []) b.buffer.dispose();
    this.#buckets = undefined;
    this.#planned = undefined;
  }

  /** Buckets in reverse parameter order, planned once per parameter list. */
  #plan(parameters: readonly Tensor[]): Bucket[] {
    const same =
      this.#planned?.length === parameters.length && this.#planned.every((p, i) => p === parameters[i]);
    if (this.#buckets && same) return this.#buckets;
    this.dispose();
    const buckets: Bucket[] = [];
    let members: number[] = [];
    let offsets: number[] = [];
    let size = 0;
    const close = (): void => {
      if (members.length === 0) return;
      buckets.push({ members, offsets, buffer: keep(zeros([size])) });
      members = [];
      offsets = [];
      size = 0;
    };
    for (let p = parameters.length - 1; p >= 0; p--) {
      const n = parameters[p]!.size;
      if (size > 0 && (size + n) * 4 > this.#bucketBytes) close();
      members.push(p);
      offsets.push(size);
      size += n;
    }
    close();
    this.#buckets = buckets;
    this.#planned = [...parameters];
    return buckets;
  }
}
