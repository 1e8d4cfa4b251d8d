import { checkInt, Generator } from '@dlf/tensor-core';
import { GraphBuilder } from '../graph/builder.js';
import type { GraphModule } from '../graph/module.js';
import { ReLU } from '../layers/activation.js';
import { Linear } from '../layers/linear.js';
import { GlobalAvgPool2d } from '../layers/pool.js';
import { convBn } from './blocks.js';
import type { ZooOptions } from './options.js';

/**
 * The CIFAR ResNets of He et al. 2016 (section 4.2): a 3x3 conv to 16 channels, three stages of `n`
 * basic blocks at 16, 32 and 64 channels (the first block of stages 2 and 3 halves the resolution),
 * global average pooling and a linear classifier; depth = 6n + 2. Shortcuts are identities, and
 * option B (a strided 1x1 conv + BN) where the shape changes, so every shortcut is made of
 * standard layers; that adds 2,752 parameters to option A's zero padding (ResNet-20: 272,474
 * parameters for 10 classes instead of 269,722).
 *
 * @example
 * ```ts
 * const model = cifarResNet(20, { classes: 10 });
 * summary(model, [3, 32, 32]).totalParams; // 272474
 * ```
 */
export function cifarResNet(depth: number, options: ZooOptions = {}): GraphModule {
  checkInt('depth', depth, 8);
  if ((depth - 2) % 6 !== 0)
    throw new RangeError(`Expected a depth of 6n + 2 for cifarResNet but received ${depth}`);
  const n = (depth - 2) / 6;
  const classes = checkInt('classes', options.classes ?? 10, 1);
  const inC = checkInt('inChannels', options.inChannels ?? 3, 1);
  const generator = new Generator(checkInt('seed', options.seed ?? 0, 0));
  const g = new GraphBuilder();
  let h = convBn(g, g.input, 'stem', inC, 16, generator);
  let c = 16;
  [16, 32, 64].forEach((width, stage) => {
    for (let b = 0; b < n; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      const name = `s${stage + 1}b${b}`;
      const a = convBn(g, h, `${name}_1`, c, width, generator, { stride });
      const r = convBn(g, a, `${name}_2`, width, width, generator, { act: null });
      const shortcut =
        stride === 1 && c === width
          ? h
          : convBn(g, h, `${name}_down`, c, width, generator, { kernel: 1, stride, act: null });
      h = g.node(new ReLU(), g.add([r, shortcut], `${name}_add`), `${name}_out`);
      c = width;
    }
  });
  const pooled = g.node(new GlobalAvgPool2d(), h, 'pool');
  return g.build(g.node(new Linear(64, classes, { generator }), pooled, 'fc'));
}
