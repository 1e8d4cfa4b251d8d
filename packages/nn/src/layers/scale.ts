import { checkNumber, mul, type Tensor } from '@dlf/tensor-core';
import { type LayerDescription, Module } from '../module.js';
import { type LayerSpec, registerLayer, specNumber } from './registry.js';

/**
 * Multiplies its input by a constant `factor` (no parameters). The fast CIFAR-10 networks scale
 * their logits by 1/8 this way: it slows the classifier's effective learning rate relative to the
 * layers below it without changing what the network can express.
 *
 * @example
 * ```ts
 * new Scale(0.125).forward(tensor([8, 16])); // [1, 2]
 * ```
 */
export class Scale extends Module {
  /**
   * Creates the layer.
   *
   * @param factor - The constant every value is multiplied by (finite).
   */
  constructor(readonly factor: number) {
    super();
    checkNumber('factor', factor);
  }
  forward(x: Tensor): Tensor {
    return mul(x, this.factor);
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    return { outputShape: [...inputShape], macs: 0 };
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` or `dlf.graph` model.json). */
  toSpec(): LayerSpec {
    return { type: 'Scale', factor: this.factor };
  }
}

registerLayer({ type: 'Scale', fromJSON: (l) => new Scale(specNumber(l, 'factor')) });
