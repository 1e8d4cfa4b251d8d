/**
 * The one place where the trainer builds optimizers and learning-rate schedules and saves or
 * restores their state. Everything else in @dlf/cli talks to {@link TrainingOptimizer} and
 * {@link Schedule}, so switching to @dlf/optim's own Adam/AdamW, schedules and state dicts is a
 * change to this file only.
 *
 * Until @dlf/optim exports optimizer state, this adapter:
 * - runs SGD through the same native kernel as `@dlf/optim`'s `SGD` (`native.sgdStep`), keeping the
 *   momentum buffers itself so that they can be checkpointed (the update is bit-identical to `SGD`);
 * - runs Adam and AdamW (PyTorch's update rules) in JavaScript over zero-copy views of the parameters
 *   and gradients: a few hundred microseconds per step for seed-cnn, small next to the step itself;
 * - computes schedules as pure functions of the step, so their state is the step count.
 */
import { native } from '@dlf/native';
import type { Parameter } from '@dlf/nn';
import { checkNumber, invalidParam, keep, Tensor, tensor } from '@dlf/tensor-core';

/** Optimizers the trainer offers. */
export const OPTIMIZERS = ['sgd', 'adam', 'adamw'] as const;
/** An optimizer name. */
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** Learning-rate schedules the trainer offers. */
export const SCHEDULES = ['constant', 'cosine', 'linear', 'step'] as const;
/** A schedule name. */
export type ScheduleName = (typeof SCHEDULES)[number];

/** How to build an optimizer. */
export interface OptimizerConfig {
  name: OptimizerName;
  /** Base learning rate. */
  lr: number;
  /** SGD momentum (ignored by Adam/AdamW). */
  momentum: number;
  /** L2 penalty (SGD, Adam) or decoupled weight decay (AdamW). */
  weightDecay: number;
  /** Nesterov momentum for SGD (default false). */
  nesterov?: boolean;
  /** Adam's β1, β2 (default 0.9, 0.999). */
  betas?: [number, number];
  /** Adam's ε (default 1e-8). */
  eps?: number;
}

/** Optimizer state for a checkpoint: tensors (owned by the caller) and JSON facts. */
export interface OptimizerState {
  tensors: Map<string, Tensor>;
  meta: Record<string, unknown>;
}

/** What the trainer needs from an optimizer. */
export interface TrainingOptimizer {
  readonly config: Readonly<OptimizerConfig>;
  /** The learning rate of the next step (the schedule sets it). */
  lr: number;
  /** Steps taken. */
  readonly stepCount: number;
  zeroGrad(): void;
  step(): void;
  /** A copy of the state, for a checkpoint. */
  stateDict(): OptimizerState;
  /** Restores {@link TrainingOptimizer.stateDict}; throws a clear error if it does not fit. */
  loadStateDict(state: OptimizerState): void;
  dispose(): void;
}

function named(params: [string, Parameter][]): { names: string[]; params: Parameter[] } {
  if (params.length === 0) throw invalidParam('params', 'at least one parameter', params);
  return { names: params.map(([n]) => n), params: params.map(([, p]) => p) };
}

function checkConfig(c: OptimizerConfig): OptimizerConfig {
  if (!(OPTIMIZERS as readonly string[]).includes(c.name)) {
    throw invalidParam('optimizer', OPTIMIZERS.map((o) => `'${o}'`).join(', '), c.name);
  }
  checkNumber('lr', c.lr, 0);
  checkNumber('momentum', c.momentum, 0, 1);
  checkNumber('weightDecay', c.weightDecay, 0);
  const betas = c.betas ?? [0.9, 0.999];
  checkNumber('betas[0]', betas[0], 0, 1);
  checkNumber('betas[1]', betas[1], 0, 1);
  const eps = checkNumber('eps', c.eps ?? 1e-8, 0);
  const nesterov = c.nesterov ?? false;
  if (nesterov && c.momentum <= 0) throw invalidParam('nesterov', 'momentum > 0', nesterov);
  return { ...c, betas: [betas[0], betas[1]], eps, nesterov };
}

function copyOf(t: Tensor): Tensor {
  return tensor(t.toTypedArray() as Float32Array, { shape: t.shape });
}

function checkStateTensor(state: OptimizerState, key: string, like: Parameter): Tensor {
  const t = state.tensors.get(key);
  if (!t) throw new Error(`the optimizer state has no '${key}'`);
  if (
    t.dtype !== 'float32' ||
    t.shape.length !== like.shape.length ||
    t.shape.some((d, i) => d !== like.shape[i])
  ) {
    throw new Error(
      `the optimizer state '${key}' has shape [${t.shape.join(', ')}] but the parameter has [${like.shape.join(', ')}]`,
    );
  }
  return t;
}

