/**
 * Optimizers and schedules against PyTorch 1.13 (goldens/optim.json, see goldens/README.md):
 * 50-step parameter trajectories of a fixed small problem for every optimizer and option set (some
 * with a schedule), and the learning-rate sequence of every schedule. Then resume: save → load →
 * continue is bit-identical to an uninterrupted run, through safetensors bytes and JSON text.
 */
import '@dlf/autograd';
import { crossEntropy } from '@dlf/loss';
import { linear, mul, Parameter, sum, tanh } from '@dlf/nn';
import {
  Adam,
  AdamW,
  CosineAnnealingLR,
  ExponentialLR,
  LinearLR,
  type LRScheduler,
  MultiStepLR,
  OneCycleLR,
  type Optimizer,
  ReduceLROnPlateau,
  SequentialLR,
  SGD,
  StepLR,
} from '@dlf/optim';
import { parseSafetensors, serializeSafetensors, type Tensor, tensor, tidy } from '@dlf/tensor-core';
import { expectClose, type GoldenTensor, goldenTensor, loadGolden } from '@dlf/testing';
import { describe, expect, it } from 'vitest';

type Options = Record<string, unknown>;
interface OptimizerSpec {
  type: 'SGD' | 'Adam' | 'AdamW';
  options: Options;
}
interface SchedulerSpec {
  type: string;
  options?: Options;
}
interface Trajectory {
  name: string;
  optimizer: OptimizerSpec;
  scheduler?: SchedulerSpec;
  float32Deviation: number;
  losses: number[];
  checkpoints: { step: number; params: number[][] }[];
}
interface Schedule {
  name: string;
  optimizer: { type: 'SGD' | 'Adam'; lr: number };
  scheduler: SchedulerSpec;
  steps: number;
  lrs: number[];
  momentum?: number[];
  metrics?: number[];
}
interface Golden {
  meta: { steps: number };
  problem: {
    x: GoldenTensor;
    y: number[];
    params: (GoldenTensor & { name: string })[];
  };
  trajectories: Trajectory[];
  schedules: Schedule[];
}

const golden = loadGolden<Golden>(import.meta.url, 'optim.json');

const { problem } = golden;
const X = goldenTensor(problem.x);
const Y = tensor(new Int32Array(problem.y), { dtype: 'int32' });

function makeParams(): Parameter[] {
  return problem.params.map((p) => new Parameter(goldenTensor(p)));
}

/** One training step of the fixed problem; returns the loss before the update. */
function trainStep(params: Parameter[], opt: Optimizer, sched?: LRScheduler | LRScheduler[]): number {
  return tidy(() => {
    opt.zeroGrad();
    const [w1, b1, w2, b2] = params as [Parameter, Parameter, Parameter, Parameter];
    const loss = crossEntropy(linear(tanh(linear(X, w1, b1)), w2, b2), Y);
    loss.backward();
    opt.step();
    if (Array.isArray(sched)) for (const s of sched) s.step();
    else sched?.step();
    return loss.item();
  });
}

function makeOptimizer(spec: OptimizerSpec | Schedule['optimizer'], params: Parameter[]): Optimizer {
  const o = (
    'options' in spec ? spec.options : { lr: spec.lr, ...(spec.type === 'SGD' ? { momentum: 0.9 } : {}) }
  ) as Options;
  if (spec.type === 'SGD') return new SGD(params, o as never);
  return spec.type === 'Adam' ? new Adam(params, o as never) : new AdamW(params, o as never);
}

function makeScheduler(spec: SchedulerSpec, opt: Optimizer): LRScheduler | LRScheduler[] {
  const o = (spec.options ?? {}) as never;
  switch (spec.type) {
    case 'StepLR':
      return new StepLR(opt, o);
    case 'MultiStepLR':
      return new MultiStepLR(opt, o);
    case 'ExponentialLR':
      return new ExponentialLR(opt, o);
    case 'CosineAnnealingLR':
      return new CosineAnnealingLR(opt, o);
    case 'LinearLR':
      return new LinearLR(opt, o);
    case 'OneCycleLR':
      return new OneCycleLR(opt, o);
    case 'ReduceLROnPlateau':
      return new ReduceLROnPlateau(opt, o);
    case 'SequentialLR': {
      const { schedulers, milestones } = spec.options as {
        schedulers: SchedulerSpec[];
        milestones: number[];
      };
      const children = schedulers.map((c) => makeScheduler(c, opt) as LRScheduler);
      return new SequentialLR(opt, { schedulers: children, milestones });
    }
    case 'Chained':
      return (spec.options!['schedulers'] as SchedulerSpec[]).map(
        (c) => makeScheduler(c, opt) as LRScheduler,
      );
    default:
      throw new Error(`unknown schedule ${spec.type}`);
  }
}

