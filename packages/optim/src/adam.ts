import { optim as native } from '@dlf/native/optim';
import type { Parameter } from '@dlf/nn';
import { checkInt, checkNumber, invalidParam, keep, Tensor } from '@dlf/tensor-core';
import {
  type JsonValue,
  Optimizer,
  type ParamGroup,
  type StateDict,
  stateBool,
  stateNumber,
} from './optimizer.js';

/**
 * Options for {@link Adam} and {@link AdamW}.
 *
 * @example
 * ```ts
 * const options: AdamOptions = { lr: 3e-4, betas: [0.9, 0.98], amsgrad: true };
 * ```
 */
export interface AdamOptions {
  /** Learning rate (>= 0). Default 1e-3. */
  lr?: number;
  /** Decay rates of the first and second moment estimates, each in [0, 1). Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator for numerical stability (>= 0). Default 1e-8. */
  eps?: number;
  /**
   * Weight decay (>= 0): an L2 penalty added to the gradient for {@link Adam} (default 0), decoupled
   * decay of the weights for {@link AdamW} (default 1e-2).
   */
  weightDecay?: number;
  /** Use the running maximum of the second moment (AMSGrad). Default false. */
  amsgrad?: boolean;
}

function checkBetas(value: unknown, name = 'betas'): [number, number] {
  if (!Array.isArray(value) || value.length !== 2)
    throw invalidParam(name, 'a pair [beta1, beta2]', value, 'type');
  const beta = (i: number): number => {
    const b = checkNumber(`${name}[${i}]`, value[i], 0);
    if (b >= 1) throw invalidParam(`${name}[${i}]`, 'a number in [0, 1)', b);
    return b;
  };
  return [beta(0), beta(1)];
}

/**
 * Adam with bias-corrected moment estimates and optional AMSGrad, following PyTorch 1.13:
 *
 * ```text
 * g = grad + weightDecay · p                      (Adam; AdamW decays p instead)
 * m = beta1 · m + (1 - beta1) · g
 * v = beta2 · v + (1 - beta2) · g²               (amsgrad: vmax = max(vmax, v), used below for v)
 * p = p - lr / (1 - beta1^t) · m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * ```
 *
 * `t` counts the steps each parameter has been updated. One native call updates every parameter;
 * parameters without a gradient are skipped (their moments and step count stay as they are).
 *
 * @example
 * ```ts
 * const opt = new Adam(model.parameters(), { lr: 1e-3, amsgrad: true });
 * ```
 */
export class Adam extends Optimizer {
  #betas: [number, number];
  #eps: number;
  #weightDecay: number;
  #amsgrad: boolean;
  #expAvg: (Tensor | null)[];
  #expAvgSq: (Tensor | null)[];
  #maxExpAvgSq: (Tensor | null)[];
  #steps: Float64Array;

  /**
   * Creates the optimizer.
   *
   * @param params - The parameters to update (each once), e.g. `model.parameters()`, or
   *   {@link ParamGroup}s of them with their own rate multiplier and weight decay.
   * @param options - Learning rate, betas, eps, weight decay and amsgrad (PyTorch's defaults).
   */
  constructor(params: Iterable<Parameter> | readonly ParamGroup[], options: AdamOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw invalidParam('options', 'an object', options, 'type');
    super(params, options.lr ?? 1e-3);
    this.#betas = checkBetas(options.betas ?? [0.9, 0.999]);
    this.#eps = checkNumber('eps', options.eps ?? 1e-8, 0);
    this.#weightDecay = checkNumber('weightDecay', options.weightDecay ?? this.defaultWeightDecay(), 0);
    const amsgrad = options.amsgrad ?? false;
    if (typeof amsgrad !== 'boolean') throw invalidParam('amsgrad', 'a boolean', amsgrad, 'type');
    this.#amsgrad = amsgrad;
    this.#expAvg = this.params.map(() => null);
    this.#expAvgSq = this.params.map(() => null);
    this.#maxExpAvgSq = this.params.map(() => null);
    this.#steps = new Float64Array(this.params.length);
  }

  /** "Adam" (or "AdamW"). @example `opt.type // 'Adam'` */
  get type(): string {
    return 'Adam';
  }

  /** @internal Weight decay applied to the weights (AdamW) rather than added to the gradient (Adam). */
  protected get decoupled(): boolean {
    return false;
  }

  /** @internal The default of `weightDecay`. */
  protected defaultWeightDecay(): number {
    return 0;
  }

