/**
 * `exportOnnx`: a dlf model to ONNX bytes (opset 13 to 17), weights bit for bit, BatchNorm in its
 * inference form or folded into the convolution before it, and the class names, input shape and
 * preprocessing in `metadata_props` under the keys dlf model files use.
 */
import { META, type Module, type Preprocess } from '@dlf/nn';
import { type Tensor, tensor, writeFileAtomic } from '@dlf/tensor-core';
import { OnnxError } from '../errors.js';
import { MODEL_INPUT, type ModelNode, modelNodes, type NodeList } from '../nodes.js';
import { DataType, encodeModel, type ModelProto } from '../proto/onnx.js';
import { GraphBuilder } from './context.js';
import { EMITTERS, stateValues } from './layers.js';

/** The opsets export can target. */
export const OPSETS = Object.freeze({ min: 13, max: 17, default: 13 });

/** The IR version that goes with an opset (ONNX 1.8–1.12). */
export function irVersionFor(opset: number): number {
  return opset <= 14 ? 7 : 8;
}

/** Options for {@link exportOnnx}. */
export interface ExportOptions {
  /** Shape of one input example, [C, H, W] (batch excluded). */
  inputShape: readonly number[];
  /** Class names, in output order (stored as `dlf.classes`). */
  classes?: readonly string[];
  /** Preprocessing (stored as `dlf.preprocess`). */
  preprocess?: Preprocess;
  /** Opset of the default domain, 13 to 17 (default 13). */
  opset?: number;
  /** A fixed batch size; default: a symbolic `batch` dimension. */
  batchSize?: number;
  /** Fold each BatchNorm2d that directly follows a Conv2d into the convolution (default false). */
  foldBatchNorm?: boolean;
  /** More `metadata_props` entries. */
  metadata?: Record<string, string>;
  /** The producer version recorded in the file. */
  producerVersion?: string;
}

function checkOptions(options: ExportOptions): number {
  const opset = options.opset ?? OPSETS.default;
  if (!Number.isInteger(opset) || opset < OPSETS.min || opset > OPSETS.max) {
    throw new OnnxError(`opset ${opset} is not supported: choose ${OPSETS.min} to ${OPSETS.max}`);
  }
  const shape = options.inputShape;
  if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new OnnxError(`the input shape [${String(shape)}] is not a list of positive integers`);
  }
  const b = options.batchSize;
  if (b !== undefined && (!Number.isInteger(b) || b < 1))
    throw new OnnxError(`batchSize ${b} is not a positive integer`);
  return opset;
}

/** The output shape (batch excluded) of a node, from its module or, for joins, its inputs. */
function outputShape(node: ModelNode, shapes: number[][]): number[] {
  if (node.module && node.spec.type !== 'Add' && node.spec.type !== 'Concat') {
    try {
      return node.module.describe(shapes[0]!).outputShape;
    } catch (e) {
      throw new OnnxError(
        `node '${node.name}' (${node.spec.type}) does not accept input of shape [${shapes[0]!.join(', ')}]: ${(e as Error).message}`,
      );
    }
  }
  if (node.spec.type === 'Concat') {
    const axis = Number(node.spec.axis ?? 1) - 1;
    const out = [...shapes[0]!];
    out[axis] = shapes.reduce((s, x) => s + x[axis]!, 0);
    return out;
  }
  return [...shapes[0]!];
}

/**
 * Folds BatchNorm2d nodes into the Conv2d before them (when the convolution feeds only the
 * BatchNorm): w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β, computed in float64. Returns the new list
 * and the tensors it made (to dispose).
 */
function foldBatchNorms(list: NodeList): { list: NodeList; made: Tensor[] } {
  const made: Tensor[] = [];
  const users = new Map<string, number>();
  for (const n of list.nodes) for (const i of n.inputs) users.set(i, (users.get(i) ?? 0) + 1);
  const byName = new Map(list.nodes.map((n) => [n.name, n]));
  const folded = new Map<string, string>(); // bn name -> conv name
  const replaced = new Map<string, ModelNode>();
  for (const bn of list.nodes) {
    const conv = byName.get(bn.inputs[0] ?? '');
    if (bn.spec.type !== 'BatchNorm2d' || !conv || conv.spec.type !== 'Conv2d') continue;
    if (users.get(conv.name) !== 1 || list.output === conv.name || !bn.state.has('runningMean')) continue;
    const w = stateValues(conv, 'weight');
    const outC = Number(conv.spec.outChannels);
    const perOut = w.length / outC;
    const b = conv.state.has('bias') ? stateValues(conv, 'bias') : new Float32Array(outC);
    const gamma = bn.state.has('weight') ? stateValues(bn, 'weight') : new Float32Array(outC).fill(1);
    const beta = bn.state.has('bias') ? stateValues(bn, 'bias') : new Float32Array(outC);
    const mean = stateValues(bn, 'runningMean');
    const variance = stateValues(bn, 'runningVar');
    const eps = Number(bn.spec.eps ?? 1e-5);
    const nw = new Float32Array(w.length);
    const nb = new Float32Array(outC);
    for (let o = 0; o < outC; o++) {
      const k = gamma[o]! / Math.sqrt(variance[o]! + eps);
      for (let j = 0; j < perOut; j++) nw[o * perOut + j] = w[o * perOut + j]! * k;
      nb[o] = (b[o]! - mean[o]!) * k + beta[o]!;
    }
    const wt = tensor(nw, { shape: conv.state.get('weight')!.shape });
    const bt = tensor(nb);
    made.push(wt, bt);
    replaced.set(conv.name, {
      ...conv,
      spec: { ...conv.spec, bias: true },
      state: new Map([
        ['weight', wt],
        ['bias', bt],
      ]),
    });
    folded.set(bn.name, conv.name);
  }
  const rename = (name: string): string => folded.get(name) ?? name;
  const nodes = list.nodes
    .filter((n) => !folded.has(n.name))
    .map((n) => ({ ...(replaced.get(n.name) ?? n), inputs: n.inputs.map(rename) }));
  return { list: { nodes, output: rename(list.output) }, made };
}