function momentumOf(opt: Optimizer): number {
  return opt instanceof Adam ? opt.betas[0] : (opt as SGD).momentum;
}

// PyTorch's own float32 run stays within 1e-5 relative of the float64 trajectory except for
// parameters near zero, which need an absolute floor of ~2e-7 (see float32Deviation in the file).
const TRAJECTORY_TOLERANCE = { rtol: 1e-5, atol: 1e-6 };
// Same formulas in the same order in IEEE doubles; only Math.cos / ** may differ from libm in the last bit.
const SCHEDULE_TOLERANCE = { rtol: 1e-13, atol: 0 };

describe('optimizer trajectories against PyTorch (50 steps of a fixed problem)', () => {
  it('covers every optimizer and option', () => {
    const specs = golden.trajectories.map((t) => t.optimizer);
    expect(new Set(specs.map((s) => s.type))).toEqual(new Set(['SGD', 'Adam', 'AdamW']));
    for (const key of ['momentum', 'dampening', 'nesterov', 'weightDecay']) {
      expect(
        specs.some((s) => s.type === 'SGD' && key in s.options),
        `SGD ${key}`,
      ).toBe(true);
    }
    for (const type of ['Adam', 'AdamW']) {
      for (const key of ['betas', 'eps', 'weightDecay', 'amsgrad']) {
        expect(
          specs.some((s) => s.type === type && key in s.options),
          `${type} ${key}`,
        ).toBe(true);
      }
    }
    expect(golden.meta.steps).toBe(50);
  });

  for (const t of golden.trajectories) {
    it(t.name, () => {
      const params = makeParams();
      const opt = makeOptimizer(t.optimizer, params);
      const sched = t.scheduler ? makeScheduler(t.scheduler, opt) : undefined;
      const losses: number[] = [];
      let c = 0;
      for (let step = 1; step <= golden.meta.steps; step++) {
        losses.push(trainStep(params, opt, sched));
        const cp = t.checkpoints[c];
        if (cp?.step === step) {
          cp.params.forEach((want, i) => {
            expectClose(params[i]!, want, {
              ...TRAJECTORY_TOLERANCE,
              name: `${problem.params[i]!.name} after step ${step}`,
            });
          });
          c++;
        }
      }
      expect(c).toBe(t.checkpoints.length);
      expectClose(losses, t.losses, { ...TRAJECTORY_TOLERANCE, name: 'losses' });
      // The parameter that never receives a gradient is never touched.
      const unused = params[4]!.toTypedArray();
      expect(Array.from(unused)).toEqual(Array.from(new Float32Array(problem.params[4]!.data)));
      const saved = opt.stateDict();
      expect([...saved.tensors.keys()].some((k) => k.endsWith('.4'))).toBe(false);
      for (const x of saved.tensors.values()) x.dispose();
      opt.dispose();
    });
  }
});

describe('learning-rate schedules against PyTorch', () => {
  it('covers every schedule', () => {
    const kinds = new Set(golden.schedules.map((s) => s.scheduler.type));
    for (const k of [
      'StepLR',
      'MultiStepLR',
      'ExponentialLR',
      'CosineAnnealingLR',
      'OneCycleLR',
      'LinearLR',
      'ReduceLROnPlateau',
      'SequentialLR',
    ]) {
      expect(kinds.has(k), k).toBe(true);
    }
  });

  for (const s of golden.schedules) {
    it(s.name, () => {
      const params = [new Parameter(tensor([0]))];
      const opt = makeOptimizer(s.optimizer, params);
      const sched = makeScheduler(s.scheduler, opt);
      const lrs = [opt.lr];
      const momenta = [momentumOf(opt)];
      for (let i = 0; i < s.steps; i++) {
        if (Array.isArray(sched)) for (const x of sched) x.step();
        else sched.step(s.metrics?.[i]);
        lrs.push(opt.lr);
        momenta.push(momentumOf(opt));
        if (!Array.isArray(sched)) expect(sched.getLastLr()).toBe(opt.lr);
      }
      // Where PyTorch's rate dips below 0, dlf sets 0 (see LRScheduler).
      const want = s.lrs.map((v) => Math.max(0, v));
      if (want.some((v, i) => v !== s.lrs[i])) {
        expect(['LinearLR_to_zero', 'OneCycleLR_adam_three_phase_linear']).toContain(s.name);
      }
      expectClose(lrs, want, { ...SCHEDULE_TOLERANCE, name: 'learning rates' });
      if (s.momentum) expectClose(momenta, s.momentum, { ...SCHEDULE_TOLERANCE, name: 'momentum' });
    });
  }

  it('OneCycleLR refuses to step past totalSteps', () => {
    const opt = new SGD([new Parameter(tensor([0]))], { lr: 0.1, momentum: 0.9 });
    const sched = new OneCycleLR(opt, { maxLr: 1, totalSteps: 3 });
    for (let i = 0; i < 3; i++) sched.step();
    expect(() => sched.step()).toThrow(RangeError);
    expect(() => sched.step()).toThrow(/totalSteps = 3/);
  });
});

