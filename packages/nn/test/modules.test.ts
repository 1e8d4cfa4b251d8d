import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchNorm2d,
  Conv2d,
  conv2d,
  Dropout,
  Flatten,
  formatSummary,
  Linear,
  linear,
  loadModel,
  loadStateDictFile,
  matmul,
  MaxPool2d,
  Module,
  noGrad,
  ReLU,
  Sequential,
  saveModel,
  saveStateDict,
  seedCnn,
  sequentialFromJSON,
  summary,
} from '@dlf/nn';
import { Generator, randn, type Tensor, tensor, zeros } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'dlf-nn-'));

function sameBits(a: Tensor, b: Tensor): boolean {
  const x = a.toTypedArray();
  const y = b.toTypedArray();
  return (
    Buffer.compare(
      Buffer.from(x.buffer, x.byteOffset, x.byteLength),
      Buffer.from(y.buffer, y.byteOffset, y.byteLength),
    ) === 0
  );
}

describe('modules', () => {
  it('seed-cnn matches DESIGN.md: 134,466 parameters and 1,238,272 MACs for 10 classes', () => {
    const model = seedCnn({ classes: 10 });
    const s = summary(model, [3, 32, 32]);
    expect(s.totalParams).toBe(134_466);
    expect(s.totalMacs).toBe(1_238_272);
    expect(s.totalFlops).toBe(2 * 1_238_272);
    expect(s.rows.map((r) => r.outputShape)).toContainEqual([16, 8, 8]);
    expect(formatSummary(s)).toContain('134,466');
    expect(model.forward(randn([2, 3, 32, 32])).shape).toEqual([2, 10]);
    const grey = summary(seedCnn({ classes: 10, inChannels: 1, inputSize: 28 }), [1, 28, 28]);
    expect(grey.outputShape).toEqual([10]);
  });

  it('same seed gives the same initial weights', () => {
    const a = seedCnn({ seed: 5 });
    const b = seedCnn({ seed: 5 });
    const c = seedCnn({ seed: 6 });
    const pa = a.parameters();
    const pb = b.parameters();
    expect(pa.every((p, i) => sameBits(p, pb[i]!))).toBe(true);
    expect(sameBits(pa[0]!, c.parameters()[0]!)).toBe(false);
  });

  it('initialises like PyTorch: weights within ±1/sqrt(fanIn)', () => {
    const conv = new Conv2d(8, 16, 3, { generator: new Generator(1) });
    const bound = 1 / Math.sqrt(8 * 9);
    const w = conv.weight.toTypedArray() as Float32Array;
    expect(Math.max(...w)).toBeLessThanOrEqual(bound);
    expect(Math.min(...w)).toBeGreaterThanOrEqual(-bound);
    expect(Math.max(...w)).toBeGreaterThan(bound * 0.9);
  });

  it('names parameters like PyTorch and switches train/eval recursively', () => {
    const model = new Sequential(
      new Conv2d(1, 2, 3),
      new ReLU(),
      new BatchNorm2d(2),
      new Flatten(),
      new Linear(8, 3),
    );
    expect(model.namedParameters().map(([n]) => n)).toEqual([
      '0.weight',
      '0.bias',
      '2.weight',
      '2.bias',
      '4.weight',
      '4.bias',
    ]);
    expect([...model.stateDict().keys()]).toContain('2.runningMean');
    model.eval();
    expect(model.modules().every((m) => !m.training)).toBe(true);
    model.train();
    expect(model.layers[2]!.training).toBe(true);
  });

  it('a state dict round-trip through safetensors reproduces outputs bit for bit', async () => {
    const model = new Sequential(
      new Conv2d(3, 4, 3, { padding: 1 }),
      new ReLU(),
      new BatchNorm2d(4),
      new MaxPool2d(2),
      new Flatten(),
      new Linear(64, 5),
    );
    model.forward(randn([4, 3, 8, 8])); // moves the running statistics
    model.eval();
    const x = randn([2, 3, 8, 8]);
    const before = noGrad(() => model.forward(x));
    const file = join(dir, 'state.safetensors');
    await saveStateDict(model, file);
    const fresh = sequentialFromJSON(model.toJSON(), { generator: new Generator(99) });
    fresh.eval();
    expect(
      sameBits(
        noGrad(() => fresh.forward(x)),
        before,
      ),
    ).toBe(false);
    await loadStateDictFile(fresh, file);
    expect(
      sameBits(
        noGrad(() => fresh.forward(x)),
        before,
      ),
    ).toBe(true);
  });

  it('saveModel/loadModel restore architecture, weights and metadata', async () => {
    const model = seedCnn({ classes: 3, seed: 2 });
    const file = join(dir, 'model.safetensors');
    await saveModel(file, model, { classes: JSON.stringify(['a', 'b', 'c']) });
    const { model: loaded, metadata } = await loadModel(file);
    expect(JSON.parse(metadata['classes']!)).toEqual(['a', 'b', 'c']);
    const x = randn([1, 3, 32, 32]);
    expect(sameBits(loaded.forward(x), model.forward(x))).toBe(true);
    expect(loaded.toJSON()).toEqual(model.toJSON());
  });

  it('rejects hostile or mismatched model files with a clear error naming the file', async () => {
    const file = join(dir, 'bad.safetensors');
    writeFileSync(file, Buffer.from('not a model at all'));
    await expect(loadModel(file)).rejects.toThrow(/bad\.safetensors/);
    const plain = join(dir, 'plain.safetensors');
    await saveStateDict(new Linear(2, 2), plain);
    await expect(loadModel(plain)).rejects.toThrow(/plain\.safetensors.*architecture/);
    expect(() => new Linear(2, 3).loadStateDict(new Linear(3, 3).stateDict())).toThrow(/\[3, 2\].*\[3, 3\]/);
    expect(() => new Linear(2, 3).loadStateDict(new Map([['weight', zeros([3, 2])]]))).toThrow(
      /missing bias/,
    );
  });

  it('the JSON description round-trips', () => {
    const model = new Sequential(
      new Conv2d(3, 6, [3, 2], { stride: 2, padding: [1, 0], dilation: 1, groups: 3, bias: false }),
      new Dropout(0.25),
      new Flatten(),
      new ReLU(),
    );
    const json = JSON.parse(JSON.stringify(model.toJSON()));
    expect(sequentialFromJSON(json).toJSON()).toEqual(json);
    expect(() =>
      sequentialFromJSON({ format: 'dlf.sequential', version: 1, layers: [{ type: 'Nope' }] }),
    ).toThrow(/known layer type/);
  });

  it('custom modules register parameters and children', () => {
    class Two extends Module {
      a = this.registerModule('a', new Linear(4, 3));
      b = this.registerModule('b', new Linear(3, 2));
      forward(x: Tensor): Tensor {
        return this.b.forward(this.a.forward(x));
      }
    }
    const m = new Two();
    expect(m.parameters().length).toBe(4);
    expect(summary(m, [4]).totalParams).toBe(4 * 3 + 3 + 3 * 2 + 2);
  });
});

