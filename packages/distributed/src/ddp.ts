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
  /**
   * Start each bucket's allreduce from inside backward, as soon as its gradients are final (default
   * true). `false` reduces every bucket after backward returns; the result is the same, bit for bit.
   */
  overlap?: boolean;
}

interface Bucket {
  /** How many parameters' gradients it holds. */
  count: number;
  buffer: Tensor;
}

/** Where parameter `p` lives: bucket `bucketOf[p]`, at element `offsetOf[p]` of its buffer. */
interface Plan {
  buckets: Bucket[];
  bucketOf: number[];
  offsetOf: number[];
}

/**
 * One step's gradient reduction. Gradients are packed (times the rank's weight) into their bucket as
 * they become final; a full bucket's allreduce is started only once every earlier bucket's has been,
 * so every rank issues the same collectives in the same order whatever order its gradients arrive in.
 */
class StepReduction {
  readonly pending: Promise<void>[] = [];
  readonly #waiting: number[];
  readonly #packed: boolean[];
  #next = 0;

  readonly plan: Plan;
  readonly parameters: readonly Tensor[];
  readonly weight: number;
  readonly group: ProcessGroup;

  constructor(plan: Plan, parameters: readonly Tensor[], weight: number, group: ProcessGroup) {
    this.plan = plan;
    this.parameters = parameters;
    this.weight = weight;
    this.group = group;
    this.#waiting = plan.buckets.map((b) => b.count);
    this.#packed = parameters.map(() => false);
  }