// ------------------------------------------------------------------------------------------------
// resume

interface Run {
  params: Parameter[];
  opt: Optimizer;
  sched: LRScheduler;
}

type Setup = (params: Parameter[]) => { opt: Optimizer; sched: LRScheduler };

const setups: Record<string, Setup> = {
  'SGD nesterov + weight decay + StepLR': (p) => {
    const opt = new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 });
    return { opt, sched: new StepLR(opt, { stepSize: 4, gamma: 0.7 }) };
  },
  'SGD momentum + dampening + OneCycleLR (cycled momentum)': (p) => {
    const opt = new SGD(p, { lr: 0.1, momentum: 0.9, dampening: 0.1 });
    return { opt, sched: new OneCycleLR(opt, { maxLr: 0.4, totalSteps: 30 }) };
  },
  'Adam amsgrad + CosineAnnealingLR': (p) => {
    const opt = new Adam(p, { lr: 0.02, amsgrad: true, weightDecay: 0.01 });
    return { opt, sched: new CosineAnnealingLR(opt, { tMax: 7, etaMin: 1e-3 }) };
  },
  'Adam + OneCycleLR (cycled beta1, three phases)': (p) => {
    const opt = new Adam(p, { lr: 0.01, betas: [0.8, 0.99] });
    return { opt, sched: new OneCycleLR(opt, { maxLr: 0.05, totalSteps: 25, threePhase: true }) };
  },
  'AdamW + SequentialLR (warm-up, then exponential decay)': (p) => {
    const opt = new AdamW(p, { lr: 0.02, weightDecay: 0.1 });
    const warm = new LinearLR(opt, { startFactor: 0.2, totalIters: 5 });
    const decay = new ExponentialLR(opt, { gamma: 0.9 });
    return { opt, sched: new SequentialLR(opt, { schedulers: [warm, decay], milestones: [5] }) };
  },
  'AdamW amsgrad + MultiStepLR': (p) => {
    const opt = new AdamW(p, { lr: 0.01, amsgrad: true });
    return { opt, sched: new MultiStepLR(opt, { milestones: [3, 9, 9], gamma: 0.5 }) };
  },
  'SGD + ReduceLROnPlateau (on the training loss)': (p) => {
    const opt = new SGD(p, { lr: 0.5, momentum: 0.5 });
    return {
      opt,
      sched: new ReduceLROnPlateau(opt, { patience: 0, factor: 0.5, threshold: 0.05, cooldown: 1 }),
    };
  },
};

function newRun(setup: Setup): Run {
  const params = makeParams();
  return { params, ...setup(params) };
}

function stepRun(run: Run): void {
  const loss = trainStep(run.params, run.opt);
  run.sched.step(loss);
}

/** Saves everything a checkpoint holds as bytes and text, the way a CLI would. */
function checkpoint(run: Run): { weights: Uint8Array; optTensors: Uint8Array; json: string } {
  const weights = serializeSafetensors(new Map(run.params.map((p, i) => [`p${i}`, p as Tensor])));
  const { state, tensors } = run.opt.stateDict();
  const optTensors = serializeSafetensors(tensors);
  for (const t of tensors.values()) t.dispose();
  return {
    weights,
    optTensors,
    json: JSON.stringify({ optimizer: state, scheduler: run.sched.stateDict() }),
  };
}

