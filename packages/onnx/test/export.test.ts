import { Generator, randn } from '@dlf/tensor-core';
import { seedCnn } from '@dlf/nn';
import { expectClose } from '@dlf/testing';
import { describe, expect, it } from 'vitest';
import { decodeModel, exportOnnx, irVersionFor, OnnxError } from '../src/index.js';
import {
  everyLayerModel,
  globalPoolModel,
  hasOnnxChecker,
  onnxCheck,
  runOrt,
  tempDir,
  writeTemp,
} from './helpers.js';

const dir = tempDir();

const MODELS = [
  { name: 'seed-cnn', make: () => seedCnn({ classes: 10, seed: 3 }), input: [3, 32, 32] },
  { name: 'every layer type', make: () => everyLayerModel(), input: [3, 16, 16] },
  { name: 'global pooling', make: () => globalPoolModel(), input: [3, 8, 8] },
] as const;

describe('exportOnnx', () => {
  for (const m of MODELS) {
    for (const opset of [13, 14, 15, 16, 17]) {
      it(`${m.name}, opset ${opset}: onnxruntime matches dlf within 1e-4`, async () => {
        const model = m.make();
        model.eval();
        const bytes = exportOnnx(model, { inputShape: m.input, opset, classes: undefined });
        const x = randn([2, ...m.input], 0, 1, { generator: new Generator(opset) });
        const want = model.forward(x);
        const got = await runOrt(bytes, x);
        expect(got.dims).toEqual(want.shape);
        expectClose(got.data, want, { atol: 1e-4, rtol: 0 });
        x.dispose();
        want.dispose();
      });
      it.skipIf(!hasOnnxChecker)(`${m.name}, opset ${opset}: passes onnx.checker (full_check)`, () => {
        const model = m.make();
        const path = writeTemp(
          dir,
          `${m.name.replace(/ /g, '-')}-${opset}.onnx`,
          exportOnnx(model, { inputShape: m.input, opset }),
        );
        expect(onnxCheck(path)).toBe('');
      });
    }
  }

  it('writes the IR version of the opset, the producer and the metadata', () => {
    const model = seedCnn({ classes: 2 });
    const bytes = exportOnnx(model, {
      inputShape: [3, 32, 32],
      opset: 15,
      classes: ['cat', 'dog'],
      preprocess: { size: [32, 32], channels: 3, fit: 'fill', scale: 1 / 255, mean: [0.5], std: [0.25] },
    });
    const proto = decodeModel(bytes);
    expect(proto.irVersion).toBe(irVersionFor(15));
    expect(proto.irVersion).toBe(8);
    expect(irVersionFor(13)).toBe(7);
    expect(proto.opsetImport).toEqual([{ domain: '', version: 15 }]);
    expect(proto.producerName).toBe('dlf');
    const meta = Object.fromEntries(proto.metadataProps.map((e) => [e.key, e.value]));
    expect(JSON.parse(meta['dlf.classes']!)).toEqual(['cat', 'dog']);
    expect(JSON.parse(meta['dlf.inputShape']!)).toEqual([3, 32, 32]);
    expect(JSON.parse(meta['dlf.preprocess']!).mean).toEqual([0.5]);
    expect(proto.graph.input[0]!.shape).toEqual(['batch', 3, 32, 32]);
    expect(proto.graph.output[0]!.shape).toEqual(['batch', 2]);
  });

  it('uses the ops the ONNX ecosystem expects', () => {
    const ops = (opset: number) =>
      new Set(
        decodeModel(exportOnnx(everyLayerModel(), { inputShape: [3, 16, 16], opset })).graph.node.map(
          (n) => n.opType,
        ),
      );
    const o13 = ops(13);
    for (const op of [
      'Conv',
      'BatchNormalization',
      'Erf',
      'Sigmoid',
      'HardSigmoid',
      'AveragePool',
      'Identity',
      'Gemm',
      'Flatten',
    ])
      expect(o13.has(op)).toBe(true);
    expect(o13.has('HardSwish')).toBe(false);
    expect(ops(14).has('HardSwish')).toBe(true);
    const g = decodeModel(exportOnnx(globalPoolModel(), { inputShape: [3, 8, 8] })).graph;
    expect(g.node.map((n) => n.opType)).toContain('GlobalAveragePool');
  });

  it('folds BatchNorm into the convolution on request, with the same outputs', async () => {
    const model = globalPoolModel();
    model.eval();
    const bytes = exportOnnx(model, { inputShape: [3, 8, 8], foldBatchNorm: true });
    const ops = decodeModel(bytes).graph.node.map((n) => n.opType);
    expect(ops).not.toContain('BatchNormalization');
    const x = randn([3, 3, 8, 8], 0, 1, { generator: new Generator(9) });
    const got = await runOrt(bytes, x);
    expectClose(got.data, model.forward(x), { atol: 1e-4, rtol: 0 });
  });

  it('weights are stored bit for bit', () => {
    const model = seedCnn({ seed: 5 });
    const proto = decodeModel(exportOnnx(model, { inputShape: [3, 32, 32] }));
    const init = proto.graph.initializer.find((t) => t.name === '0.weight')!;
    const raw = init.rawData!;
    const ours = model.stateDict().get('0.weight')!.toTypedArray() as Float32Array;
    expect(Buffer.from(raw)).toEqual(
      Buffer.from(new Uint8Array(ours.buffer, ours.byteOffset, ours.byteLength)),
    );
  });

  it('refuses what ONNX cannot express, naming the layer', () => {
    expect(() => exportOnnx(seedCnn(), { inputShape: [3, 32, 32], opset: 12 })).toThrow(
      /opset 12 is not supported/,
    );
    expect(() => exportOnnx(seedCnn(), { inputShape: [3, 30, 30] })).toThrow(OnnxError);
  });
});
