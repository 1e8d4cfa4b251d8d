import { checkInt, checkOptions, type Tensor, zeros } from '@dlf/tensor-core';
import * as F from '../functional.js';
import { kaimingUniform_ } from '../init.js';
import { type LayerDescription, Module, Parameter } from '../module.js';
import {
  type InitOptions,
  type LayerSpec,
  registerLayer,
  specBool,
  specNumber,
  stateSize,
} from './registry.js';
import { defaultBias, prod } from './shared.js';

/**
 * y = x Wᵀ + b, with PyTorch's default initialisation (Kaiming uniform, a = √5).
 *
 * @example
 * ```ts
 * const fc = new Linear(1024, 128);
 * fc.forward(randn([64, 1024])).shape; // [64, 128]
 * ```
 */
export class Linear extends Module {
  /** The weight matrix, [outFeatures, inFeatures]. */
  readonly weight: Parameter;
  /** The bias, [outFeatures], or null with `bias: false`. */
  readonly bias: Parameter | null;
  /**
   * Creates the layer with freshly initialised weights.
   *
   * @param inFeatures - Features of each input row.
   * @param outFeatures - Features of each output row.
   * @param options - `bias: false` for no bias; `generator` seeds the initialisation.
   */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: InitOptions & { bias?: boolean } = {},
  ) {
    super();
    checkInt('inFeatures', inFeatures, 1);
    checkInt('outFeatures', outFeatures, 1);
    checkOptions('Linear options', options, ['bias', 'generator']);
    const w = zeros([outFeatures, inFeatures]);
    kaimingUniform_(w, { a: Math.sqrt(5), generator: options.generator });
    this.weight = this.registerParameter('weight', new Parameter(w));
    w.dispose();
    if (options.bias ?? true) {
      const b = zeros([outFeatures]);
      defaultBias(b, inFeatures, options.generator);
      this.bias = this.registerParameter('bias', new Parameter(b));
      b.dispose();
    } else {
      this.bias = this.registerParameter('bias', null);
    }
  }
  forward(x: Tensor, options: F.LinearOptions = {}): Tensor {
    return F.linear(x, this.weight, this.bias, options);
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    if (inputShape[inputShape.length - 1] !== this.inFeatures) {
      throw new RangeError(
        `Linear(${this.inFeatures}, ${this.outFeatures}) received input shape [${inputShape.join(', ')}]`,
      );
    }
    const rows = prod(inputShape.slice(0, -1));
    return {
      outputShape: [...inputShape.slice(0, -1), this.outFeatures],
      macs: rows * this.inFeatures * this.outFeatures,
    };
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return {
      type: 'Linear',
      inFeatures: this.inFeatures,
      outFeatures: this.outFeatures,
      bias: this.bias !== null,
    };
  }
}

registerLayer({
  type: 'Linear',
  fromJSON: (l, { generator }) =>
    new Linear(specNumber(l, 'inFeatures'), specNumber(l, 'outFeatures'), {
      bias: specBool(l, 'bias', true),
      generator,
    }),
  stateShapes: (l): Record<string, number[]> => {
    const inF = stateSize(l, 'inFeatures');
    const outF = stateSize(l, 'outFeatures');
    return (l.bias ?? true) ? { weight: [outF, inF], bias: [outF] } : { weight: [outF, inF] };
  },
});