function checkStateName(state: OptimizerState, name: OptimizerName): void {
  if (state.meta.name !== name) {
    throw new Error(`the optimizer state is for '${String(state.meta.name)}', not '${name}'`);
  }
}

/** SGD through the native kernel of @dlf/optim, with the momentum buffers kept here. */
class SgdAdapter implements TrainingOptimizer {
  readonly config: Readonly<OptimizerConfig>;
  lr: number;
  stepCount = 0;
  readonly #names: string[];
  readonly #params: Parameter[];
  #buffers: (Tensor | null)[];

  constructor(params: [string, Parameter][], config: OptimizerConfig) {
    this.config = config;
    this.lr = config.lr;
    ({ names: this.#names, params: this.#params } = named(params));
    this.#buffers = this.#params.map(() => null);
  }

  zeroGrad(): void {
    for (const p of this.#params) native.setGrad(p.handle, null);
  }

  step(): void {
    const c = this.config;
    const out = native.sgdStep(
      this.#params.map((p) => p.handle),
      this.#buffers.map((b) => (b ? b.handle : null)),
      this.lr,
      c.momentum,
      0,
      c.nesterov ?? false,
      c.weightDecay,
    );
    out.forEach((h, i) => {
      if (h === null) return;
      if (this.#buffers[i]) {
        native.release(h);
        return;
      }
      this.#buffers[i] = keep(new Tensor(h, this.#params[i]!.shape, 'float32'));
    });
    this.stepCount++;
  }

  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    this.#buffers.forEach((b, i) => {
      if (b) tensors.set(`momentum_buffer.${this.#names[i]}`, copyOf(b));
    });
    return { tensors, meta: { ...this.config, stepCount: this.stepCount } };
  }

  loadStateDict(state: OptimizerState): void {
    checkStateName(state, 'sgd');
    const next = this.#params.map((p, i) => {
      const key = `momentum_buffer.${this.#names[i]}`;
      return state.tensors.has(key) ? checkStateTensor(state, key, p) : null;
    });
    for (const b of this.#buffers) b?.dispose();
    this.#buffers = next.map((t) => (t ? keep(copyOf(t)) : null));
    this.stepCount = Number(state.meta.stepCount ?? 0);
  }

  dispose(): void {
    for (const b of this.#buffers) b?.dispose();
    this.#buffers = this.#params.map(() => null);
  }
}

/** Adam and AdamW with PyTorch's update rules, over zero-copy views of parameters and gradients. */
class AdamAdapter implements TrainingOptimizer {
  readonly config: Readonly<OptimizerConfig>;
  lr: number;
  stepCount = 0;
  readonly #names: string[];
  readonly #params: Parameter[];
  readonly #decoupled: boolean;
  #m: Float32Array[];
  #v: Float32Array[];

  constructor(params: [string, Parameter][], config: OptimizerConfig) {
    this.config = config;
    this.lr = config.lr;
    this.#decoupled = config.name === 'adamw';
    ({ names: this.#names, params: this.#params } = named(params));
    this.#m = this.#params.map((p) => new Float32Array(p.size));
    this.#v = this.#params.map((p) => new Float32Array(p.size));
  }

  zeroGrad(): void {
    for (const p of this.#params) native.setGrad(p.handle, null);
  }

  step(): void {
    this.stepCount++;
    const [b1, b2] = this.config.betas!;
    const eps = this.config.eps!;
    const wd = this.config.weightDecay;
    const lr = this.lr;
    const t = this.stepCount;
    const bc1 = 1 - b1 ** t;
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    const stepSize = lr / bc1;
    this.#params.forEach((p, i) => {
      const gradT = p.grad;
      if (!gradT) return;
      try {
        const g = gradT.data() as Float32Array;
        const w = p.data() as Float32Array;
        const m = this.#m[i]!;
        const v = this.#v[i]!;
        const decay = this.#decoupled ? 1 - lr * wd : 1;
        const l2 = this.#decoupled ? 0 : wd;
        for (let k = 0; k < w.length; k++) {
          let wk = w[k]!;
          if (decay !== 1) wk *= decay;
          const gk = l2 !== 0 ? g[k]! + l2 * wk : g[k]!;
          const mk = b1 * m[k]! + (1 - b1) * gk;
          const vk = b2 * v[k]! + (1 - b2) * gk * gk;
          m[k] = mk;
          v[k] = vk;
          w[k] = wk - (stepSize * mk) / (Math.sqrt(vk) / bc2Sqrt + eps);
        }
      } finally {
        gradT.dispose();
      }
    });
  }

  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    this.#params.forEach((p, i) => {
      tensors.set(`exp_avg.${this.#names[i]}`, tensor(this.#m[i]!.slice(), { shape: p.shape }));
      tensors.set(`exp_avg_sq.${this.#names[i]}`, tensor(this.#v[i]!.slice(), { shape: p.shape }));
    });
    return { tensors, meta: { ...this.config, stepCount: this.stepCount } };
  }

  loadStateDict(state: OptimizerState): void {
    checkStateName(state, this.config.name);
    const m = this.#params.map(
      (p, i) => checkStateTensor(state, `exp_avg.${this.#names[i]}`, p).toTypedArray() as Float32Array,
    );
    const v = this.#params.map(
      (p, i) => checkStateTensor(state, `exp_avg_sq.${this.#names[i]}`, p).toTypedArray() as Float32Array,
    );
    this.#m = m;
    this.#v = v;
    this.stepCount = Number(state.meta.stepCount ?? 0);
  }