  /** Parameter `p`'s gradient is final: pack it, and start every bucket that is now next and full. */
  ready(p: number): void {
    if (this.#packed[p]) return;
    this.#packed[p] = true;
    const { buckets, bucketOf, offsetOf } = this.plan;
    const data = buckets[bucketOf[p]!]!.buffer.data() as Float32Array;
    const param = this.parameters[p]!;
    const offset = offsetOf[p]!;
    const grad = param.grad;
    if (grad === null) {
      data.fill(0, offset, offset + param.size);
    } else {
      const g = grad.data() as Float32Array;
      for (let i = 0; i < g.length; i++) data[offset + i] = g[i]! * this.weight;
      grad.dispose();
    }
    this.#waiting[bucketOf[p]!]!--;
    while (this.#next < buckets.length && this.#waiting[this.#next] === 0) {
      this.pending.push(this.group.allreduce(buckets[this.#next]!.buffer, 'sum'));
      this.#next++;
    }
  }

  /** Backward is over: gradients it did not produce (unused parameters) are final as they are. */
  readyAll(): void {
    for (let p = this.parameters.length - 1; p >= 0; p--) this.ready(p);
  }

  /** Copies the summed buckets back into the gradients. */
  unpack(): void {
    const { buckets, bucketOf, offsetOf } = this.plan;
    this.parameters.forEach((param, p) => {
      const grad = param.grad;
      if (grad === null) return;
      const data = buckets[bucketOf[p]!]!.buffer.data() as Float32Array;
      (grad.data() as Float32Array).set(data.subarray(offsetOf[p]!, offsetOf[p]! + grad.size));
      grad.dispose();
    });
  }

  /** Keeps started allreduces from rejecting unobserved when backward itself failed. */
  abandon(): void {
    for (const p of this.pending) p.catch(() => {});
  }
}

/**
 * Connects `fit()`/`train()` to a {@link ProcessGroup}: pass it as their `distributed` option.
 * Through {@link DistributedDataParallel.backward} (what `fit` calls) each bucket's allreduce starts on
 * the communication thread from inside backward, as soon as the engine reports the bucket's gradients
 * final, so communication overlaps the rest of backward, as in PyTorch DDP.
 *
 * @example
 * ```ts
 * const group = await initProcessGroup({ rank, worldSize, masterAddr, masterPort });
 * const ddp = new DistributedDataParallel(group);
 * await fit({ model, train, epochs: 5, batchSize: 32, optimizer, distributed: ddp });
 * console.log(ddp.commMs); // time spent waiting for gradient allreduces after backward
 * group.close();
 * ```
 */
export class DistributedDataParallel implements FitDistributed {
  /** The group's rank of this process. */
  readonly rank: number;
  /** Processes in the group. */
  readonly worldSize: number;
  /** Milliseconds this rank waited, after backward, for gradient communication, summed over steps. */
  commMs = 0;
  readonly #group: ProcessGroup;
  readonly #bucketBytes: number;
  readonly #overlap: boolean;
  #plan: Plan | undefined;
  #planned: readonly Tensor[] | undefined;

  /**
   * Wraps a connected group; buckets are planned on the first gradient reduction.
   *
   * @param group - A connected process group (see `initProcessGroup`).
   * @param options - Bucket size, and whether communication overlaps backward.
   */
  constructor(group: ProcessGroup, options: DataParallelOptions = {}) {
    this.#group = group;
    this.rank = group.rank;
    this.worldSize = group.worldSize;
    this.#bucketBytes = checkNumber('bucketBytes', options.bucketBytes ?? 1 << 20, 4);
    this.#overlap = options.overlap ?? true;
  }

  /** Rank 0's values into every rank's tensors (queued together, awaited once). */
  async broadcastParameters(tensors: readonly Tensor[]): Promise<void> {
    await Promise.all(tensors.map((t) => this.#group.broadcast(t, 0)));
  }

  /**
   * Runs `loss.backward()` and averages the gradients over the ranks like
   * {@link DistributedDataParallel.reduceGradients}, but starts each bucket's allreduce from inside
   * backward once its gradients are final. Backward has finished when this returns; the Promise
   * settles when the averaged gradients are in place.
   *
   * @example
   * ```ts
   * const reduced = ddp.backward(loss, model.parameters(), 1 / ddp.worldSize);
   * await reduced;
   * optimizer.step();
   * ```
   */
  backward(loss: Tensor, parameters: readonly Tensor[], weight: number): Promise<void> {
    if (!this.#overlap) {
      loss.backward();
      return this.reduceGradients(parameters, weight);
    }
    const step = new StepReduction(this.#planFor(parameters), parameters, weight, this.#group);
    try {
      loss.backward({ watch: parameters, onGradReady: (p) => step.ready(p) });
      step.readyAll();
    } catch (e) {
      step.abandon();
      throw e;
    }
    return this.#finish(step);
  }

  /** Averages gradients over the ranks, bucket by bucket in reverse parameter order (see `FitDistributed` in @dlf/train). */
  reduceGradients(parameters: readonly Tensor[], weight: number): Promise<void> {
    const step = new StepReduction(this.#planFor(parameters), parameters, weight, this.#group);
    step.readyAll();
    return this.#finish(step);
  }

  async #finish(step: StepReduction): Promise<void> {
    const started = performance.now();
    await Promise.all(step.pending);
    this.commMs += performance.now() - started;
    step.unpack();
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
    for (const b of this.#plan?.buckets ?? []) b.buffer.dispose();
    this.#plan = undefined;
    this.#planned = undefined;
  }

  /** Buckets in reverse parameter order, planned once per parameter list. */
  #planFor(parameters: readonly Tensor[]): Plan {
    const same =
      this.#planned?.length === parameters.length && this.#planned.every((p, i) => p === parameters[i]);
    if (this.#plan && same) return this.#plan;
    this.dispose();
    const plan: Plan = { buckets: [], bucketOf: [], offsetOf: [] };
    let count = 0;
    let size = 0;
    const close = (): void => {
      if (count === 0) return;
      plan.buckets.push({ count, buffer: keep(zeros([size])) });
      count = 0;
      size = 0;
    };
    for (let p = parameters.length - 1; p >= 0; p--) {
      const n = parameters[p]!.size;
      if (size > 0 && (size + n) * 4 > this.#bucketBytes) close();
      plan.bucketOf[p] = plan.buckets.length;
      plan.offsetOf[p] = size;
      count++;
      size += n;
    }
    close();
    this.#plan = plan;
    this.#planned = [...parameters];
    return plan;
  }
}
