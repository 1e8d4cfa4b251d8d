/**
 * The one place where the trainer builds its optimizer and learning-rate schedule and saves or
 * restores their state, on top of @dlf/optim (SGD, Adam, AdamW; CosineAnnealingLR, LinearLR,
 * MultiStepLR; state dicts that continue a run bit for bit). The rest of @dlf/train sees only
 * {@link Training}.
 *
 * Schedules step once per optimizer step (per batch), so the rate changes smoothly within epochs.
 */
import { BatchNorm2d, type Module, type Parameter } from '@dlf/nn';
import {
  Adam,
  AdamW,
  CosineAnnealingLR,
  type JsonValue,
  LinearLR,
  type LRScheduler,
  MultiStepLR,
  OneCycleLR,
  type Optimizer,
  type ParamGroup,
  SGD,
  type SchedulerState,
} from '@dlf/optim';
import { checkNumber, invalidParam, type Tensor } from '@dlf/tensor-core';

/** Optimizers the trainer offers. */
export const OPTIMIZERS = ['sgd', 'adam', 'adamw'] as const;
/** An optimizer name. */
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** Learning-rate schedules the trainer offers. */
export const SCHEDULES = ['constant', 'cosine', 'linear', 'step', 'onecycle'] as const;
/** A schedule name. */
export type ScheduleName = (typeof SCHEDULES)[number];

