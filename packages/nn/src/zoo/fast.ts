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
import { identityKernels_ } from '../init.js';
import { Whiten2d } from '../layers/whiten.js';
import type { ZooOptions } from './options.js';

/** Options for {@link fastCifarNet}. */
export interface FastCifarOptions extends ZooOptions {
  /** Channels of the three blocks. Default [64, 192, 256] (airbench: [64, 256, 256], 30 % more work). */
  widths?: readonly [number, number, number];
}

/** Batch norm as the fast CIFAR-10 nets use it: learned shift only, fast-moving running statistics. */
const fastBn = (channels: number): BatchNorm2d =>
  new BatchNorm2d(channels, { eps: 1e-12, momentum: 0.4, scale: false });

/**
 * A compact VGG-style network for time-to-accuracy on CIFAR-10, after Jordan's airbench94 (itself
 * after tysam's hlb-CIFAR10 and Page's ResNet-9):
 * - a frozen 2x2 patch-whitening stem ({@link Whiten2d}: 2·C·4 channels, fitted to the training
 *   images before the first step; padded to keep the image size, where airbench's loses a pixel, so
 *   every plane below stays even for 2x2 pooling) and ReLU;
 * - three blocks of conv → 2x2 max pool → BN → ReLU → conv → BN → ReLU (pooling before BN makes BN
 *   four times cheaper), widest at the low resolutions where a channel costs least. Each conv's
 *   first kernels start as the identity (an implicit residual path); BN learns only its shift;
 * - global max pooling, a linear layer without bias and logits scaled by 1/9 (the scale slows the
 *   classifier's effective learning rate against the layers below it).
 *
 * airbench uses GELU; dlf keeps ReLU, which its convolution kernels fuse. At the default widths it
 * costs about 0.12 G multiply-accumulates per 32x32 image.
 *
 * @example
 * ```ts
 * const model = fastCifarNet({ classes: 10 });
 * summary(model, [3, 32, 32]).outputShape; // [10]
 * ```
 */
export function fastCifarNet(options: FastCifarOptions = {}): GraphModule {
  const classes = checkInt('classes', options.classes ?? 10, 1);
  const inC = checkInt('inChannels', options.inChannels ?? 3, 1, 16);
  const side = checkInt('inputSize', options.inputSize ?? 32, 8);
  const widths = options.widths ?? [64, 192, 256];
  widths.forEach((w, i) => checkInt(`widths[${i}]`, w, 1));
  const generator = new Generator(checkInt('seed', options.seed ?? 0, 0));
  const g = new GraphBuilder();
  const stem = new Whiten2d(inC, 2, { generator });
  let h = g.node(new ReLU(), g.node(stem, g.input, 'whiten'), 'whiten_act');
  const conv = (cin: number, cout: number): Conv2d => {
    const layer = new Conv2d(cin, cout, 3, { padding: 1, bias: false, generator });
    identityKernels_(layer.weight);
    return layer;
  };
  let cin = stem.outChannels;
  for (let block = 1; block <= 3; block++) {
    const cout = widths[block - 1]!;
    const name = `b${block}`;
    const pool = g.node(new MaxPool2d(2), g.node(conv(cin, cout), h, `${name}_conv`), `${name}_pool`);
    h = g.node(new ReLU(), g.node(fastBn(cout), pool, `${name}_bn`), `${name}_act`);
    const bn2 = g.node(fastBn(cout), g.node(conv(cout, cout), h, `${name}_conv2_conv`), `${name}_conv2_bn`);
    h = g.node(new ReLU(), bn2, `${name}_conv2_act`);
    cin = cout;
  }
  // Three 2x2 pools leave side/8: one window over the whole plane.
  const pooled = g.node(new Flatten(), g.node(new MaxPool2d(Math.floor(side / 8)), h, 'pool'), 'flatten');
  const logits = g.node(new Linear(cin, classes, { bias: false, generator }), pooled, 'fc');
  return g.build(g.node(new Scale(1 / 9), logits, 'scale'));
}
