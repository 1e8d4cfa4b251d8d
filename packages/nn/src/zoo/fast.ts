import { checkInt, Generator } from '@dlf/tensor-core';
import { GraphBuilder } from '../graph/builder.js';
import type { GraphModule } from '../graph/module.js';
import { ReLU } from '../layers/activation.js';
import { Conv2d } from '../layers/conv.js';
import { Linear } from '../layers/linear.js';
import { BatchNorm2d } from '../layers/normalization.js';
import { MaxPool2d } from '../layers/pool.js';
import { Flatten } from '../layers/reshape.js';
import { Scale } from '../layers/scale.js';
import { convBn } from './blocks.js';
import type { ZooOptions } from './options.js';

/** Options for {@link fastCifarNet}. */
export interface FastCifarOptions extends ZooOptions {
  /** Channels of the stem and of the three blocks. Default [24, 64, 192, 256]. */
  widths?: readonly [number, number, number, number];
}

/**
 * A compact VGG-style network for time-to-accuracy on CIFAR-10, after Jordan's airbench (itself
 * after Page's ResNet-9): a conv-BN-ReLU stem, then three blocks of conv → 2x2 max pool → BN →
 * ReLU → conv → BN → ReLU (pooling before BN makes BN four times cheaper), widest at the low
 * resolutions where a channel costs least, then global max pooling, a linear layer without bias and
 * logits scaled by 1/8 (the scale slows the classifier's effective learning rate against the layers
 * below it). At the default widths it costs about 0.11 G multiply-accumulates per 32x32 image.
 *
 * @example
 * ```ts
 * const model = fastCifarNet({ classes: 10 });
 * summary(model, [3, 32, 32]).outputShape; // [10]
 * ```
 */
export function fastCifarNet(options: FastCifarOptions = {}): GraphModule {
  const classes = checkInt('classes', options.classes ?? 10, 1);
  const inC = checkInt('inChannels', options.inChannels ?? 3, 1);
  const side = checkInt('inputSize', options.inputSize ?? 32, 8);
  const widths = options.widths ?? [24, 64, 192, 256];
  widths.forEach((w, i) => checkInt(`widths[${i}]`, w, 1));
  const generator = new Generator(checkInt('seed', options.seed ?? 0, 0));
  const g = new GraphBuilder();
  let h = convBn(g, g.input, 'stem', inC, widths[0], generator);
  for (let block = 1; block <= 3; block++) {
    const [cin, cout] = [widths[block - 1]!, widths[block]!];
    const name = `b${block}`;
    const conv = g.node(new Conv2d(cin, cout, 3, { padding: 1, bias: false, generator }), h, `${name}_conv`);
    const pool = g.node(new MaxPool2d(2), conv, `${name}_pool`);
    h = g.node(new ReLU(), g.node(new BatchNorm2d(cout), pool, `${name}_bn`), `${name}_act`);
    h = convBn(g, h, `${name}_conv2`, cout, cout, generator);
  }
  // Three 2x2 pools leave side/8: one window over the whole plane.
  const pooled = g.node(new Flatten(), g.node(new MaxPool2d(Math.floor(side / 8)), h, 'pool'), 'flatten');
  const logits = g.node(new Linear(widths[3], classes, { bias: false, generator }), pooled, 'fc');
  return g.build(g.node(new Scale(0.125), logits, 'scale'));
}
