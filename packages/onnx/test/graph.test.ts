import { readFileSync } from 'node:fs';
import { buildPreset, GraphModule, modelPresets, noGrad, type Module, Sequential } from '@dlf/nn';
import { Generator, rand, randn, tensor } from '@dlf/tensor-core';
import { expectClose } from '@dlf/testing';
import { describe, expect, it } from 'vitest';
import { decodeModel, exportOnnx, importOnnx } from '../src/index.js';
import { hasOnnxChecker, onnxCheck, runOrt, tempDir, writeTemp } from './helpers.js';

const dir = tempDir();

/** Trained-looking batch-norm statistics, so the exported BatchNormalization nodes matter. */
function randomizeStatistics(model: Module, seed: number): void {
  const generator = new Generator(seed);
  noGrad(() => {
    for (const [name, t] of model.stateDict()) {
      const stat = /\.running(Mean|Var)$/.exec(name);
      if (!stat) continue;
      const r =
        stat[1] === 'Var'
          ? rand([...t.shape], 0.5, 2, { generator })
          : rand([...t.shape], -0.3, 0.3, { generator });
      t.write(r.toTypedArray());
      r.dispose();
    }
  });
}

function preset(name: string, seed: number): { model: Module; input: [number, number, number] } {
  const side = modelPresets.get(name)!.input.side ?? 32;
  const model = buildPreset(name, { classes: 10, inputSize: side, seed });
  randomizeStatistics(model, seed + 1);
  model.eval();
  return { model, input: [3, side, side] };
}

function firstDifference(a: ArrayBufferView, b: ArrayBufferView): number {
  const x = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const y = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return Math.min(x.length, y.length);
  return x.equals(y) ? -1 : x.findIndex((v, i) => v !== y[i]);
}

describe('graph models', () => {
  for (const name of modelPresets.keys()) {
    it(`zoo preset ${name}: onnxruntime matches dlf within 1e-4, and the onnx checker passes`, async () => {
      const { model, input } = preset(name, 3);
      const bytes = exportOnnx(model, { inputShape: input, opset: 13 });
      const x = randn([2, ...input], 0, 1, { generator: new Generator(1) });
      const want = model.forward(x);
      const got = await runOrt(bytes, x);
      expect(got.dims).toEqual(want.shape);
      expectClose(got.data, want, { atol: 1e-4, rtol: 0 });
      if (hasOnnxChecker) expect(onnxCheck(writeTemp(dir, `${name}.onnx`, bytes))).toBe('');
      model.dispose();
    });
  }

  it("zoo preset fast-cifar: import refuses its whitening stem's one-sided padding, naming the node", async () => {
    const { model, input } = preset('fast-cifar', 5);
    await expect(importOnnx(exportOnnx(model, { inputShape: input, opset: 17 }))).rejects.toThrow(
      /node 'whiten\/Conv' \(Conv\) has pads \[0, 0, 1, 1\]; dlf pads both sides alike/,
    );
    model.dispose();
  });

  for (const name of ['resnet8', 'mobilenetv2']) {
    it(`zoo preset ${name}: export then import round-trips weights and outputs bit for bit`, async () => {
      const { model, input } = preset(name, 5);
      const back = await importOnnx(exportOnnx(model, { inputShape: input, opset: 17 }));
      // A graph without joins comes back as the Sequential it is.
      const nodes = (model as GraphModule).toJSON().nodes;
      const joins = nodes.some((n) => n.inputs.length > 1);
      expect(back.model).toBeInstanceOf(joins ? GraphModule : Sequential);
      const ops =
        back.model instanceof GraphModule
          ? back.model.toJSON().nodes.map((n) => `${n.op}(${n.inputs.length})`)
          : (back.model as Sequential).toJSON().layers.map((l) => `${l.type}(1)`);
      expect(ops).toEqual(nodes.map((n) => `${n.op}(${n.inputs.length})`));
      const ours = [...model.stateDict().values()];
      const theirs = [...back.model.stateDict().values()];
      expect(theirs.map((t) => t.shape)).toEqual(ours.map((t) => t.shape));
      ours.forEach((t, i) => expect(firstDifference(theirs[i]!.toTypedArray(), t.toTypedArray())).toBe(-1));
      back.model.eval();
      const x = randn([2, ...input], 0, 1, { generator: new Generator(2) });
      expect(firstDifference(back.model.forward(x).toTypedArray(), model.forward(x).toTypedArray())).toBe(-1);
      model.dispose();
      back.model.dispose();
    });
  }

  it('BatchNorm folding works inside residual blocks too', async () => {
    const { model, input } = preset('resnet8', 7);
    const bytes = exportOnnx(model, { inputShape: input, foldBatchNorm: true });
    expect(decodeModel(bytes).graph.node.map((n) => n.opType)).not.toContain('BatchNormalization');
    const x = randn([2, ...input], 0, 1, { generator: new Generator(3) });
    const got = await runOrt(bytes, x);
    expectClose(got.data, model.forward(x), { atol: 1e-4, rtol: 0 });
  });

  it("PyTorch's ResNet-20 imports as a graph model and reproduces its outputs within 1e-4", async () => {
    const golden = JSON.parse(
      readFileSync(new URL('../fixtures/resnet20.json', import.meta.url), 'utf8'),
    ) as {
      input: { shape: number[]; data: number[] };
      output: { shape: number[]; data: number[] };
    };
    const { model } = await importOnnx(new URL('../fixtures/resnet20.onnx', import.meta.url).pathname);
    expect(model).toBeInstanceOf(GraphModule);
    const ops = (model as GraphModule).toJSON().nodes.map((n) => n.op);
    expect(ops.filter((o) => o === 'Add')).toHaveLength(9);
    expect(ops.filter((o) => o === 'Conv2d')).toHaveLength(19 + 2);
    model.eval();
    const y = model.forward(tensor(Float32Array.from(golden.input.data), { shape: golden.input.shape }));
    expectClose(y, golden.output.data, { atol: 1e-4, rtol: 0 });
    expect(model.parameters().every((p) => p.requiresGrad)).toBe(true);
  });
});
