import { readFileSync } from 'node:fs';
import { type Module, Sequential, seedCnn } from '@dlf/nn';
import { Generator, randn, tensor } from '@dlf/tensor-core';
import { expectClose } from '@dlf/testing';
import { describe, expect, it } from 'vitest';
import { exportOnnx, importOnnx } from '../src/index.js';
import { everyLayerModel, globalPoolModel } from './helpers.js';

const fixture = (name: string): URL => new URL(`../fixtures/${name}`, import.meta.url);

interface Golden {
  torch: string;
  input: { shape: number[]; data: number[] };
  output: { shape: number[]; data: number[] };
}

/** The first byte where two arrays' bits differ (-1: identical, NaNs included). */
function firstDifference(a: ArrayBufferView, b: ArrayBufferView): number {
  const x = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const y = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return Math.min(x.length, y.length);
  return x.equals(y) ? -1 : x.findIndex((v, i) => v !== y[i]);
}

function layerTypes(model: Module): string[] {
  return (model as Sequential).layers.map((l) => l.constructor.name);
}

describe('importOnnx: models exported by torch.onnx.export (PyTorch 1.13)', () => {
  for (const name of ['seed-cnn', 'depthwise', 'depthwise-opset14', 'reshape-softmax', 'relu6']) {
    it(`${name} reproduces PyTorch's outputs within 1e-4`, async () => {
      const golden = JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) as Golden;
      const imported = await importOnnx(fixture(`${name}.onnx`).pathname);
      const { model } = imported;
      expect(model).toBeInstanceOf(Sequential);
      model.eval();
      const x = tensor(Float32Array.from(golden.input.data), { shape: golden.input.shape });
      const y = model.forward(x);
      const want =
        name === 'reshape-softmax'
          ? golden.output // the final Softmax is dropped: compare probabilities
          : golden.output;
      const got = name === 'reshape-softmax' ? y.softmax(-1) : y;
      expect(got.shape).toEqual(want.shape);
      expectClose(got, want.data, { atol: 1e-4, rtol: 0 });
      expect(imported.inputShape).toEqual(golden.input.shape.slice(1));
      expect(imported.classes).toEqual(Array.from({ length: want.shape[1]! }, (_, i) => String(i)));
      if (name === 'reshape-softmax') expect(imported.notes.join(' ')).toMatch(/dropped the final Softmax/);
    });
  }

  it('recognises the multi-node activations and folds BatchNorm statistics and constants', async () => {
    const { model } = await importOnnx(fixture('depthwise.onnx').pathname);
    expect(layerTypes(model)).toEqual([
      'Conv2d',
      'ReLU',
      'Conv2d',
      'Hardswish',
      'Conv2d',
      'SiLU',
      'Conv2d',
      'GELU',
      'AvgPool2d',
      'BatchNorm2d',
      'LeakyReLU',
      'GlobalAvgPool2d',
      'Linear',
    ]);
    const { model: m14 } = await importOnnx(fixture('depthwise-opset14.onnx').pathname);
    expect(layerTypes(m14)[3]).toBe('Hardswish');
    const depthwise = (model as Sequential).layers[2] as unknown as { groups: number; inChannels: number };
    expect(depthwise.groups).toBe(8);
    expect(depthwise.inChannels).toBe(8);
  });

  it('imports Clip to [0, 6] as ReLU6, and refuses other bounds by name', async () => {
    const { model } = await importOnnx(fixture('relu6.onnx').pathname);
    expect(layerTypes(model).filter((t) => t === 'ReLU6')).toHaveLength(2);
  });

  it('imports a trainable model (parameters require grad, training mode)', async () => {
    const { model } = await importOnnx(fixture('seed-cnn.onnx').pathname);
    expect(model.training).toBe(true);
    expect(model.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect(model.parameters().reduce((s, p) => s + p.size, 0)).toBe(224 + 584 + 1168 + 32_896 + 1290);
  });
});

describe('export then import', () => {
  const cases = [
    { name: 'seed-cnn', make: () => seedCnn({ seed: 4 }), input: [3, 32, 32] as [number, number, number] },
    {
      name: 'every layer type',
      make: () => everyLayerModel(7),
      input: [3, 16, 16] as [number, number, number],
    },
    { name: 'global pooling', make: () => globalPoolModel(8), input: [3, 8, 8] as [number, number, number] },
  ];
  for (const c of cases) {
    for (const opset of [13, 17]) {
      it(`${c.name}, opset ${opset}: weights and outputs round-trip bit for bit`, async () => {
        const model = c.make();
        model.eval();
        const classes = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].slice(
          0,
          model.describe(c.input).outputShape[0],
        );
        const bytes = exportOnnx(model, { inputShape: c.input, opset, classes });
        const back = await importOnnx(bytes);
        expect(back.classes).toEqual(classes);
        expect(back.inputShape).toEqual(c.input);
        // Dropout is exported as Identity; adaptive pooling to 2×2 as the AveragePool it equals here;
        // global pooling then Flatten comes back as one GlobalAvgPool2d.
        const types = layerTypes(model)
          .filter((t) => t !== 'Dropout')
          .join(' ')
          .replace('AdaptiveAvgPool2d Flatten', 'GlobalAvgPool2d')
          .replace('AdaptiveAvgPool2d', 'AvgPool2d')
          .split(' ');
        expect(layerTypes(back.model)).toEqual(types);
        const ours = [...model.stateDict().values()];
        const theirs = [...back.model.stateDict().values()];
        expect(theirs.length).toBe(ours.length);
        ours.forEach((t, i) => {
          expect(theirs[i]!.shape).toEqual(t.shape);
          expect(firstDifference(theirs[i]!.toTypedArray(), t.toTypedArray())).toBe(-1);
        });
        back.model.eval();
        const x = randn([2, ...c.input], 0, 1, { generator: new Generator(opset) });
        const a = model.forward(x).toTypedArray();
        const b = back.model.forward(x).toTypedArray();
        expect(firstDifference(b, a)).toBe(-1);
      });
    }
  }

  it('a re-export of an imported model is the same file', async () => {
    const bytes = exportOnnx(seedCnn({ seed: 2 }), {
      inputShape: [3, 32, 32],
      classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    });
    const { model, classes } = await importOnnx(bytes);
    const again = exportOnnx(model, { inputShape: [3, 32, 32], classes });
    expect(firstDifference(again, bytes)).toBe(-1);
  });
});
