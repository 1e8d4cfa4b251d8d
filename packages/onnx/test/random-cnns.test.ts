// Sixteen CNNs drawn at random by scripts/make_random_cnns.py (kernels 1 to 7, strides, padding,
// dilation, groups and depthwise layers, odd channel counts and planes, batch norm, residual blocks,
// five activations, max and average pools, both heads), exported by PyTorch: imported, each must
// give PyTorch's outputs in evaluation and in training mode, and PyTorch's gradient of the input
// (through every layer's backward). Models nobody tuned dlf for, judged against another framework.

import { readFileSync } from 'node:fs';
import { mul, noGrad, sum } from '@dlf/nn';
import { type Tensor, tensor } from '@dlf/tensor-core';
import { expectClose } from '@dlf/testing';
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../src/index.js';

const fixture = (name: string): URL => new URL(`../fixtures/${name}`, import.meta.url);

interface Case {
  name: string;
  model: string;
  shape: number[];
  outShape: number[];
  input: string;
  eval: string;
  train: string;
  grad: string;
  inputGrad: string;
}

const floats = (b64: string): Float32Array => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

// Errors are judged against the largest value of the compared tensor: long sums round with the
// whole result, and a training-mode gradient may be small everywhere.
function expectNear(got: Tensor, want: Float32Array, tol: number, what: string): void {
  expect(
    got.shape.reduce((a, b) => a * b, 1),
    what,
  ).toBe(want.length);
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expectClose(got.toTypedArray() as Float32Array, want, { atol: tol * scale, rtol: 0, name: what });
}

const { cases } = JSON.parse(readFileSync(fixture('random-cnns.json'), 'utf8')) as { cases: Case[] };

describe('random CNNs exported by PyTorch', () => {
  it('are sixteen, with the layers they were drawn to cover', () => {
    expect(cases).toHaveLength(16);
    const all = cases.map((c) => c.model).join('\n');
    for (const layer of [
      'groups=',
      'dilation=(2, 2)',
      'stride=(2, 2)',
      'kernel_size=(5, 5)',
      'kernel_size=(7, 7)',
    ])
      expect(all, layer).toContain(layer);
    for (const layer of [
      'Residual',
      'BatchNorm2d',
      'MaxPool2d',
      'AvgPool2d',
      'ReLU6',
      'LeakyReLU',
      'SiLU',
      'Hardswish',
    ])
      expect(all, layer).toContain(layer);
  });

  for (const c of cases) {
    it(`${c.name} gives PyTorch's outputs and input gradient`, async () => {
      const { model } = await importOnnx(fixture(`${c.name}.onnx`).pathname);
      const x = tensor(floats(c.input), { shape: c.shape });
      model.eval();
      expectNear(
        noGrad(() => model.forward(x)),
        floats(c.eval),
        1e-4,
        `${c.name} evaluation output`,
      );
      model.train();
      const xg = tensor(floats(c.input), { shape: c.shape }).requiresGrad_();
      const y = model.forward(xg);
      expectNear(y, floats(c.train), 1e-4, `${c.name} training output`);
      sum(mul(y, tensor(floats(c.grad), { shape: c.outShape }))).backward();
      expectNear(xg.grad!, floats(c.inputGrad), 5e-4, `${c.name} input gradient`);
    });
  }
});
