import { optim as native } from '@dlf/native/optim';
import type { Parameter } from '@dlf/nn';
import { checkNumber, invalidParam, keep, Tensor } from '@dlf/tensor-core';
import {
  type JsonValue,
  Optimizer,
  type ParamGroup,
  type StateDict,
  stateBool,
  stateNumber,
} from './optimizer.js';

/**
 * Options for {@link SGD}.
 *
 * @example
 * ```ts
 * const options: SGDOptions = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
 * ```
 */
export interface SGDOptions {
  /** Learning rate (>= 0). */
  lr: number;
  /** Momentum factor (>= 0). Default 0 (plain gradient descent). */
  momentum?: number;
  /** Dampening of the gradient in the momentum buffer, in [0, 1]. Default 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (>= 0). Default 0. */
  weightDecay?: number;
}

/**
 * Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight decay,
 * following PyTorch 1.13's update rule:
 *
 * ```text
 * d = grad + weightDecay · p
 * buf = d on the first step, else momentum · buf + (1 - dampening) · d
 * d = nesterov ? d + momentum · buf : buf
 * p = p - lr · d
 * ```
 *
 * One native call per parameter group updates its parameters; parameters without a gradient (frozen
 * ones included) are skipped. A group's rate is `lr · lrScale`, its decay its own `weightDecay`.
 *
 * @example
 * ```ts
 * const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
 * ```
 */
export class SGD extends Optimizer {
  #momentum: number;
  #dampening: number;
  #nesterov: boolean;
  #weightDecay: number;
  #buffers: (Tensor | null)[];

  /**
   * Creates the optimizer.
   *
   * @param params - The parameters to update (each once), e.g. `model.parameters()`, or
   *   {@link ParamGroup}s of them with their own rate multiplier and weight decay.
   * @param options - Learning rate (required), momentum, dampening, weight decay and Nesterov.
   */
  constructor(params: Iterable<Parameter> | readonly ParamGroup[], options: SGDOptions) {
    if (options === null || typeof options !== 'object') {
      throw invalidParam('options', 'an object with at least lr', options, 'type');
    }
    super(params, options.lr);
    this.#momentum = checkNumber('momentum', options.momentum ?? 0, 0);
    this.#dampening = checkNumber('dampening', options.dampening ?? 0, 0, 1);
    const nesterov = options.nesterov ?? false;
    if (typeof nesterov !== 'boolean') throw invalidParam('nesterov', 'a boolean', nesterov, 'type');
    this.#nesterov = nesterov;
    this.#weightDecay = checkNumber('weightDecay', options.weightDecay ?? 0, 0);
    if (this.#nesterov && (this.#momentum <= 0 || this.#dampening !== 0)) {
      throw invalidParam('nesterov', 'momentum > 0 and dampening 0 with nesterov', 'nesterov: true');
    }
    this.#buffers = this.params.map(() => null);
  }

  /** "SGD". @example `opt.type // 'SGD'` */
  get type(): string {
    return 'SGD';
  }

  /**
   * The momentum factor. Settable, so schedules that cycle momentum ({@link OneCycleLR}) can drive it.
   *
   * @example
   * ```ts
   * opt.momentum = 0.95;
   * ```
   */
  get momentum(): number {
    return this.#momentum;
  }
  set momentum(value: number) {
    this.#momentum = checkNumber('momentum', value, 0);
  }

  /** Dampening of the momentum buffer. @example `opt.dampening // 0` */
  get dampening(): number {
    return this.#dampening;
  }

  /** Whether Nesterov momentum is used. @example `opt.nesterov // false` */
  get nesterov(): boolean {
    return this.#nesterov;
  }

  /** The L2 penalty. @example `opt.weightDecay // 5e-4` */
  get weightDecay(): number {
    return this.#weightDecay;
  }

  /**
   * Applies one SGD update to every parameter that has a gradient (one native call).
   *
   * @example
   * ```ts
   * opt.step();
   * ```
   */
  step(): void {
    for (const { start, end, lrScale, weightDecay } of this.groups) {
      const created = native.sgdStep(
        this.params.slice(start, end).map((p) => p.handle),
        this.#buffers.slice(start, end).map((b) => (b ? b.handle : null)),
        this.lr * lrScale,
        this.#momentum,
        this.#dampening,
        this.#nesterov,
        weightDecay ?? this.#weightDecay,
      );
      created.forEach((h, j) => {
        if (h !== null)
          this.#buffers[start + j] = keep(new Tensor(h, this.params[start + j]!.shape, 'float32'));
      });
    }
    this.stepCount++;
  }

  protected stateTensors(): Record<string, readonly (Tensor | null)[]> {
    return { momentumBuffer: this.#buffers };
  }

  protected hyperParameters(): { [key: string]: JsonValue } {
    return {
      momentum: this.#momentum,
      dampening: this.#dampening,
      nesterov: this.#nesterov,
      weightDecay: this.#weightDecay,
    };
  }

  protected prepareLoad(state: StateDict['state']): (copies: Record<string, (Tensor | null)[]>) => void {
    const momentum = stateNumber(state, 'momentum', 0);
    const dampening = stateNumber(state, 'dampening', 0, 1);
    const nesterov = stateBool(state, 'nesterov');
    const weightDecay = stateNumber(state, 'weightDecay', 0);
    return (copies) => {
      this.#momentum = momentum;
      this.#dampening = dampening;
      this.#nesterov = nesterov;
      this.#weightDecay = weightDecay;
      this.#buffers = copies['momentumBuffer']!;
    };
  }

  protected disposeState(): void {
    for (const b of this.#buffers) b?.dispose();
    this.#buffers = this.params.map(() => null);
  }
}
