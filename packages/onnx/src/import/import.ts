/**
 * `importOnnx`: an ONNX file to a trainable dlf model, with its class names, input shape and
 * preprocessing (from the file's `metadata_props`, or given).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { GraphModule, META, type Module, type Preprocess, type Sequential, summary } from '@dlf/nn';
import { OnnxError } from '../errors.js';
import { buildModel, graphNames } from '../nodes.js';
import { decodeModel } from '../proto/decode.js';
import type { DecodeLimits } from '../proto/wire.js';
import { type Converted, convertGraph } from './convert.js';
import { prepareGraph } from './graph.js';

/** The opsets of the default domain import accepts. */
export const IMPORT_OPSETS = Object.freeze({ min: 7, max: 21 });

/** Options for {@link importOnnx}. */
export interface ImportOptions {
  /** Class names when the file has no `dlf.classes` (default: '0', '1', …). */
  classes?: readonly string[];
  /** Input shape [C, H, W] when the file's input has no fixed shape. */
  inputShape?: readonly [number, number, number];
  /** Preprocessing when the file has no `dlf.preprocess` (fields not given take dlf's defaults). */
  preprocess?: Partial<Preprocess>;
  /** The folder external data files are read from (default: the model file's folder). */
  baseDir?: string;
  /** The largest model file, plus external data, in bytes (default 2 GiB). */
  maxBytes?: number;
  /** Decoder limits (nesting depth, field count). */
  limits?: Partial<DecodeLimits>;
}

/** What {@link importOnnx} returns. */
export interface ImportedModel {
  /** The model, in training mode, with the file's weights. */
  model: Module;
  classes: string[];
  inputShape: [number, number, number];
  preprocess: Preprocess;
  /** The file's `metadata_props`. */
  metadata: Record<string, string>;
  /** What import changed that a user should know (e.g. a dropped final Softmax). */
  notes: string[];
}

const DEFAULT_MAX_BYTES = 2 ** 31 - 1;