function restore(setup: Setup, saved: ReturnType<typeof checkpoint>): Run {
  const run = newRun(setup);
  const weights = parseSafetensors(saved.weights).tensors;
  run.params.forEach((p, i) => {
    p.data().set(weights.get(`p${i}`)!.toTypedArray());
  });
  const { optimizer, scheduler } = JSON.parse(saved.json);
  const tensors = parseSafetensors(saved.optTensors).tensors;
  // Order does not matter: both are constructed already.
  run.sched.loadStateDict(scheduler);
  run.opt.loadStateDict({ state: optimizer, tensors });
  for (const t of [...weights.values(), ...tensors.values()]) t.dispose();
  return run;
}

function snapshot(
  params: Parameter[],
  opt: Optimizer,
  sched?: LRScheduler,
): { params: number[][]; lr: number; state: string; tensors: Record<string, number[]> } {
  const { state, tensors } = opt.stateDict();
  const out = Object.fromEntries([...tensors].map(([k, t]) => [k, Array.from(t.toTypedArray())]));
  for (const t of tensors.values()) t.dispose();
  return {
    params: params.map((p) => Array.from(p.toTypedArray())),
    lr: opt.lr,
    state: JSON.stringify({ state, sched: sched?.stateDict() ?? null }),
    tensors: out,
  };
}

describe('save → load → continue is bit-identical to an uninterrupted run', () => {
  for (const [name, setup] of Object.entries(setups)) {
    it(name, () => {
      const total = 20;
      const straight = newRun(setup);
      for (let i = 0; i < total; i++) stepRun(straight);

      const first = newRun(setup);
      for (let i = 0; i < 9; i++) stepRun(first);
      const saved = checkpoint(first);
      first.opt.dispose();
      const resumed = restore(setup, saved);
      for (let i = 9; i < total; i++) stepRun(resumed);

      const a = snapshot(straight.params, straight.opt, straight.sched);
      const b = snapshot(resumed.params, resumed.opt, resumed.sched);
      expect(b.params).toEqual(a.params); // toEqual on numbers: exact, bit for bit
      expect(b.lr).toBe(a.lr);
      expect(b.tensors).toEqual(a.tensors);
      expect(b.state).toBe(a.state);
      expect(Object.keys(a.tensors).length).toBeGreaterThan(0);
    });
  }
});

// ------------------------------------------------------------------------------------------------
// behaviour