describe('shape errors name both shapes and never crash', () => {
  it('matmul', () => {
    expect(() => matmul(zeros([2, 3]), zeros([4, 5]))).toThrow(/\[2, 3\].*\[4, 5\]/);
  });
  it('linear', () => {
    expect(() => linear(zeros([2, 3]), zeros([4, 5]))).toThrow(/\[2, 3\].*\[4, 5\]/);
  });
  it('conv2d', () => {
    expect(() => conv2d(zeros([1, 3, 8, 8]), zeros([4, 2, 3, 3]))).toThrow(RangeError);
    expect(() => conv2d(zeros([1, 3, 8, 8]), zeros([4, 2, 3, 3]))).toThrow(/\[1, 3, 8, 8\].*\[4, 2, 3, 3\]/);
    expect(() => conv2d(zeros([1, 3, 2, 2]), zeros([4, 3, 3, 3]))).toThrow(/\[1, 3, 2, 2\].*\[4, 3, 3, 3\]/);
    expect(() => conv2d(zeros([1, 3, 8, 8]), zeros([4, 3, 3, 3]), null, { stride: 0 })).toThrow(/stride/);
    expect(() => conv2d(tensor([1]) as Tensor, zeros([4, 3, 3, 3]))).toThrow(/input/);
  });
  it('layers check their input', () => {
    expect(() => new Linear(0, 2)).toThrow(/inFeatures/);
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow(/groups/);
    expect(() => new MaxPool2d(2, { padding: 2 })).not.toThrow();
    expect(() => new MaxPool2d(2, { padding: 2 }).forward(zeros([1, 1, 4, 4]))).toThrow(/padding/);
  });
});

describe('parameters', () => {
  it('creating a parameter leaves no stray tensor behind', async () => {
    const { memory: mem, zeros: z } = await import('@dlf/tensor-core');
    const { Parameter: P } = await import('@dlf/nn');
    const data = z([3, 4]);
    const before = mem().numTensors;
    const p = new P(data);
    expect(mem().numTensors).toBe(before + 1);
    data.dispose();
    expect(p.toArray()).toEqual(z([3, 4]).toArray());
  });
});
