import { buildPreset, GraphModule, graphFromJSON, modelPresets, summary } from '@dlf/nn';
import { loadGolden } from '@dlf/testing';
import { randn } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

interface ZooGolden {
  models: Record<
    string,
    {
      input: number[];
      classes: number;
      params: number;
      paramShapes: number[][];
      bufferValues: number;
      outputShape: number[];
    }
  >;
}

const golden = loadGolden<ZooGolden>(import.meta.url, 'zoo.json');
/** Shapes as sorted strings: a multiset comparison independent of parameter order. */
const shapeSet = (shapes: readonly (readonly number[])[]): string[] =>
  shapes.map((s) => JSON.stringify(s)).sort();

describe('the model zoo matches its PyTorch goldens', () => {
  it('has a golden for every preset', () => {
    expect([...modelPresets.keys()].sort()).toEqual(Object.keys(golden.models).sort());
  });
  for (const [name, g] of Object.entries(golden.models)) {
    it(`${name}: parameter count, parameter shapes, buffers and output shape`, () => {
      const model = buildPreset(name, { classes: g.classes, inputSize: g.input[1]! });
      const s = summary(model, g.input);
      expect(s.totalParams).toBe(g.params);
      expect(s.outputShape).toEqual(g.outputShape);
      expect(shapeSet(model.parameters().map((p) => p.shape))).toEqual(shapeSet(g.paramShapes));
      const buffers = model.namedBuffers().reduce((a, [, b]) => a + b.size, 0);
      expect(buffers).toBe(g.bufferValues);
      if (model instanceof GraphModule) {
        // A preset is a plain description: it rebuilds from its JSON with the same state shapes.
        const copy = graphFromJSON(model.toJSON());
        expect(copy.toJSON()).toEqual(model.toJSON());
        copy.dispose();
      }
      model.dispose();
    });
  }

  it('small presets run forward to one score per class', () => {
    for (const name of ['resnet8', 'fast-cifar', 'seed-cnn']) {
      const model = buildPreset(name, { classes: 7 });
      expect(model.forward(randn([2, 3, 32, 32])).shape, name).toEqual([2, 7]);
      model.dispose();
    }
  });

  it('refuses input sizes a preset cannot take, and unknown names', () => {
    expect(() => buildPreset('vgg11-bn', { inputSize: 64 })).toThrow(
      /vgg11-bn needs a square input with a side of 32/,
    );
    expect(() => buildPreset('resnet20', { inputSize: 30 })).toThrow(/divisible by 4/);
    expect(() => buildPreset('resnet1000')).toThrow(/Unknown model preset 'resnet1000'/);
  });
});