  /**
   * The moment decay rates [beta1, beta2]. Settable, so schedules that cycle momentum
   * ({@link OneCycleLR}) can drive beta1.
   *
   * @example
   * ```ts
   * opt.betas = [0.85, opt.betas[1]];
   * ```
   */
  get betas(): readonly [number, number] {
    return [this.#betas[0], this.#betas[1]];
  }
  set betas(value: readonly [number, number]) {
    this.#betas = checkBetas(value);
  }

  /** The denominator's stability term. @example `opt.eps // 1e-8` */
  get eps(): number {
    return this.#eps;
  }

  /** The weight decay. @example `opt.weightDecay // 0.01` */
  get weightDecay(): number {
    return this.#weightDecay;
  }

  /** Whether AMSGrad is used. @example `opt.amsgrad // false` */
  get amsgrad(): boolean {
    return this.#amsgrad;
  }

  /**
   * Applies one Adam update to every parameter that has a gradient (one native call).
   *
   * @example
   * ```ts
   * opt.step();
   * ```
   */
  step(): void {
    for (const { start, end, lrScale, weightDecay } of this.groups) {
      const created = native.adamStep(
        this.params.slice(start, end).map((p) => p.handle),
        this.#expAvg.slice(start, end).map((t) => (t ? t.handle : null)),
        this.#expAvgSq.slice(start, end).map((t) => (t ? t.handle : null)),
        this.#maxExpAvgSq.slice(start, end).map((t) => (t ? t.handle : null)),
        this.#steps.subarray(start, end), // a view: the native call counts the steps in place
        this.lr * lrScale,
        this.#betas[0],
        this.#betas[1],
        this.#eps,
        weightDecay ?? this.#weightDecay,
        this.#amsgrad,
        this.decoupled,
      );
      created.forEach((handles, j) => {
        if (handles === null) return;
        const i = start + j;
        const shape = this.params[i]!.shape;
        this.#expAvg[i] = keep(new Tensor(handles[0], shape, 'float32'));
        this.#expAvgSq[i] = keep(new Tensor(handles[1], shape, 'float32'));
        if (handles[2] !== null) this.#maxExpAvgSq[i] = keep(new Tensor(handles[2], shape, 'float32'));
      });
    }
    this.stepCount++;
  }

  protected stateTensors(): Record<string, readonly (Tensor | null)[]> {
    return { expAvg: this.#expAvg, expAvgSq: this.#expAvgSq, maxExpAvgSq: this.#maxExpAvgSq };
  }

  protected hyperParameters(): { [key: string]: JsonValue } {
    return {
      betas: [...this.#betas],
      eps: this.#eps,
      weightDecay: this.#weightDecay,
      amsgrad: this.#amsgrad,
      steps: Array.from(this.#steps),
    };
  }

  protected prepareLoad(
    state: StateDict['state'],
    tensors: Map<string, Tensor>,
  ): (copies: Record<string, (Tensor | null)[]>) => void {
    const betas = checkBetas(state['betas'], 'state.betas');
    const eps = stateNumber(state, 'eps', 0);
    const weightDecay = stateNumber(state, 'weightDecay', 0);
    const amsgrad = stateBool(state, 'amsgrad');
    const stepsIn = state['steps'];
    if (!Array.isArray(stepsIn) || stepsIn.length !== this.params.length) {
      throw invalidParam('state.steps', `an array of ${this.params.length} step counts`, stepsIn, 'type');
    }
    const steps = Float64Array.from(stepsIn, (s, i) => checkInt(`state.steps[${i}]`, s, 0));
    // A parameter has all of its moments or none, and has them exactly when it has taken a step.
    this.params.forEach((_, i) => {
      const need = steps[i]! > 0;
      for (const name of amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq']) {
        if (tensors.has(`${name}.${i}`) !== need) {
          throw invalidParam(
            `stateDict.tensors['${name}.${i}']`,
            need
              ? `a tensor (parameter ${i} has taken ${steps[i]} steps)`
              : 'no tensor (parameter has taken no step)',
            need ? 'nothing' : 'a tensor',
          );
        }
      }
    });
    return (copies) => {
      this.#betas = betas;
      this.#eps = eps;
      this.#weightDecay = weightDecay;
      this.#amsgrad = amsgrad;
      this.#steps = steps;
      this.#expAvg = copies['expAvg']!;
      this.#expAvgSq = copies['expAvgSq']!;
      this.#maxExpAvgSq = amsgrad ? copies['maxExpAvgSq']! : this.params.map(() => null);
      if (!amsgrad) for (const t of copies['maxExpAvgSq']!) t?.dispose();
    };
  }

  protected disposeState(): void {
    for (const list of [this.#expAvg, this.#expAvgSq, this.#maxExpAvgSq]) for (const t of list) t?.dispose();
    this.#expAvg = this.params.map(() => null);
    this.#expAvgSq = this.params.map(() => null);
    this.#maxExpAvgSq = this.params.map(() => null);
    this.#steps = new Float64Array(this.params.length);
  }
}

/**
 * AdamW: Adam with decoupled weight decay (Loshchilov & Hutter), following PyTorch 1.13: before the
 * Adam update each parameter is scaled by `1 - lr · weightDecay` (default weightDecay 1e-2) and the
 * gradient is left as it is.
 *
 * @example
 * ```ts
 * const opt = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.05 });
 * ```
 */
export class AdamW extends Adam {
  /** "AdamW". @example `opt.type // 'AdamW'` */
  override get type(): string {
    return 'AdamW';
  }

  protected override get decoupled(): boolean {
    return true;
  }

  protected override defaultWeightDecay(): number {
    return 1e-2;
  }
}