  dispose(): void {
    this.#m = [];
    this.#v = [];
  }
}

/**
 * Builds the optimizer for a model's named parameters.
 *
 * @example
 * ```ts
 * const opt = createOptimizer(model.namedParameters(), { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
 * ```
 */
export function createOptimizer(params: [string, Parameter][], config: OptimizerConfig): TrainingOptimizer {
  const c = checkConfig(config);
  return c.name === 'sgd' ? new SgdAdapter(params, c) : new AdamAdapter(params, c);
}

/** How to build a schedule. */
export interface ScheduleConfig {
  name: ScheduleName;
  /** Steps of linear warm-up from 0 to the base rate before the schedule proper (default 0). */
  warmupSteps?: number;
}

/** A learning-rate schedule: the rate for each step, a pure function of the step. */
export interface Schedule {
  readonly config: Readonly<ScheduleConfig>;
  /** The learning rate for step `step` (0-based, counted over the whole run). */
  lrAt(step: number): number;
  /** Everything that determines the schedule, for a checkpoint. */
  state(): Record<string, unknown>;
}

/**
 * Builds a schedule over `totalSteps` steps (`stepsPerEpoch` per epoch):
 * - `constant`: the base rate throughout;
 * - `cosine`: cosine decay from the base rate to 0 over the run (per step);
 * - `linear`: linear decay from the base rate to 0 (per step);
 * - `step`: the base rate, ×0.1 after half the epochs and ×0.01 after three quarters.
 *
 * @example
 * ```ts
 * const s = createSchedule({ name: 'cosine' }, 0.05, 9380, 938);
 * s.lrAt(0); // 0.05
 * ```
 */
export function createSchedule(
  config: ScheduleConfig,
  baseLr: number,
  totalSteps: number,
  stepsPerEpoch: number,
): Schedule {
  if (!(SCHEDULES as readonly string[]).includes(config.name)) {
    throw invalidParam('schedule', SCHEDULES.map((o) => `'${o}'`).join(', '), config.name);
  }
  const warmup = Math.max(0, Math.floor(config.warmupSteps ?? 0));
  const total = Math.max(1, totalSteps);
  const perEpoch = Math.max(1, stepsPerEpoch);
  const epochs = Math.max(1, Math.round(total / perEpoch));
  const milestones = [Math.floor(epochs * 0.5), Math.floor(epochs * 0.75)].filter((e) => e > 0);
  const main = (step: number): number => {
    switch (config.name) {
      case 'constant':
        return baseLr;
      case 'cosine': {
        const t = Math.min(1, Math.max(0, (step - warmup) / Math.max(1, total - warmup)));
        return baseLr * 0.5 * (1 + Math.cos(Math.PI * t));
      }
      case 'linear': {
        const t = Math.min(1, Math.max(0, (step - warmup) / Math.max(1, total - warmup)));
        return baseLr * (1 - t);
      }
      case 'step': {
        const epoch = Math.floor(step / perEpoch);
        return baseLr * 0.1 ** milestones.filter((m) => epoch >= m).length;
      }
    }
  };
  return {
    config: { ...config, warmupSteps: warmup },
    lrAt(step: number): number {
      if (step < warmup) return (baseLr * (step + 1)) / warmup;
      return main(step);
    },
    state: () => ({
      name: config.name,
      warmupSteps: warmup,
      baseLr,
      totalSteps: total,
      stepsPerEpoch: perEpoch,
    }),
  };
}
