/**
 * The fuzz targets: each names a file format, gives seed inputs, and runs one input through the
 * dlf code that reads that format. A target passes a case when the reader returns, or throws the
 * typed error it documents for bad input; anything else (another error, a crash, a hang, memory past
 * the budget) is a finding. Graph JSON and ONNX run the model once too, so a description the checks
 * accept must also run. New formats add themselves with {@link registerFuzzTarget}.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CIFAR10_CLASSES, DatasetError, decodeImages, readCifarBatches, readIdx } from '@dlf/data';
import {
  buildPreset,
  checkBudget,
  FileError,
  impliedStateShapes,
  modelFromJSON,
  noGrad,
  readModelFile,
  summary,
} from '@dlf/nn';
import { exportOnnx, importOnnx, OnnxError } from '@dlf/onnx';
import { buildModel, UsageError } from '@dlf/train';
import { loadSafetensors, SafetensorsError, saveSafetensorsSync, tidy, zeros } from '@dlf/tensor-core';
import { createRequire } from 'node:module';
import { type Rng, mutate, mutateJson } from './mutate.js';
import { mutateOnnx } from './mutate-onnx.js';

/** One format under fuzzing. */
export interface FuzzTarget {
  /** Short name: the fixture folder and the in-flight file are named after it. */
  name: string;
  /** The file extension the input is written with (readers may look at it). */
  ext: string;
  /** Valid (or interesting) inputs to mutate. */
  seeds(dir: string): Promise<Uint8Array[]>;
  /** Makes one case from a seed (default: byte mutation, sometimes spliced with another seed). */
  mutate?(seed: Uint8Array, rng: Rng, seeds: Uint8Array[]): Uint8Array;
  /** Reads the input file; throws only what {@link FuzzTarget.expected} accepts. */
  run(file: string): Promise<void>;
  /** True for an error the reader documents for bad input. */
  expected(e: unknown): boolean;
}

const targets = new Map<string, FuzzTarget>();

// sharp is @dlf/data's dependency; the harness borrows it from there to encode image seeds.
const sharp = createRequire(new URL('../packages/data/package.json', import.meta.url))(
  'sharp',
) as typeof import('sharp');

/** A folder the structured mutators may write scratch files into (set by the runner). */
export let fuzzScratch = '/tmp';
/** @internal Sets {@link fuzzScratch}. */
export function setFuzzScratch(dir: string): void {
  fuzzScratch = dir;
}

/**
 * Adds a fuzz target (a new format's reader). Its cases run with `pnpm fuzz`; crashes it finds are
 * kept under fuzz/fixtures/<name>/ and replayed by the regression test.
 *
 * @example
 * ```ts
 * registerFuzzTarget({ name: 'onnx', ext: '.onnx', seeds: async () => [tinyOnnx], run: (f) => importOnnx(f).then(() => {}), expected: (e) => e instanceof FileError });
 * ```
 */
export function registerFuzzTarget(t: FuzzTarget): void {
  targets.set(t.name, t);
}

/** Every registered target, in registration order. */
export function fuzzTargets(): FuzzTarget[] {
  return [...targets.values()];
}

const TINY_CNN = {
  format: 'dlf.sequential',
  version: 1,
  layers: [
    { type: 'Conv2d', inChannels: 1, outChannels: 2, kernelSize: 3, padding: 1 },
    { type: 'ReLU' },
    { type: 'MaxPool2d', kernelSize: 2 },
    { type: 'Flatten' },
    { type: 'Linear', inFeatures: 32, outFeatures: 3 },
  ],
};

/** A safetensors model file (bytes) for an architecture, with zero weights of the implied shapes. */
function modelBytes(dir: string, arch: unknown, inputShape: unknown): Uint8Array {
  let shapes: Map<string, number[]>;
  try {
    shapes = impliedStateShapes(arch);
  } catch {
    shapes = impliedStateShapes(TINY_CNN);
  }
  let total = 0;
  for (const s of shapes.values()) total += s.reduce((a, d) => a * d, 1);
  if (total > 1 << 20) shapes = impliedStateShapes(TINY_CNN); // keep the harness itself small
  const tensors = new Map([...shapes].map(([k, s]) => [k, zeros(s)]));
  const path = join(dir, 'model-seed.bin');
  saveSafetensorsSync(path, tensors, {
    'dlf.architecture': JSON.stringify(arch),
    'dlf.inputShape': JSON.stringify(inputShape),
  });
  for (const t of tensors.values()) t.dispose();
  return new Uint8Array(readFileSync(path));
}