/** How to build an optimizer. */
export interface OptimizerConfig {
  /** `'sgd'`, `'adam'` or `'adamw'`. */
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

/** How to build a schedule. */
export interface ScheduleConfig {
  /** `'cosine'`, `'constant'`, `'linear'` or `'step'`. */
  name: ScheduleName;
}

/** Optimizer and schedule state for a checkpoint: tensors (owned by the caller) and JSON facts. */
export interface OptimizerState {
  tensors: Map<string, Tensor>;
  meta: Record<string, unknown>;
}

/** An optimizer with its schedule: what the training loop drives. */
export interface Training {
  /** The learning rate of the next step. */
  readonly lr: number;
  /** Optimizer steps taken. */
  readonly stepCount: number;
  /** Clears the gradients of every parameter. */
  zeroGrad(): void;
  /** One optimizer step, then one schedule step. */
  step(): void;
  /** A copy of the optimizer and schedule state, for a checkpoint. */
  stateDict(): OptimizerState;
  /**
   * Restores {@link Training.stateDict}. When the run was planned for a different number of steps
   * (more epochs asked on resume), the schedule is rebuilt for the new length and moved to the
   * current step instead of restored.
   */
  loadStateDict(state: OptimizerState): void;
  /** What defines the schedule (for state.json). */
  scheduleState(): Record<string, unknown>;
  /** Frees the optimizer state. */
  dispose(): void;
}

/** Default hyper-parameters per optimizer (used when a flag is not given). */
export function optimizerDefaults(name: OptimizerName): { lr: number; weightDecay: number } {
  if (name === 'adam') return { lr: 1e-3, weightDecay: 0 };
  if (name === 'adamw') return { lr: 1e-3, weightDecay: 0.01 };
  return { lr: 0.05, weightDecay: 5e-4 };
}

/**
 * The model's parameters as optimizer groups: every BatchNorm2d parameter at `bnLrScale` times the
 * rate with its weight decay divided by the same factor (the decay per step stays), the rest as
 * given. One group when the scale is 1 or the model has no batch norm.
 *
 * @example
 * ```ts
 * createTraining(paramGroups(model, 64, 5e-4), optimizer, schedule, steps, perEpoch);
 * ```
 */
export function paramGroups(
  model: Module,
  bnLrScale: number,
  weightDecay: number,
): Parameter[] | ParamGroup[] {
  const all = model.parameters();
  checkNumber('bnLrScale', bnLrScale, 0);
  if (bnLrScale === 1) return all;
  const bn = new Set(model.modules().flatMap((m) => (m instanceof BatchNorm2d ? m.parameters() : [])));
  if (bn.size === 0) return all;
  return [
    { params: all.filter((p) => !bn.has(p)) },
    { params: all.filter((p) => bn.has(p)), lrScale: bnLrScale, weightDecay: weightDecay / bnLrScale },
  ];
}

function buildOptimizer(params: Parameter[] | ParamGroup[], c: OptimizerConfig): Optimizer {
  if (!(OPTIMIZERS as readonly string[]).includes(c.name)) {
    throw invalidParam('optimizer', OPTIMIZERS.map((o) => `'${o}'`).join(', '), c.name);
  }
  checkNumber('momentum', c.momentum, 0, 1);
  if (c.name === 'sgd') {
    return new SGD(params, {
      lr: c.lr,
      momentum: c.momentum,
      weightDecay: c.weightDecay,
      ...(c.nesterov ? { nesterov: true } : {}),
    });
  }
  const options = {
    lr: c.lr,
    weightDecay: c.weightDecay,
    ...(c.betas ? { betas: c.betas } : {}),
    ...(c.eps !== undefined ? { eps: c.eps } : {}),
  };
  return c.name === 'adam' ? new Adam(params, options) : new AdamW(params, options);
}

function buildSchedule(
  opt: Optimizer,
  c: ScheduleConfig,
  baseLr: number,
  totalSteps: number,
  stepsPerEpoch: number,
): LRScheduler | undefined {
  if (!(SCHEDULES as readonly string[]).includes(c.name)) {
    throw invalidParam('schedule', SCHEDULES.map((o) => `'${o}'`).join(', '), c.name);
  }
  const total = Math.max(1, totalSteps);
  switch (c.name) {
    case 'constant':
      return undefined;
    case 'cosine':
      return new CosineAnnealingLR(opt, { tMax: total });
    case 'linear':
      return new LinearLR(opt, { startFactor: 1, endFactor: 0, totalIters: total });
    case 'step': {
      const epochs = Math.max(1, Math.round(total / Math.max(1, stepsPerEpoch)));
      const milestones = [Math.floor(epochs * 0.5), Math.floor(epochs * 0.75)]
        .filter((e) => e > 0)
        .map((e) => e * stepsPerEpoch);
      return new MultiStepLR(opt, { milestones, gamma: 0.1 });
    }
    case 'onecycle':
      // Fast-CIFAR style: linear warm-up over a quarter of the run to the base rate, then linear
      // decay; constant momentum (Nesterov runs keep theirs).
      return new OneCycleLR(opt, {
        maxLr: baseLr,
        totalSteps: total,
        // A warm-up ending on step 0 has no length (PyTorch's phases divide by it): a 4-step run
        // warms up over 30 % instead of 25 %.
        pctStart: total === 4 ? 0.3 : 0.25,
        annealStrategy: 'linear',
        cycleMomentum: false,
        divFactor: 10,
        finalDivFactor: 100,
      });
  }
}

/**
 * Builds the optimizer and schedule for a model's parameters, for a run of `totalSteps` steps
 * (`stepsPerEpoch` per epoch):
 * - `constant`: the base rate throughout;
 * - `cosine`: cosine decay from the base rate to 0 over the run (PyTorch's CosineAnnealingLR, per step);
 * - `linear`: linear decay towards 0 (LinearLR from factor 1 to 0);
 * - `step`: ×0.1 after half the epochs and again after three quarters (MultiStepLR);
 * - `onecycle`: linear warm-up from a tenth of the base rate to the base rate over the first quarter,
 *   then linear decay to a thousandth of it (OneCycleLR, constant momentum).
 *
 * @example
 * ```ts
 * const t = createTraining(model.parameters(), { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
 *   { name: 'cosine' }, 8440, 844);
 * t.zeroGrad(); loss.backward(); t.step();
 * ```
 */
export function createTraining(
  params: Parameter[] | ParamGroup[],
  optimizer: OptimizerConfig,
  schedule: ScheduleConfig,
  totalSteps: number,
  stepsPerEpoch: number,
): Training {
  const opt = buildOptimizer(params, optimizer);
  let sched = buildSchedule(opt, schedule, optimizer.lr, totalSteps, stepsPerEpoch);
  const plan = { name: schedule.name, baseLr: optimizer.lr, totalSteps, stepsPerEpoch };
  return {
    get lr() {
      return opt.lr;
    },
    get stepCount() {
      return opt.stepCount;
    },
    zeroGrad: () => opt.zeroGrad(),
    step(): void {
      opt.step();
      sched?.step();
    },
    stateDict(): OptimizerState {
      const s = opt.stateDict();
      return {
        tensors: s.tensors,
        meta: { optimizer: s.state, schedule: sched ? sched.stateDict() : null, plan },
      };
    },
    loadStateDict(state: OptimizerState): void {
      const meta = state.meta as {
        optimizer?: { [key: string]: JsonValue };
        schedule?: SchedulerState | null;
        plan?: { name?: string; totalSteps?: number };
      };
      if (!meta?.optimizer || typeof meta.optimizer !== 'object') {
        throw new Error('the checkpoint has no optimizer state');
      }
      opt.loadStateDict({ state: meta.optimizer, tensors: state.tensors });
      if (!sched) return;
      if (meta.plan?.name === schedule.name && meta.plan.totalSteps === totalSteps && meta.schedule) {
        sched.loadStateDict(meta.schedule);
      } else {
        // A longer (or shorter) run than planned: the schedule for the new length, at this step.
        opt.lr = opt.initialLr ?? optimizer.lr;
        sched = buildSchedule(opt, schedule, optimizer.lr, totalSteps, stepsPerEpoch)!;
        for (let i = 0; i < opt.stepCount; i++) sched.step();
      }
    },
    scheduleState: () => ({ ...plan, ...(sched ? { state: sched.stateDict() } : {}) }),
    dispose: () => opt.dispose(),
  };
}
