/**
 * The model zoo: presets known by name to `dlf summary <name>` and `dlf train --model <name>`.
 */
import type { DescribedModel } from '../model-file/architecture.js';
import { seedCnn } from '../presets.js';
import { type FastCifarOptions, fastCifarNet } from './fast.js';
import { mobileNetV2 } from './mobilenet.js';
import type { ZooOptions } from './options.js';
import { cifarResNet } from './resnet.js';
import { vgg11Bn } from './vgg.js';

export { convBn, type ConvBnOptions } from './blocks.js';
export { type FastCifarOptions, fastCifarNet } from './fast.js';
export { mobileNetV2 } from './mobilenet.js';
export type { ZooOptions } from './options.js';
export { cifarResNet } from './resnet.js';
export { vgg11Bn } from './vgg.js';

/** A named model of the zoo. */
export interface ModelPreset {
  name: string;
  /** One line for help texts. */
  description: string;
  /** Input sides it accepts: `multipleOf` (and exactly `side` when set). */
  input: { multipleOf: number; side?: number };
  build(options: ZooOptions): DescribedModel;
}

const presets: ModelPreset[] = [
  {
    name: 'seed-cnn',
    description: 'the reference CNN: 3 convs, 2 linear layers (134k parameters)',
    input: { multipleOf: 4 },
    build: (o) => seedCnn(o),
  },
  ...[8, 20, 56].map(
    (depth): ModelPreset => ({
      name: `resnet${depth}`,
      description: `CIFAR ResNet-${depth} (He et al. 2016, 1x1-conv projection shortcuts)`,
      input: { multipleOf: 4 },
      build: (o) => cifarResNet(depth, o),
    }),
  ),
  {
    name: 'vgg11-bn',
    description: 'VGG-11 with batch norm, CIFAR form (9.2M parameters)',
    input: { multipleOf: 32, side: 32 },
    build: (o) => vgg11Bn(o),
  },
  {
    name: 'mobilenetv2',
    description: 'MobileNetV2 for 32x32 input (inverted residuals, depthwise convs; 2.2M parameters)',
    input: { multipleOf: 8 },
    build: (o) => mobileNetV2(o),
  },
  {
    name: 'fast-cifar',
    description:
      'compact VGG-style net after airbench, for time-to-accuracy on CIFAR-10 (the cifar10-fast recipe)',
    input: { multipleOf: 8 },
    build: (o) => fastCifarNet(o as FastCifarOptions),
  },
];

/**
 * Every zoo preset by name.
 *
 * @example
 * ```ts
 * modelPresets.get('resnet20')!.build({ classes: 10 });
 * ```
 */
export const modelPresets: ReadonlyMap<string, ModelPreset> = new Map(presets.map((p) => [p.name, p]));

/**
 * Builds a zoo preset by name for square inputs of `inputSize`, or throws a RangeError saying which
 * sizes it takes.
 *
 * @example
 * ```ts
 * const model = buildPreset('resnet20', { classes: 10, inChannels: 3, inputSize: 32, seed: 0 });
 * ```
 */
export function buildPreset(name: string, options: ZooOptions = {}): DescribedModel {
  const preset = modelPresets.get(name);
  if (!preset)
    throw new RangeError(`Unknown model preset '${name}' (known: ${[...modelPresets.keys()].join(', ')})`);
  const side = options.inputSize ?? 32;
  const { multipleOf, side: only } = preset.input;
  if ((only !== undefined && side !== only) || side % multipleOf !== 0) {
    throw new RangeError(
      `${name} needs a square input with a side ${only !== undefined ? `of ${only}` : `divisible by ${multipleOf}`}, not ${side}`,
    );
  }
  return preset.build(options);
}
