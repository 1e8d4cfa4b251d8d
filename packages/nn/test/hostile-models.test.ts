/**
 * Issue 16, case 5: hostile model files are refused from their description, before anything large
 * is allocated or run, with a message naming the file; files that are not models say what they are.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nn as native } from '@dlf/native/nn';
import { checkParamBudget, FileError, impliedStateShapes, loadModel, readModelFile } from '@dlf/nn';
import { saveSafetensors, tensor, zeros } from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'dlf-hostile-models-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MEMORY_BUDGET = 512 * 1024 * 1024;

let n = 0;
/** Writes a model file whose tensors follow the architecture (all zeros), with the given input shape. */
async function modelFile(layers: unknown[], inputShape: number[], weightsOf = layers): Promise<string> {
  const path = join(dir, `m${n++}.safetensors`);
  const shapes = impliedStateShapes({ format: 'dlf.sequential', version: 1, layers: weightsOf });
  const tensors = new Map([...shapes].map(([k, s]) => [k, zeros(s)]));
  await saveSafetensors(path, tensors, {
    'dlf.architecture': JSON.stringify({ format: 'dlf.sequential', version: 1, layers }),
    'dlf.inputShape': JSON.stringify(inputShape),
  });
  for (const t of tensors.values()) t.dispose();
  return path;
}

/** The FileError a read throws, checked to come within a time and memory budget. */
async function refused(p: Promise<unknown>): Promise<FileError> {
  const peak = process.resourceUsage().maxRSS * 1024;
  const t = performance.now();
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect((performance.now() - t) / 1000).toBeLessThan(3);
  expect(process.resourceUsage().maxRSS * 1024 - peak).toBeLessThan(MEMORY_BUDGET);
  expect(e).toBeInstanceOf(FileError);
  return e as FileError;
}

describe('hostile architectures', () => {
  it('AdaptiveAvgPool2d(8192) in a tiny file: refused from the activation budget', async () => {
    const path = await modelFile(
      [
        { type: 'Conv2d', inChannels: 3, outChannels: 8, kernelSize: 3 },
        { type: 'AdaptiveAvgPool2d', outputSize: 8192 },
        { type: 'Flatten' },
      ],
      [3, 32, 32],
    );
    const e = await refused(readModelFile(path));
    expect(e.path).toBe(path);
    expect(e.message).toMatch(
      new RegExp(
        `^The model file ${path} describes a model whose activations take 4\\.0 GiB per example \\(layer 1: AdaptiveAvgPool2d alone outputs \\[8, 8192, 8192\\]\\)`,
      ),
    );
    // The budget can be raised: then the next check (its 536,870,912 outputs) refuses it.
    const raised = await refused(readModelFile(path, { maxActivationBytes: 2 ** 33 }));
    expect(raised.message).toMatch(/with 536870912 outputs, more than the 1000000 classes/);
  });

  it('padding 20000: refused from the activation budget, naming the file', async () => {
    const path = await modelFile(
      [{ type: 'Conv2d', inChannels: 1, outChannels: 4, kernelSize: 3, padding: 20000 }, { type: 'Flatten' }],
      [1, 28, 28],
    );
    const e = await refused(readModelFile(path));
    expect(e.message).toMatch(new RegExp(`^The model file ${path} describes a model whose activations take`));
  });

  it('padded convolutions past the multiply-accumulate budget are refused before running', async () => {
    const conv = { type: 'Conv2d', inChannels: 16, outChannels: 16, kernelSize: 3, padding: 1 };
    const path = await modelFile(
      [
        { type: 'Conv2d', inChannels: 3, outChannels: 16, kernelSize: 3, padding: 1 },
        ...Array(39).fill(conv),
        { type: 'Flatten' },
      ],
      [3, 64, 64],
    );
    const e = await refused(readModelFile(path, { maxMacs: 1e8 }));
    expect(e.message).toBe(
      `The model file ${path} describes a model that needs 369.8 M multiply-accumulates per example, more than the 100.0 M budget; raise maxMacs if the model is meant to be that large.`,
    );
    const { model } = await readModelFile(path); // the default budget (200 G) lets it through
    model.dispose();
  });

  it('a kernel larger than its input: the geometry error names the file, no negative shape', async () => {
    const path = await modelFile(
      [{ type: 'Conv2d', inChannels: 1, outChannels: 2, kernelSize: 9 }, { type: 'Flatten' }],
      [1, 4, 4],
    );
    const e = await refused(readModelFile(path));
    expect(e.message).toMatch(new RegExp(`^The model file ${path} says its input is 1×4×4`));
    expect(e.message).toMatch(
      /layer 0 \(Conv2d\) turns \[1, 4, 4\] into \[2, -4, -4\], which is not a valid shape/,
    );
  });

  it('the native convolution re-checks a kernel larger than its strided input (no out-of-bounds reads)', () => {
    // (2 + 0 - 3) / 2 truncates to 0 in C++: the output size once came out 1 instead of 0.
    const x = zeros([1, 1, 2, 2]);
    const w = zeros([1, 1, 3, 3]);
    const attrs = { strideH: 2, strideW: 2, padH: 0, padW: 0, dilationH: 1, dilationW: 1, groups: 1 };
    expect(() => native.conv2d(x.handle, w.handle, null, attrs, false)).toThrow(/too small for weight shape/);
    expect(native.batchNormDepthwiseApplies([1, 1, 2, 2], [1, 1, 3, 3], attrs)).toBe(false);
  });

  it('Linear(25000, 25000) with small weights: refused before the layer is built', async () => {
    const path = await modelFile(
      [{ type: 'Linear', inFeatures: 25000, outFeatures: 25000 }],
      [1, 1, 25000],
      [{ type: 'Linear', inFeatures: 2, outFeatures: 2 }],
    );
    const e = await refused(loadModel(path));
    expect(e.message).toBe(
      `The model file ${path} has '0.weight' of shape [2, 2] (float32) but its architecture needs [25000, 25000] (float32).`,
    );
  });

  it('100,000 layers and attributes nested 100,000 deep: errors, no stack overflow', async () => {
    const many = join(dir, 'many.safetensors');
    await saveSafetensors(many, new Map(), {
      'dlf.architecture': JSON.stringify({
        format: 'dlf.sequential',
        version: 1,
        layers: Array(100000).fill({ type: 'ReLU' }),
      }),
    });
    expect((await refused(loadModel(many))).message).toMatch(/it has 100000 layers \(at most 4096\)/);
    const deep = join(dir, 'deep.safetensors');
    const nested = `${'['.repeat(100000)}1${']'.repeat(100000)}`;
    await saveSafetensors(deep, new Map(), {
      'dlf.architecture': `{"format":"dlf.sequential","version":1,"layers":[{"type":"Linear","inFeatures":${nested},"outFeatures":2}]}`,
    });
    const e = await refused(loadModel(deep));
    expect(e.message).toMatch(
      new RegExp(`^The model file ${deep} is not usable: the architecture is invalid: layer 0 \\(Linear\\)`),
    );
  });

  it('a description declaring 2^40 parameters is refused from its shapes, before building', () => {
    const spec = {
      format: 'dlf.sequential',
      version: 1,
      layers: [{ type: 'Linear', inFeatures: 2 ** 20, outFeatures: 2 ** 20 }],
    };
    expect(() => checkParamBudget('model.json', impliedStateShapes(spec), {})).toThrow(
      'The model model.json declares 1099.5 G parameters, more than the 1.1 G budget (4.0 GiB of float32); raise maxParams if the model is meant to be that large.',
    );
  });
});

