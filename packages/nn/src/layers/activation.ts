/**
 * Activation layers. Each is an {@link Elementwise} module (output shape = input shape, no MACs)
 * plus one `registerLayer` line, so a new activation is a short class and a registration.
 */
import { checkNumber, type Tensor } from '@dlf/tensor-core';
import * as F from '../functional.js';
import { type LayerDescription, Module } from '../module.js';
import { type LayerSpec, registerLayer, specNumber } from './registry.js';

/** A layer that keeps its input's shape and does no multiply-accumulates. */
abstract class Elementwise extends Module {
  override describe(inputShape: readonly number[]): LayerDescription {
    return { outputShape: [...inputShape], macs: 0 };
  }
}

/** x < 0 ? 0 : x, as PyTorch: a NaN stays NaN (it is not hidden as 0). @example `new ReLU()` */
export class ReLU extends Elementwise {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'ReLU' };
  }
}

/** min(max(x, 0), 6), MobileNetV2's activation. @example `new ReLU6()` */
export class ReLU6 extends Elementwise {
  forward(x: Tensor): Tensor {
    return F.relu6(x);
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'ReLU6' };
  }
}

/** Leaky ReLU. @example `new LeakyReLU(0.1)` */
export class LeakyReLU extends Elementwise {
  /**
   * Creates the layer.
   *
   * @param negativeSlope - Slope for negative inputs (default 0.01).
   */
  constructor(readonly negativeSlope = 0.01) {
    super();
    checkNumber('negativeSlope', negativeSlope);
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'LeakyReLU', negativeSlope: this.negativeSlope };
  }
}

/** Sigmoid. @example `new Sigmoid()` */
export class Sigmoid extends Elementwise {
  forward(x: Tensor): Tensor {
    return F.sigmoid(x);
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'Sigmoid' };
  }
}

/** Tanh. @example `new Tanh()` */
export class Tanh extends Elementwise {
  forward(x: Tensor): Tensor {
    return F.tanh(x);
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'Tanh' };
  }
}

/** GELU, exact (erf) form. @example `new GELU()` */
export class GELU extends Elementwise {
  forward(x: Tensor): Tensor {
    return F.gelu(x);
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'GELU' };
  }
}

/** SiLU (swish): x · sigmoid(x). @example `new SiLU()` */
export class SiLU extends Elementwise {
  forward(x: Tensor): Tensor {
    return F.silu(x);
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'SiLU' };
  }
}

/** Hardswish: x · relu6(x + 3) / 6. @example `new Hardswish()` */
export class Hardswish extends Elementwise {
  forward(x: Tensor): Tensor {
    return F.hardswish(x);
  }
  /** This layer as a JSON layer description (an entry of a `dlf.sequential` model.json). */
  toSpec(): LayerSpec {
    return { type: 'Hardswish' };
  }
}

registerLayer({ type: 'ReLU', fromJSON: () => new ReLU() });
registerLayer({ type: 'ReLU6', fromJSON: () => new ReLU6() });
registerLayer({ type: 'LeakyReLU', fromJSON: (l) => new LeakyReLU(specNumber(l, 'negativeSlope', 0.01)) });
registerLayer({ type: 'Sigmoid', fromJSON: () => new Sigmoid() });
registerLayer({ type: 'Tanh', fromJSON: () => new Tanh() });
registerLayer({ type: 'GELU', fromJSON: () => new GELU() });
registerLayer({ type: 'SiLU', fromJSON: () => new SiLU() });
registerLayer({ type: 'Hardswish', fromJSON: () => new Hardswish() });
