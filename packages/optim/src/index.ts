/**
 * `@dlf/optim`: optimizers that update every parameter in one native call.
 *
 * @example
 * ```ts
 * const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
 * opt.zeroGrad();
 * crossEntropy(model.forward(x), y).backward();
 * opt.step();
 * ```
 *
 * @packageDocumentation
 */
import { native } from '@dlf/native';
import { checkNumber, invalidParam, keep, Tensor } from '@dlf/tensor-core';
import type { Parameter } from '@dlf/nn';

/** Options for {@link SGD}. */
export interface SGDOptions {
  /** Learning rate. */
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/**
 * Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay, following
 * PyTorch's update rule. Parameters without a gradient are skipped.
 *
 * @example
 * ```ts
 * const opt = new SGD(model.parameters(), { lr: 0.05 });
 * ```
 */
export class SGD {
  readonly params: Parameter[];
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  #buffers: (Tensor | null)[];
  stepCount = 0;

  constructor(params: Iterable<Parameter>, options: SGDOptions) {
    this.params = [...params];
    if (this.params.length === 0) throw invalidParam('params', 'at least one parameter', this.params);
    this.lr = checkNumber('lr', options?.lr, 0);
    this.momentum = checkNumber('momentum', options.momentum ?? 0, 0);
    this.dampening = checkNumber('dampening', options.dampening ?? 0, 0, 1);
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = checkNumber('weightDecay', options.weightDecay ?? 0, 0);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw invalidParam('nesterov', 'momentum > 0 and dampening 0', this.nesterov);
    }
    this.#buffers = this.params.map(() => null);
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.params) native.setGrad(p.handle, null);
  }

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    const out = native.sgdStep(
      this.params.map((p) => p.handle),
      this.#buffers.map((b) => (b ? b.handle : null)),
      this.lr,
      this.momentum,
      this.dampening,
      this.nesterov,
      this.weightDecay,
    );
    out.forEach((h, i) => {
      const old = this.#buffers[i];
      if (h === null) return;
      if (old) {
        native.release(h);
        return;
      }
      this.#buffers[i] = keep(new Tensor(h, this.params[i]!.shape, 'float32'));
    });
    this.stepCount++;
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    for (const b of this.#buffers) b?.dispose();
    this.#buffers = this.params.map(() => null);
  }
}
