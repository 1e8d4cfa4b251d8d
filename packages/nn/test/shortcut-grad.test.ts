// A tensor read by a convolution and by a shortcut (a residual block's input) gets the sum of both
// gradients. The Winograd input gradient adds the shortcut's gradient as it writes its tiles (the
// engine hands it over instead of summing afterwards); either way the bits are those of the two
// contributions computed apart and added, whichever reaches the tensor first.

import { Generator, randn as randnDefault, type Tensor } from '@dlf/tensor-core';
import { sameBits } from '@dlf/testing';
import { describe, expect, it } from 'vitest';
import { add, conv2d, mul, relu, sum } from '@dlf/nn';

const randn = (shape: readonly number[], seed: number) =>
  randnDefault(shape, 0, 1, { generator: new Generator(seed) });
const arr = (t: Tensor) => t.toTypedArray() as Float32Array;
// [channels, plane]: 16 -> 16 on 12x12 takes Winograd; 6 -> 6 the direct kernels.
for (const [c, h] of [
  [16, 12],
  [6, 9],
] as const) {
  describe(`the gradient of a conv input also read by a shortcut (${c} channels, ${h}x${h})`, () => {
    const x0 = randn([8, c, h, h], 1);
    const w = randn([c, c, 3, 3], 2);
    const g = randn([8, c, h, h], 3);
    const grad = (f: (x: Tensor) => Tensor): Float32Array => {
      const x = x0.clone().requiresGrad_();
      sum(mul(f(x), g)).backward();
      return arr(x.grad!);
    };
    const conv = (x: Tensor) => conv2d(x, w, undefined, { padding: 1 });
    const viaConv = grad(conv);
    const viaShortcut = grad((x) => relu(x));
    const summed = viaConv.map((v, i) => v + viaShortcut[i]!);

    it('is the two contributions added, in either order of arrival', () => {
      // add(conv(x), relu(x)): the shortcut's gradient reaches x first (the conv's backward runs
      // after relu's), and the conv's input gradient adds it.
      expect(
        sameBits(
          grad((x) => add(conv(x), relu(x))),
          summed,
        ),
      ).toBe(true);
      // add(relu(x), conv(x)): the conv's gradient reaches x first and the engine adds the shortcut's.
      expect(
        sameBits(
          grad((x) => add(relu(x), conv(x))),
          summed,
        ),
      ).toBe(true);
    });

    it('leaves the shortcut gradient it added intact for nobody else to count twice', () => {
      // x feeds the conv and two shortcuts: three contributions, each counted once.
      const three = grad((x) => add(add(conv(x), relu(x)), relu(x)));
      const want = viaConv.map((v, i) => v + (viaShortcut[i]! + viaShortcut[i]!));
      const alt = viaConv.map((v, i) => v + viaShortcut[i]! + viaShortcut[i]!);
      expect(sameBits(three, want) || sameBits(three, alt)).toBe(true);
    });
  });
}