describe('optimizer behaviour', () => {
  it('skips parameters without a gradient and creates state lazily', () => {
    const [a, b] = [new Parameter(tensor([1, 2])), new Parameter(tensor([3]))];
    const opt = new Adam([a, b], { lr: 0.1 });
    tidy(() => sum(mul(a, tensor([1, -1]))).backward());
    opt.step();
    expect(Array.from(b.toTypedArray())).toEqual([3]);
    const { state, tensors } = opt.stateDict();
    expect(state['steps']).toEqual([1, 0]);
    expect([...tensors.keys()].sort()).toEqual(['expAvg.0', 'expAvgSq.0']);
    for (const t of tensors.values()) t.dispose();
    // first Adam step moves each element by lr against the sign of its gradient
    const v = a.toTypedArray();
    expect(v[0]).toBeCloseTo(0.9, 6);
    expect(v[1]).toBeCloseTo(2.1, 6);
    opt.zeroGrad();
    expect(a.grad).toBeNull();
    opt.dispose();
  });

  it('keeps its state out of tidy scopes and frees it on dispose, with a flat memory profile', async () => {
    const { memory } = await import('@dlf/tensor-core');
    const params = makeParams();
    const opt = new AdamW(params, { amsgrad: true });
    tidy(() => trainStep(params, opt));
    const after1 = memory();
    for (let i = 0; i < 10; i++) trainStep(params, opt);
    const after11 = memory();
    expect(after11.numTensors).toBe(after1.numTensors);
    expect(after11.numBytes).toBe(after1.numBytes);
    opt.dispose();
    expect(memory().numTensors).toBe(after1.numTensors - 12); // 4 trained parameters x 3 moments
    opt.dispose(); // idempotent
  });

  it('validates options and parameters, naming the argument', () => {
    const p = new Parameter(tensor([1]));
    expect(() => new SGD([p], { lr: -1 })).toThrow(/Expected a (finite )?number in \[0, Infinity\] for lr/);
    expect(() => new SGD([p], {} as never)).toThrow(TypeError);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/nesterov/);
    expect(() => new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.5, nesterov: true })).toThrow(
      /nesterov/,
    );
    expect(() => new SGD([p, p], { lr: 0.1 })).toThrow(/params\[1\]/);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/at least one parameter/);
    expect(() => new Adam([p], { betas: [0.9, 1] })).toThrow(/betas\[1\]/);
    expect(() => new Adam([p], { eps: -1 })).toThrow(/eps/);
    expect(() => new AdamW([p], { weightDecay: -0.1 })).toThrow(/weightDecay/);
    const opt = new SGD([p], { lr: 0.1 });
    expect(() => {
      opt.lr = Number.NaN;
    }).toThrow(/lr/);
    expect(() => new StepLR(opt, { stepSize: 0 })).toThrow(/stepSize/);
    expect(() => new LinearLR(opt, { startFactor: 0 })).toThrow(/startFactor/);
    expect(() => new OneCycleLR(opt, { maxLr: 0.1 })).toThrow(/totalSteps/);
    expect(() => new ReduceLROnPlateau(opt, { factor: 1 })).toThrow(/factor/);
    expect(() => new ReduceLROnPlateau(opt).step()).toThrow(/metric/);
  });

  it('AdamW defaults to weight decay 1e-2, Adam to 0', () => {
    const p = new Parameter(tensor([1]));
    expect(new AdamW([p]).weightDecay).toBe(0.01);
    expect(new Adam([p]).weightDecay).toBe(0);
    expect(new AdamW([p]).type).toBe('AdamW');
  });

  it('rejects a mismatched state dict and stays as it was', () => {
    const params = makeParams();
    const opt = new Adam(params, { lr: 0.01 });
    for (let i = 0; i < 3; i++) trainStep(params, opt);
    const good = opt.stateDict();
    const before = snapshot(params, opt);
    const sgd = new SGD(params, { lr: 0.1 });
    expect(() => sgd.loadStateDict(good)).toThrow(/'SGD'/);
    const wrongShape = new Map(good.tensors);
    wrongShape.set('expAvg.0', tensor([1, 2, 3]));
    expect(() => opt.loadStateDict({ state: good.state, tensors: wrongShape })).toThrow(
      /Expected shape \[4, 3\] for 'expAvg.0'/,
    );
    const missing = new Map(good.tensors);
    missing.delete('expAvgSq.2');
    expect(() => opt.loadStateDict({ state: good.state, tensors: missing })).toThrow(/expAvgSq.2/);
    const extra = new Map(good.tensors);
    extra.set('velocity.0', tensor([1]));
    expect(() => opt.loadStateDict({ state: good.state, tensors: extra })).toThrow(/velocity.0/);
    expect(() =>
      opt.loadStateDict({ state: { ...good.state, numParams: 4 }, tensors: good.tensors }),
    ).toThrow(/numParams/);
    expect(() =>
      opt.loadStateDict({ state: { ...good.state, steps: [1, 2] }, tensors: good.tensors }),
    ).toThrow(/steps/);
    const disposed = new Map(good.tensors);
    const gone = tensor(new Float32Array(12), { shape: [4, 3] });
    gone.dispose();
    disposed.set('expAvgSq.0', gone);
    expect(() => opt.loadStateDict({ state: good.state, tensors: disposed })).toThrow(/after dispose/);
    const after = snapshot(params, opt);
    expect(after.tensors).toEqual(before.tensors);
    expect(after.state).toBe(before.state);
    // and the good one loads
    opt.loadStateDict(good);
    for (const t of good.tensors.values()) t.dispose();
  });

  it('the state dict is JSON-serialisable scalars plus tensors, ReduceLROnPlateau infinities included', () => {
    const opt = new SGD([new Parameter(tensor([1]))], { lr: 0.1 });
    const sched = new ReduceLROnPlateau(opt, { mode: 'max' });
    const text = JSON.stringify(sched.stateDict());
    expect(JSON.parse(text).best).toBe('-Infinity');
    const again = new ReduceLROnPlateau(opt, { mode: 'max' });
    again.loadStateDict(JSON.parse(text));
    expect(again.best).toBe(-Infinity);
    const s = opt.stateDict();
    expect(JSON.parse(JSON.stringify(s.state))).toEqual(s.state);
  });
});