function idx(dims: number[], data: Uint8Array): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, i) => {
    h.writeUInt32BE(d, 4 + 4 * i);
  });
  return Buffer.concat([h, data]);
}

registerFuzzTarget({
  name: 'safetensors',
  ext: '.bin',
  async seeds(dir) {
    const path = join(dir, 'st-seed.bin');
    const out: Uint8Array[] = [];
    for (const [shape, dtype] of [
      [[2, 3], 'float32'],
      [[4], 'int32'],
      [[1, 1, 2], 'uint8'],
    ] as const) {
      const t = zeros([...shape], dtype);
      saveSafetensorsSync(
        path,
        new Map([
          ['w', t],
          ['b', zeros([2])],
        ]),
        { note: 'seed' },
      );
      t.dispose();
      out.push(new Uint8Array(readFileSync(path)));
    }
    return out;
  },
  async run(file) {
    const { tensors } = await loadSafetensors(file);
    for (const t of tensors.values()) t.dispose();
  },
  expected: (e) => e instanceof SafetensorsError,
});

registerFuzzTarget({
  name: 'model',
  ext: '.safetensors',
  async seeds(dir) {
    return [modelBytes(dir, TINY_CNN, [1, 8, 8])];
  },
  mutate(seed, rng) {
    // Mostly structured: a mutated architecture with matching (zero) weights; sometimes raw bytes.
    if (rng.int(4) === 0) return mutate(seed, rng);
    const arch = mutateJson(TINY_CNN, rng);
    const shape = rng.int(4) === 0 ? mutateJson([1, 8, 8], rng) : [1, 8, 8];
    return modelBytes(fuzzScratch, arch, shape);
  },
  async run(file) {
    const { model } = await readModelFile(file);
    model.dispose();
  },
  expected: (e) => e instanceof FileError,
});

registerFuzzTarget({
  name: 'image',
  ext: '.png',
  async seeds() {
    const px = Buffer.from(Array.from({ length: 12 * 10 * 3 }, (_, i) => (i * 37) % 256));
    const img = () => sharp(px, { raw: { width: 12, height: 10, channels: 3 } });
    return [
      await img().png().toBuffer(),
      await img().png({ palette: true }).toBuffer(),
      await img().toColourspace('b-w').png().toBuffer(),
      await img().jpeg({ quality: 80 }).toBuffer(),
      await img().jpeg({ progressive: true }).toBuffer(),
      await img().resize(40, 30).png().toBuffer(),
    ];
  },
  async run(file) {
    // decodeImages never throws for a bad file: it reports it in failures.
    await decodeImages([file], { width: 8, height: 8, channels: 3, concurrency: 1 });
    await decodeImages([file], { width: 16, height: 16, channels: 1, concurrency: 1, fit: 'cover' });
  },
  expected: () => false,
});

registerFuzzTarget({
  name: 'idx',
  ext: '-idx3-ubyte',
  async seeds() {
    const images = idx(
      [3, 4, 4],
      Uint8Array.from({ length: 48 }, (_, i) => i),
    );
    const labels = idx([3], Uint8Array.of(0, 1, 2));
    const { gzipSync } = await import('node:zlib');
    return [images, labels, gzipSync(images), gzipSync(labels)];
  },
  async run(file) {
    readIdx(file);
  },
  expected: (e) => e instanceof DatasetError,
});

registerFuzzTarget({
  name: 'cifar',
  ext: '.bin',
  async seeds() {
    const rec = (label: number, v: number) => Buffer.concat([Buffer.of(label), Buffer.alloc(3072, v)]);
    return [Buffer.concat([rec(1, 3), rec(9, 200)]), rec(0, 0)];
  },
  async run(file) {
    readCifarBatches([file], 1, 0, CIFAR10_CLASSES);
  },
  expected: (e) => e instanceof DatasetError,
});

