import { checkInt, Generator } from '@dlf/tensor-core';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from './layers/index.js';

/** Options for {@link seedCnn}. */
export interface SeedCnnOptions {
  /** Number of classes (output size). Default 10. */
  classes?: number;
  /** Input channels: 3 for RGB, 1 for grey. Default 3. */
  inChannels?: number;
  /** Input height and width (divisible by 4). Default 32. */
  inputSize?: number;
  /** Seed for the initial weights. Default 0. */
  seed?: number;
}

/**
 * The reference model: Conv(3→8, 3×3, pad 1) ReLU · Conv(8→8, 3×3, pad 1) ReLU · MaxPool 2×2 ·
 * Conv(8→16, 3×3, pad 1) ReLU · MaxPool 2×2 · Flatten · Linear(1024→128) ReLU · Linear(128→classes).
 * For 10 classes at 3×32×32: 134,466 parameters and 1,238,272 MACs per image.
 *
 * @example
 * ```ts
 * const model = seedCnn({ classes: 10, seed: 0 });
 * model.forward(randn([64, 3, 32, 32])).shape; // [64, 10]
 * ```
 */
export function seedCnn(options: SeedCnnOptions = {}): Sequential {
  const classes = checkInt('classes', options.classes ?? 10, 1);
  const inChannels = checkInt('inChannels', options.inChannels ?? 3, 1);
  const size = checkInt('inputSize', options.inputSize ?? 32, 4);
  if (size % 4 !== 0)
    throw new RangeError(`Expected an inputSize divisible by 4 for seedCnn but received ${size}`);
  const generator = new Generator(checkInt('seed', options.seed ?? 0, 0));
  const flat = 16 * (size / 4) * (size / 4);
  return new Sequential(
    new Conv2d(inChannels, 8, 3, { padding: 1, generator }),
    new ReLU(),
    new Conv2d(8, 8, 3, { padding: 1, generator }),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(8, 16, 3, { padding: 1, generator }),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(flat, 128, { generator }),
    new ReLU(),
    new Linear(128, classes, { generator }),
  );
}
