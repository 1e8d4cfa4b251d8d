import { checkNumber, checkOptions, type Generator, type Tensor } from '@dlf/tensor-core';
import * as F from '../functional.js';
import { type LayerDescription, Module } from '../module.js';
import { type InitOptions, type LayerSpec, registerLayer, specNumber } from './registry.js';

/**
 * Inverted dropout, active only in training mode; masks come from a seeded generator.
 *
 * @example
 * ```ts
 * const drop = new Dropout(0.5);
 * drop.eval(); // now the identity
 * ```
 */
export class Dropout extends Module {
  /** Where the masks come from (the default generator when undefined). */
  readonly generator: Generator | undefined;
  /**
   * Creates the layer.
   *
   * @param p - Probability of zeroing an element, in [0, 1] (default 0.5).
   * @param options - `generator` to seed the masks.
   */
  constructor(
    readonly p = 0.5,
    options: InitOptions = {},
  ) {
    super();
    checkNumber('p', p, 0, 1);
    checkOptions('Dropout options', options, ['generator']);
    this.generator = options.generator;
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, { training: this.training, generator: this.generator });
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    return { outputShape: [...inputShape], macs: 0 };
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'Dropout', p: this.p };
  }
}

registerLayer({
  type: 'Dropout',
  fromJSON: (l, { generator }) => new Dropout(specNumber(l, 'p', 0.5), { generator }),
});