describe('untrustworthy numbers', () => {
  it('a NaN weight is refused, naming the tensor and the file', async () => {
    const path = join(dir, 'nan.safetensors');
    const w = tensor([1, 2, Number.NaN, 4], { shape: [2, 2] });
    const b = zeros([2]);
    await saveSafetensors(
      path,
      new Map([
        ['0.weight', w],
        ['0.bias', b],
      ]),
      {
        'dlf.architecture': JSON.stringify({
          format: 'dlf.sequential',
          version: 1,
          layers: [{ type: 'Linear', inFeatures: 2, outFeatures: 2 }],
        }),
      },
    );
    const e = await refused(loadModel(path));
    expect(e.message).toBe(
      `The model file ${path} has a NaN in '0.weight' (element 2); the weights are damaged or the training diverged.`,
    );
  });

  it('a standard deviation of 1e-300 is refused', async () => {
    const path = join(dir, 'std.safetensors');
    const layers = [{ type: 'Flatten' }, { type: 'Linear', inFeatures: 4, outFeatures: 2 }];
    const shapes = impliedStateShapes({ format: 'dlf.sequential', version: 1, layers });
    const tensors = new Map([...shapes].map(([k, sh]) => [k, zeros(sh)]));
    await saveSafetensors(path, tensors, {
      'dlf.architecture': JSON.stringify({ format: 'dlf.sequential', version: 1, layers }),
      'dlf.inputShape': '[1,2,2]',
      'dlf.preprocess': JSON.stringify({ mean: [0], std: [1e-300] }),
    });
    const e = await refused(readModelFile(path));
    expect(e.message).toBe(
      `The model file ${path} has invalid preprocessing metadata: std must be one number, each at least 0.000001.`,
    );
  });
});

describe('files that are not model files say what they are', () => {
  const cases: [string, Buffer, RegExp][] = [
    [
      'cat.png',
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
      /it is a PNG image, not a model file; to classify it, pass it as the image: dlf predict/,
    ],
    ['cat.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46]), /it is a JPEG image/],
    [
      'model.pt',
      Buffer.from('PK\u0003\u0004archive/data.pkl', 'latin1'),
      /it is a ZIP archive, as PyTorch saves \.pt\/\.pth checkpoints.*safetensors\.torch\.save_file/,
    ],
    ['old.pth', Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc]), /it is a Python pickle.*never unpickles/],
    [
      'model.onnx',
      Buffer.from([0x08, 0x07, 0x12, 0x07, 0x70, 0x79, 0x74, 0x6f, 0x72, 0x63, 0x68]),
      /it looks like an ONNX model/,
    ],
    [
      'arch.safetensors',
      Buffer.from('{"format":"dlf.sequential","layers":[]}'),
      /it is a JSON text, not a trained model/,
    ],
  ];
  for (const [name, bytes, pattern] of cases) {
    it(name, async () => {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const e = await refused(readModelFile(path));
      expect(e.message.startsWith(`${path} is not a dlf model file: `)).toBe(true);
      expect(e.message).toMatch(pattern);
    });
  }
});
