import { checkInt, type Tensor } from '@dlf/tensor-core';
import * as F from '../functional.js';
import { type LayerDescription, Module } from '../module.js';
import { type LayerSpec, registerLayer, specNumber } from './registry.js';
import { prod } from './shared.js';

/** Flattens all dims from `startDim` (default 1: keep the batch). @example `new Flatten()` */
export class Flatten extends Module {
  /**
   * Creates the layer.
   *
   * @param startDim - The first dimension flattened (default 1: keep the batch).
   */
  constructor(readonly startDim = 1) {
    super();
    checkInt('startDim', startDim, 0);
  }
  forward(x: Tensor): Tensor {
    return F.flatten(x, this.startDim);
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    const s = Math.max(this.startDim - 1, 0);
    return { outputShape: [...inputShape.slice(0, s), prod(inputShape.slice(s))], macs: 0 };
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'Flatten', startDim: this.startDim };
  }
}

registerLayer({ type: 'Flatten', fromJSON: (l) => new Flatten(specNumber(l, 'startDim', 1)) });