/**
 * Exports a model to ONNX bytes. Every dlf layer type has an ONNX form: Conv2d (groups,
 * depthwise) → Conv, Linear → Gemm (MatMul + Add for inputs that are not 2-D), pools,
 * AdaptiveAvgPool2d → GlobalAveragePool or AveragePool, BatchNorm2d → BatchNormalization
 * (inference), activations (GELU as its erf form, SiLU as x·sigmoid(x), Hardswish as HardSwish from
 * opset 14), Dropout → Identity, Flatten, Scale → Mul by a constant, Whiten2d → Conv with one-sided pads. What cannot be expressed is an {@link OnnxError}
 * naming the layer.
 *
 * @example
 * ```ts
 * const bytes = exportOnnx(seedCnn(), { inputShape: [3, 32, 32], classes: ['cat', 'dog'] });
 * writeFileSync('model.onnx', bytes);
 * ```
 */
export function exportOnnx(model: Module, options: ExportOptions): Uint8Array {
  const opset = checkOptions(options);
  const original = modelNodes(model);
  const { list, made } = options.foldBatchNorm
    ? foldBatchNorms(original)
    : { list: original, made: [] as Tensor[] };
  try {
    const g = new GraphBuilder(opset);
    const values = new Map<string, { name: string; shape: number[] }>();
    values.set(MODEL_INPUT, { name: g.fresh(MODEL_INPUT), shape: [...options.inputShape] });
    for (const node of list.nodes) {
      const ins = node.inputs.map((i) => {
        const v = values.get(i);
        if (!v) throw new OnnxError(`node '${node.name}' takes '${i}', which no earlier node makes`);
        return v;
      });
      const emit = EMITTERS.get(node.spec.type);
      if (!emit)
        throw new OnnxError(
          `cannot export node '${node.name}': ONNX export does not know layer type ${node.spec.type}`,
        );
      const shapes = ins.map((v) => v.shape);
      const shape = outputShape(node, shapes);
      const name = emit({ g, node, inputs: ins.map((v) => v.name), shapes });
      values.set(node.name, { name, shape });
    }
    const out = values.get(list.output)!;
    const batch = options.batchSize ?? 'batch';
    // The graph output gets its own name through an Identity when it would be the input itself.
    const outName =
      out.name === values.get(MODEL_INPUT)!.name ? g.node('Identity', [out.name], 'output') : out.name;
    const metadata: Record<string, string> = { ...options.metadata };
    metadata[META.inputShape] = JSON.stringify(options.inputShape);
    if (options.classes) metadata[META.classes] = JSON.stringify(options.classes);
    if (options.preprocess) metadata[META.preprocess] = JSON.stringify(options.preprocess);
    const proto: ModelProto = {
      irVersion: irVersionFor(opset),
      opsetImport: [{ domain: '', version: opset }],
      producerName: 'dlf',
      producerVersion: options.producerVersion ?? '',
      domain: '',
      modelVersion: 0,
      docString: '',
      graph: {
        name: 'dlf',
        node: g.nodes,
        initializer: g.initializers,
        input: [
          {
            name: values.get(MODEL_INPUT)!.name,
            elemType: DataType.FLOAT,
            shape: [batch, ...options.inputShape],
          },
        ],
        output: [{ name: outName, elemType: DataType.FLOAT, shape: [batch, ...out.shape] }],
        valueInfo: [],
      },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    };
    return encodeModel(proto);
  } finally {
    for (const t of made) t.dispose();
  }
}

/**
 * Exports a model to an ONNX file, atomically (a temp file in the same folder, then a rename).
 *
 * @example
 * ```ts
 * await exportOnnxFile(model, 'model.onnx', { inputShape: [1, 28, 28] });
 * ```
 */
export async function exportOnnxFile(model: Module, path: string, options: ExportOptions): Promise<void> {
  const bytes = exportOnnx(model, options);
  await writeFileAtomic(path, bytes);
}