function readBounded(path: string, maxBytes: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new OnnxError(
      `cannot open the ONNX file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new OnnxError(`${path} is not a file`);
    if (st.size > maxBytes)
      throw new OnnxError(`${path} has ${st.size} bytes, more than the limit of ${maxBytes}`);
    const out = new Uint8Array(st.size);
    let done = 0;
    while (done < st.size) {
      const n = readSync(fd, out, done, st.size - done, done);
      if (n === 0) break;
      done += n;
    }
    return out.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

function jsonMeta(metadata: Record<string, string>, key: string): unknown {
  const raw = metadata[key];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new OnnxError(`the metadata '${key}' is not valid JSON`);
  }
}

function isShape(v: unknown): v is [number, number, number] {
  return Array.isArray(v) && v.length === 3 && v.every((d) => Number.isInteger(d) && d >= 1 && d <= 8192);
}

/**
 * Reads an ONNX model (bytes, or a path whose folder holds any external data) into a trainable
 * dlf model. The operator subset: Conv, Gemm, MatMul (+ Add as bias), Relu, Clip to [0, 6] (ReLU6), LeakyRelu, Sigmoid,
 * Tanh, HardSwish, Gelu and the multi-node forms of SiLU, Hardswish and GELU, MaxPool, AveragePool,
 * GlobalAveragePool, BatchNormalization, Add, Concat, Flatten, Reshape (to [batch, features]),
 * Dropout, Identity and a final Softmax (dropped); constant subgraphs are folded. Anything else,
 * and every malformed or hostile file, is an {@link OnnxError} naming the node or byte.
 *
 * @example
 * ```ts
 * const { model, classes } = await importOnnx('resnet.onnx', { classes: ['cat', 'dog'] });
 * model.eval();
 * ```
 */
export async function importOnnx(
  source: Uint8Array | string,
  options: ImportOptions = {},
): Promise<ImportedModel> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const bytes = typeof source === 'string' ? readBounded(source, maxBytes) : source;
  if (bytes.length > maxBytes)
    throw new OnnxError(`the model has ${bytes.length} bytes, more than the limit of ${maxBytes}`);
  const baseDir = options.baseDir ?? (typeof source === 'string' ? dirname(resolve(source)) : undefined);
  const proto = decodeModel(bytes, options.limits);
  const opset = proto.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version;
  if (opset === undefined)
    throw new OnnxError('the model imports no version of the default ONNX operator set');
  if (opset < IMPORT_OPSETS.min || opset > IMPORT_OPSETS.max) {
    throw new OnnxError(
      `the model uses opset ${opset}; dlf imports opsets ${IMPORT_OPSETS.min} to ${IMPORT_OPSETS.max}`,
    );
  }
  const metadata: Record<string, string> = {};
  for (const e of proto.metadataProps) metadata[e.key] = e.value;
  const graph = prepareGraph(proto.graph, opset, { baseDir, budget: { bytes: maxBytes } });
  const converted = convertGraph(graph);
  let model: Module;
  let inputShape: [number, number, number];
  try {
    const inputInfo = proto.graph.input.find((v) => v.name === graph.input);
    const declared = inputInfo?.shape?.slice(1);
    const fromFile =
      jsonMeta(metadata, META.inputShape) ??
      (declared?.every((d) => typeof d === 'number') ? declared : undefined);
    const shape = options.inputShape ?? fromFile;
    if (!isShape(shape)) {
      throw new OnnxError(
        shape === undefined
          ? `the model's input '${graph.input}' has no fixed [channels, height, width] shape; give one (--input CxHxW)`
          : `the input shape [${String(shape)}] is not [channels, height, width]`,
      );
    }
    inputShape = shape;
    model = buildModel(converted);
  } finally {
    for (const t of converted.tensors) t.dispose();
  }
  try {
    const s = summary(model, inputShape);
    checkFlatSizes(model, inputShape, converted);
    if (s.outputShape.length !== 1) {
      throw new OnnxError(
        `the model's output has shape [${s.outputShape.join(', ')}] per example; dlf classifiers output one score per class`,
      );
    }
    const n = s.outputShape[0]!;
    const classes = (options.classes ??
      jsonMeta(metadata, META.classes) ??
      Array.from({ length: n }, (_, i) => String(i))) as unknown;
    if (!Array.isArray(classes) || classes.length !== n || classes.some((c) => typeof c !== 'string')) {
      throw new OnnxError(`the model outputs ${n} scores but the class names are ${JSON.stringify(classes)}`);
    }
    const [c, h, w] = inputShape;
    const stored = (jsonMeta(metadata, META.preprocess) ?? {}) as Partial<Preprocess>;
    const preprocess: Preprocess = {
      size: [h, w],
      channels: c === 1 ? 1 : 3,
      fit: 'fill',
      scale: 1 / 255,
      mean: [0],
      std: [1],
      ...stored,
      ...options.preprocess,
    };
    model.train();
    return {
      model,
      classes: classes as string[],
      inputShape: [c, h, w],
      preprocess,
      metadata,
      notes: converted.notes,
    };
  } catch (e) {
    model.dispose();
    if (e instanceof OnnxError) throw e;
    throw new OnnxError(
      `the imported model does not accept its input shape [${inputShape.join(', ')}]: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** Checks that each Reshape-made Flatten gives the feature count the file asked for. */
function checkFlatSizes(model: Module, inputShape: readonly number[], converted: Converted): void {
  if (converted.flatSizes.size === 0) return;
  const outputs = new Map<string, number[]>();
  if (model instanceof GraphModule) {
    const names = graphNames(converted);
    const rows = new Map(model.describeNodes(inputShape).map((r) => [r.name, r.outputShape]));
    for (const n of converted.nodes) outputs.set(n.name, rows.get(names.get(n.name)!)!);
  } else {
    let shape = [...inputShape];
    (model as Sequential).layers.forEach((layer, i) => {
      shape = layer.describe(shape).outputShape;
      outputs.set(converted.nodes[i]!.name, shape);
    });
  }
  for (const [name, want] of converted.flatSizes) {
    const got = outputs.get(name)!;
    if (got[got.length - 1] !== want) {
      throw new OnnxError(
        `node '${name}' (Reshape) asks for ${want} features but its input has ${got[got.length - 1]}`,
      );
    }
  }
}