/** A graph model description (dlf.graph) with branches: a residual Add and a channel Concat. */
const BRANCHY_GRAPH = {
  format: 'dlf.graph',
  version: 1,
  nodes: [
    {
      name: 'conv',
      op: 'Conv2d',
      inputs: ['input'],
      attrs: { inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1 },
    },
    { name: 'norm', op: 'BatchNorm2d', inputs: ['conv'], attrs: { numFeatures: 4 } },
    { name: 'act', op: 'ReLU', inputs: ['norm'] },
    {
      name: 'branch',
      op: 'Conv2d',
      inputs: ['act'],
      attrs: { inChannels: 4, outChannels: 4, kernelSize: 3, padding: 1 },
    },
    { name: 'sum', op: 'Add', inputs: ['act', 'branch'] },
    { name: 'cat', op: 'Concat', inputs: ['sum', 'act'] },
    { name: 'pool', op: 'MaxPool2d', inputs: ['cat'], attrs: { kernelSize: 2 } },
    { name: 'gap', op: 'GlobalAvgPool2d', inputs: ['pool'] },
    { name: 'out', op: 'Linear', inputs: ['gap'], attrs: { inFeatures: 8, outFeatures: 3 } },
  ],
  output: 'out',
};

/** What a fuzzed model may cost: far below the defaults, so a case stays within the harness's budget. */
const FUZZ_MODEL_BUDGET = { maxParams: 1 << 22, maxActivationBytes: 64 * 2 ** 20, maxMacs: 5e7 };

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

registerFuzzTarget({
  name: 'graph',
  ext: '.json',
  async seeds() {
    const resnet = buildPreset('resnet8', { classes: 3, inChannels: 3, inputSize: 16 });
    const spec = (resnet as unknown as { toJSON(): unknown }).toJSON();
    resnet.dispose();
    return [json(BRANCHY_GRAPH), json(spec)];
  },
  mutate(seed, rng) {
    // Mostly structured (a mutated description that still parses); sometimes raw bytes.
    if (rng.int(4) === 0) return mutate(seed, rng);
    const spec = JSON.parse(new TextDecoder().decode(seed)) as { nodes: unknown[] };
    // Usually one node changed thoroughly (its attributes, op, inputs), else the whole description.
    if (rng.int(3) > 0 && spec.nodes.length) {
      const i = rng.int(spec.nodes.length);
      spec.nodes[i] = mutateJson(mutateJson(spec.nodes[i], rng), rng);
      return json(spec);
    }
    return json(mutateJson(spec, rng));
  },
  async run(file) {
    // The path dlf train takes for --model <file.json>: parse, check, budget, build, summarise;
    // then one forward pass, so a description the checks accept must also run (in evaluation mode).
    const { model } = await buildModel(file, {
      classes: 3,
      inputShape: [3, 16, 16],
      seed: 0,
      budget: FUZZ_MODEL_BUDGET,
    });
    try {
      model.eval();
      tidy(() => noGrad(() => model.forward(zeros([1, 3, 16, 16])).toTypedArray()));
    } finally {
      model.dispose();
    }
  },
  expected: (e) => e instanceof FileError || e instanceof UsageError,
});

registerFuzzTarget({
  name: 'onnx',
  ext: '.onnx',
  async seeds() {
    const preprocess = {
      size: [16, 16] as [number, number],
      channels: 3 as const,
      fit: 'fill' as const,
      scale: 1 / 255,
      mean: [0.5],
      std: [0.25],
    };
    const out: Uint8Array[] = [];
    for (const [arch, opset, foldBatchNorm] of [
      [BRANCHY_GRAPH, 13, false],
      [BRANCHY_GRAPH, 17, true],
      [
        {
          ...TINY_CNN,
          layers: TINY_CNN.layers.map((l) =>
            l.type === 'Conv2d'
              ? { ...l, inChannels: 3 }
              : l.type === 'Linear'
                ? { ...l, inFeatures: 128 }
                : l,
          ),
        },
        13,
        false,
      ],
    ] as const) {
      const model = modelFromJSON(arch);
      out.push(
        exportOnnx(model, {
          inputShape: [3, 16, 16],
          classes: ['a', 'b', 'c'],
          preprocess,
          opset,
          foldBatchNorm,
        }),
      );
      model.dispose();
    }
    return out;
  },
  mutate: mutateOnnx,
  async run(file) {
    // What dlf onnx import, then evaluate or predict, do: import, check the cost as readModelFile
    // would (with the fuzz budget), and run one example.
    const { model, inputShape } = await importOnnx(file);
    try {
      checkBudget(file, summary(model, inputShape), FUZZ_MODEL_BUDGET);
      model.eval();
      tidy(() => noGrad(() => model.forward(zeros([1, ...inputShape])).toTypedArray()));
    } finally {
      model.dispose();
    }
  },
  expected: (e) => e instanceof OnnxError || e instanceof FileError,
});

/** Writes a case's bytes where its target reads them. */
export function writeCase(file: string, bytes: Uint8Array): void {
  writeFileSync(file, bytes);
}
