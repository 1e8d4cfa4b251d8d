import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  FileError,
  Flatten,
  GELU,
  gelu,
  Hardswish,
  hardswish,
  impliedStateShapes,
  LeakyReLU,
  Linear,
  layerRegistry,
  loadModel,
  MaxPool2d,
  Module,
  mul,
  Parameter,
  ReLU,
  ReLU6,
  registerLayer,
  relu6,
  Sequential,
  SiLU,
  Sigmoid,
  Scale,
  saveModel,
  silu,
  sequentialFromJSON,
  specNumber,
  stateSize,
  Tanh,
} from '@dlf/nn';
import { ones, randn, saveSafetensors, type Tensor } from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'dlf-registry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A layer from outside the package: y = x * scale, one weight per feature. */
class FeatureScale extends Module {
  readonly weight: Parameter;
  constructor(readonly features: number) {
    super();
    const w = ones([features]);
    this.weight = this.registerParameter('weight', new Parameter(w));
    w.dispose();
  }
  forward(x: Tensor): Tensor {
    return mul(x, this.weight);
  }
  toSpec() {
    return { type: 'FeatureScale', features: this.features };
  }
}
registerLayer({
  type: 'FeatureScale',
  fromJSON: (l) => new FeatureScale(specNumber(l, 'features')),
  stateShapes: (l) => ({ weight: [stateSize(l, 'features')] }),
});

describe('the layer registry', () => {
  it('holds every built-in layer, and each rebuilds from its own description', () => {
    const model = new Sequential(
      new Conv2d(3, 4, 3, { padding: 1 }),
      new BatchNorm2d(4),
      new ReLU(),
      new ReLU6(),
      new LeakyReLU(0.2),
      new Sigmoid(),
      new Tanh(),
      new GELU(),
      new SiLU(),
      new Hardswish(),
      new MaxPool2d(2),
      new AvgPool2d(2, { stride: 1 }),
      new AdaptiveAvgPool2d(1),
      new Flatten(),
      new Dropout(0.1),
      new Linear(4, 2),
      new Scale(0.5),
    );
    const spec = model.toJSON();
    for (const l of spec.layers) expect(layerRegistry.has(l.type), l.type).toBe(true);
    const copy = sequentialFromJSON(spec);
    expect(copy.toJSON()).toEqual(spec);
    // The shapes the registry implies are those the built model has.
    const shapes = impliedStateShapes(spec);
    const state = copy.stateDict();
    expect([...shapes.keys()].sort()).toEqual([...state.keys()].sort());
    for (const [name, shape] of shapes) expect(state.get(name)!.shape, name).toEqual(shape);
    model.dispose();
    copy.dispose();
  });

  it('the GELU, SiLU, Hardswish and ReLU6 layers apply their functional ops', () => {
    const x = randn([2, 3, 4], 0, 4);
    for (const [layer, fn] of [
      [new ReLU6(), relu6],
      [new GELU(), gelu],
      [new SiLU(), silu],
      [new Hardswish(), hardswish],
    ] as const) {
      expect(layer.forward(x).toArray()).toEqual(fn(x).toArray());
      expect(layer.describe([3, 4])).toEqual({ outputShape: [3, 4], macs: 0 });
    }
  });

  it('a registered layer type is built from JSON and read back from a model file', async () => {
    const model = new Sequential(new Linear(3, 2), new FeatureScale(2));
    const x = randn([4, 3]);
    const file = join(dir, 'scale.safetensors');
    await saveModel(file, model);
    const { model: loaded } = await loadModel(file);
    expect(loaded.layers[1]).toBeInstanceOf(FeatureScale);
    expect(loaded.forward(x).toArray()).toEqual(model.forward(x).toArray());
    expect(impliedStateShapes(model.toJSON()).get('1.weight')).toEqual([2]);
    loaded.dispose();
    model.dispose();
  });

  it("a registered type's state shapes are checked before the model is built", async () => {
    const spec = { format: 'dlf.sequential', version: 1, layers: [{ type: 'FeatureScale', features: 0 }] };
    expect(() => impliedStateShapes(spec)).toThrow(
      'the architecture is invalid: layer 0 (FeatureScale) has features = 0',
    );
    // Weights for 3 features under a description that claims 4.
    const model = new Sequential(new FeatureScale(3));
    const file = join(dir, 'mismatch.safetensors');
    const claim = { format: 'dlf.sequential', version: 1, layers: [{ type: 'FeatureScale', features: 4 }] };
    await saveSafetensors(file, model.stateDict(), { 'dlf.architecture': JSON.stringify(claim) });
    const err = await loadModel(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileError);
    expect((err as Error).message).toMatch(/'0\.weight' of shape \[3\].*needs \[4\]/);
    model.dispose();
  });

  it('refuses a second registration of a type and unknown types in descriptions', () => {
    expect(() => registerLayer({ type: 'ReLU', fromJSON: () => new ReLU() })).toThrow(/ReLU/);
    expect(() =>
      sequentialFromJSON({ format: 'dlf.sequential', version: 1, layers: [{ type: 'NoSuchLayer' }] }),
    ).toThrow(/a known layer type/);
  });
});
