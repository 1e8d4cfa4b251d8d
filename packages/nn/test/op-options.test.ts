// A misspelt option of a functional op or a layer fails, naming the call and the key, instead of
// being ignored (conv2d(x, w, null, { strides: 2 }) would otherwise run at stride 1, and
// new Conv2d(3, 16, 3, { paddin: 1 }) would build a layer without padding).

import { randn, tidy } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import {
  AvgPool2d,
  avgPool2d,
  BatchNorm2d,
  batchNorm2d,
  Conv2d,
  conv2d,
  Dropout,
  dropout,
  Linear,
  linear,
  MaxPool2d,
  maxPool2d,
} from '@dlf/nn';

describe('functional ops reject unknown options', () => {
  it('names the op and the unknown key', () => {
    tidy(() => {
      const x = randn([2, 3, 8, 8]);
      const w = randn([4, 3, 3, 3]);
      const cases: [() => unknown, RegExp][] = [
        [
          () => conv2d(x, w, null, { strides: 2 } as never),
          /conv2d options but received the option 'strides'/,
        ],
        [() => maxPool2d(x, { kernelSize: 2, strid: 2 } as never), /maxPool2d options .* the option 'strid'/],
        [() => avgPool2d(x, { kernelSize: 2, pad: 1 } as never), /avgPool2d options .* the option 'pad'/],
        [() => batchNorm2d(x, { Relu: true } as never), /batchNorm2d options .* the option 'Relu'/],
        [
          () => linear(randn([2, 3]), randn([4, 3]), null, { bias: true } as never),
          /linear options .* 'bias'/,
        ],
        [() => dropout(x, 0.5, { train: false } as never), /dropout options .* the option 'train'/],
      ];
      for (const [call] of cases) expect(call).toThrow(TypeError);
      for (const [call, message] of cases) expect(call).toThrow(message);
    });
  });

  it('still takes every documented option', () => {
    tidy(() => {
      const x = randn([2, 3, 8, 8]);
      const w = randn([3, 3, 3, 3]);
      const y = conv2d(x, w, null, {
        stride: 1,
        padding: 1,
        dilation: 1,
        groups: 1,
        relu: true,
        residual: x,
      });
      expect(y.shape).toEqual([2, 3, 8, 8]);
      expect(conv2d(x, w, null, { padding: 1, relu: true, maxPool2x2: true }).shape).toEqual([2, 3, 4, 4]);
      expect(maxPool2d(x, { kernelSize: 2, stride: 2, padding: 0 }).shape).toEqual([2, 3, 4, 4]);
      const bn = batchNorm2d(x, {
        weight: null,
        bias: null,
        runningMean: null,
        runningVar: null,
        training: true,
        momentum: 0.1,
        eps: 1e-5,
        relu: true,
        relu6: false,
        maxPool2x2: true,
      });
      expect(bn.shape).toEqual([2, 3, 4, 4]);
      expect(batchNorm2d(x, { residual: x, relu: true }).shape).toEqual([2, 3, 8, 8]);
      expect(dropout(x, 0.5, { training: false, generator: undefined }).shape).toEqual([2, 3, 8, 8]);
      expect(linear(randn([2, 3]), randn([4, 3]), null, { relu: true }).shape).toEqual([2, 4]);
    });
  });

  it('layers name the layer and the unknown key', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => new Conv2d(3, 16, 3, { paddin: 1 } as never), /Conv2d options but received the option 'paddin'/],
      [() => new Linear(4, 2, { bais: false } as never), /Linear options .* the option 'bais'/],
      [() => new BatchNorm2d(8, { momentun: 0.2 } as never), /BatchNorm2d options .* the option 'momentun'/],
      [() => new Dropout(0.5, { seed: 1 } as never), /Dropout options .* the option 'seed'/],
      [() => new MaxPool2d(2, { strides: 2 } as never), /MaxPool2d options .* the option 'strides'/],
      [() => new AvgPool2d(2, { pad: 1 } as never), /AvgPool2d options .* the option 'pad'/],
    ];
    for (const [call] of cases) expect(call).toThrow(TypeError);
    for (const [call, message] of cases) expect(call).toThrow(message);
    // and their documented options still pass
    expect(
      new Conv2d(3, 16, 3, { stride: 1, padding: 1, dilation: 1, groups: 1, bias: false }).padding,
    ).toEqual([1, 1]);
    expect(
      new BatchNorm2d(8, { eps: 1e-3, momentum: 0.2, affine: true, trackRunningStats: true }).momentum,
    ).toBe(0.2);
    expect(new MaxPool2d(3, { stride: 2, padding: 1 }).stride).toEqual([2, 2]);
  });
});
