/**
 * Shared by the ONNX tests: the models every layer type appears in, onnxruntime as the judge of
 * exported files, and Debian's python3-onnx checker (through /usr/bin/python3, which has it and
 * torch; the checker tests are skipped with a message only when python3-onnx is missing).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  GELU,
  Hardswish,
  LeakyReLU,
  Linear,
  MaxPool2d,
  noGrad,
  ReLU,
  ReLU6,
  Sequential,
  Sigmoid,
  SiLU,
  Tanh,
} from '@dlf/nn';
import { Generator, rand, type Tensor } from '@dlf/tensor-core';
import * as ort from 'onnxruntime-node';

export const PYTHON = '/usr/bin/python3';

/** True when /usr/bin/python3 can import onnx (Debian's python3-onnx). */
export const hasOnnxChecker: boolean =
  existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;

if (!hasOnnxChecker) {
  console.warn(
    'python3-onnx is not installed (apt-get install -y python3-onnx): the ONNX checker tests are skipped',
  );
}

/** A temporary folder for the files of one test file. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'dlf-onnx-'));
}

/** Runs onnx.checker.check_model(full_check=True) on a file; returns the checker's error or ''. */
export function onnxCheck(path: string): string {
  const script =
    'import onnx,sys\nm=onnx.load(sys.argv[1])\nonnx.checker.check_model(m, full_check=True)\nprint("ok")';
  const r = spawnSync(PYTHON, ['-c', script, path], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === 'ok'
    ? ''
    : `${r.stderr}${r.stdout}`.trim() || `exit ${r.status}`;
}

/** Runs an ONNX model on one float input with onnxruntime; returns the first output. */
export async function runOrt(
  bytes: Uint8Array,
  input: Tensor,
): Promise<{ data: Float32Array; dims: number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feed = {
      [session.inputNames[0]!]: new ort.Tensor('float32', input.toTypedArray() as Float32Array, [
        ...input.shape,
      ]),
    };
    const out = await session.run(feed);
    const y = out[session.outputNames[0]!]!;
    return { data: Float32Array.from(y.data as Float32Array), dims: [...y.dims] };
  } finally {
    await session.release();
  }
}

/** Writes bytes to a file in `dir` and returns its path. */
export function writeTemp(dir: string, name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Gives every BatchNorm2d of a model non-trivial statistics and affine weights. */
export function randomizeBatchNorms(model: Sequential, seed: number): void {
  const generator = new Generator(seed);
  const fill = (t: Tensor | null, low: number, high: number): void => {
    if (!t) return;
    const r = rand([...t.shape], low, high, { generator });
    t.write(r.toTypedArray());
    r.dispose();
  };
  noGrad(() => {
    for (const layer of model.layers) {
      if (!(layer instanceof BatchNorm2d)) continue;
      fill(layer.weight, 0.5, 1.5);
      fill(layer.bias, -0.5, 0.5);
      fill(layer.runningMean, -0.5, 0.5);
      fill(layer.runningVar, 0.5, 2);
    }
  });
}

/** A model with every layer type dlf has, for 3×16×16 input (batch norms randomised). */
export function everyLayerModel(seed = 1): Sequential {
  const generator = new Generator(seed);
  const model = new Sequential(
    new Conv2d(3, 8, 3, { padding: 1, generator }),
    new BatchNorm2d(8),
    new ReLU(),
    new Conv2d(8, 8, 3, { padding: 1, groups: 8, generator }), // depthwise
    new GELU(),
    new Conv2d(8, 12, 1, { groups: 4, bias: false, generator }), // grouped
    new SiLU(),
    new ReLU6(),
    new MaxPool2d(2),
    new Conv2d(12, 12, 3, { stride: 2, padding: 1, dilation: 1, generator }),
    new Hardswish(),
    new AvgPool2d(3, { stride: 1, padding: 1 }),
    new LeakyReLU(0.1),
    new AdaptiveAvgPool2d(2),
    new Tanh(),
    new Dropout(0.3),
    new Flatten(),
    new Linear(48, 16, { generator }),
    new Sigmoid(),
    new Linear(16, 5, { generator }),
  );
  randomizeBatchNorms(model, seed + 100);
  return model;
}

/** A small ResNet-style stem that ends in global pooling. */
export function globalPoolModel(seed = 2): Sequential {
  const generator = new Generator(seed);
  const model = new Sequential(
    new Conv2d(3, 6, 3, { padding: 1, bias: false, generator }),
    new BatchNorm2d(6),
    new ReLU(),
    new AdaptiveAvgPool2d(1),
    new Flatten(),
    new Linear(6, 4, { generator }),
  );
  randomizeBatchNorms(model, seed + 100);
  return model;
}
