import { checkInt, Generator } from '@dlf/tensor-core';
import { GraphBuilder } from '../graph/builder.js';
import type { GraphModule } from '../graph/module.js';
import { Linear } from '../layers/linear.js';
import { GlobalAvgPool2d } from '../layers/pool.js';
import { convBn } from './blocks.js';
import type { ZooOptions } from './options.js';

/** MobileNetV2's stages: expansion t, output channels c, blocks n, first stride s (CIFAR strides). */
const STAGES = [
  [1, 16, 1, 1],
  [6, 24, 2, 1],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
] as const;

/**
 * MobileNetV2 (Sandler et al. 2018) for 32x32 input: inverted residual blocks (1x1 expansion,
 * 3x3 depthwise conv, 1x1 linear projection; a residual add where stride is 1 and the widths
 * match), with the usual CIFAR changes: the stem and the second stage keep stride 1, so 32x32 is
 * reduced to 4x4. Activations are ReLU (PyTorch's version uses ReLU6; the parameters are the same).
 *
 * @example
 * ```ts
 * summary(mobileNetV2({ classes: 10 }), [3, 32, 32]).totalParams; // 2,236,682
 * ```
 */
export function mobileNetV2(options: ZooOptions = {}): GraphModule {
  const classes = checkInt('classes', options.classes ?? 10, 1);
  const inC = checkInt('inChannels', options.inChannels ?? 3, 1);
  const generator = new Generator(checkInt('seed', options.seed ?? 0, 0));
  const g = new GraphBuilder();
  let h = convBn(g, g.input, 'stem', inC, 32, generator);
  let c = 32;
  STAGES.forEach(([t, out, n, s], stage) => {
    for (let b = 0; b < n; b++) {
      const stride = b === 0 ? s : 1;
      const name = `s${stage + 1}b${b}`;
      const hidden = c * t;
      const expanded = t === 1 ? h : convBn(g, h, `${name}_expand`, c, hidden, generator, { kernel: 1 });
      const dw = convBn(g, expanded, `${name}_dw`, hidden, hidden, generator, { stride, groups: hidden });
      const projected = convBn(g, dw, `${name}_project`, hidden, out, generator, { kernel: 1, act: null });
      h = stride === 1 && c === out ? g.add([h, projected], `${name}_add`) : projected;
      c = out;
    }
  });
  h = convBn(g, h, 'head', c, 1280, generator, { kernel: 1 });
  const pooled = g.node(new GlobalAvgPool2d(), h, 'pool');
  return g.build(g.node(new Linear(1280, classes, { generator }), pooled, 'fc'));
}
