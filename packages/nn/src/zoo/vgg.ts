import { checkInt, Generator } from '@dlf/tensor-core';
import { ReLU } from '../layers/activation.js';
import { Conv2d } from '../layers/conv.js';
import { Linear } from '../layers/linear.js';
import { BatchNorm2d } from '../layers/normalization.js';
import { MaxPool2d } from '../layers/pool.js';
import { Flatten } from '../layers/reshape.js';
import { Sequential } from '../layers/sequential.js';
import type { Module } from '../module.js';
import type { ZooOptions } from './options.js';

/** VGG-11's configuration: conv widths, 'M' for a 2x2 max pool. */
const VGG11 = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'] as const;

/**
 * VGG-11 with batch norm, in its usual CIFAR form (Simonyan & Zisserman 2015 with BN after every
 * conv): eight 3x3 conv-BN-ReLU layers, five 2x2 max pools (32x32 → 1x1) and one linear layer from
 * the 512 features. A plain stack, so it is a {@link Sequential}. Needs an input side of 32.
 *
 * @example
 * ```ts
 * summary(vgg11Bn({ classes: 10 }), [3, 32, 32]).totalParams; // 9,231,114
 * ```
 */
export function vgg11Bn(options: ZooOptions = {}): Sequential {
  const classes = checkInt('classes', options.classes ?? 10, 1);
  let c = checkInt('inChannels', options.inChannels ?? 3, 1);
  const generator = new Generator(checkInt('seed', options.seed ?? 0, 0));
  const layers: Module[] = [];
  for (const v of VGG11) {
    if (v === 'M') {
      layers.push(new MaxPool2d(2));
      continue;
    }
    layers.push(new Conv2d(c, v, 3, { padding: 1, generator }), new BatchNorm2d(v), new ReLU());
    c = v;
  }
  layers.push(new Flatten(), new Linear(512, classes, { generator }));
  return new Sequential(...layers);
}
