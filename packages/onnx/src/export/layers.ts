/**
 * How each dlf layer type becomes ONNX nodes. An emitter receives the node, its input value names
 * and shapes (batch excluded), and returns its output value name; it throws an {@link OnnxError}
 * naming the node for what ONNX (or the chosen opset) cannot express.
 */
import type { Tensor } from '@dlf/tensor-core';
import { OnnxError } from '../errors.js';
import type { ModelNode } from '../nodes.js';
import type { GraphBuilder } from './context.js';

/** What an emitter gets. */
export interface EmitInput {
  g: GraphBuilder;
  node: ModelNode;
  inputs: string[];
  shapes: number[][];
}

type Emitter = (e: EmitInput) => string;

const pair = (v: unknown): [number, number] =>
  Array.isArray(v) ? [Number(v[0]), Number(v[1])] : [Number(v), Number(v)];

function fail(node: ModelNode, why: string): never {
  throw new OnnxError(`cannot export node '${node.name}' (${node.spec.type}): ${why}`);
}

/** The float32 values of a node's state tensor. */
export function stateValues(node: ModelNode, key: string): Float32Array {
  const t = node.state.get(key);
  if (!t) return fail(node, `it has no '${key}' tensor`);
  if (t.dtype !== 'float32') return fail(node, `its '${key}' is ${t.dtype}, not float32`);
  return t.toTypedArray() as Float32Array;
}

function stateTensor(e: EmitInput, key: string): string {
  const t = e.node.state.get(key) as Tensor;
  return e.g.constant(`${e.node.name}.${key}`, [...t.shape], stateValues(e.node, key));
}

const single =
  (
    opType: string,
    attrs: (n: ModelNode) => Record<string, number | { float: number }> = () => ({}),
  ): Emitter =>
  (e) =>
    e.g.node(opType, [e.inputs[0]!], e.node.name, attrs(e.node));

function conv(e: EmitInput): string {
  const s = e.node.spec;
  const [ph, pw] = pair(s.padding ?? 0);
  const inputs = [e.inputs[0]!, stateTensor(e, 'weight')];
  if (e.node.state.has('bias')) inputs.push(stateTensor(e, 'bias'));
  return e.g.node('Conv', inputs, e.node.name, {
    kernel_shape: pair(s.kernelSize),
    strides: pair(s.stride ?? 1),
    pads: [ph, pw, ph, pw],
    dilations: pair(s.dilation ?? 1),
    group: Number(s.groups ?? 1),
  });
}

/** Whiten2d: a k×k Conv with "same" padding, the extra row and column below and to the right. */
function whiten(e: EmitInput): string {
  const k = Number(e.node.spec.kernelSize);
  const before = (k - 1) >> 1;
  const after = k - 1 - before;
  return e.g.node('Conv', [e.inputs[0]!, stateTensor(e, 'weight'), stateTensor(e, 'bias')], e.node.name, {
    kernel_shape: [k, k],
    strides: [1, 1],
    pads: [before, before, after, after],
    dilations: [1, 1],
    group: 1,
  });
}

function linear(e: EmitInput): string {
  const x = e.inputs[0]!;
  const rank = e.shapes[0]!.length + 1;
  if (rank === 2) {
    const inputs = [x, stateTensor(e, 'weight')];
    if (e.node.state.has('bias')) inputs.push(stateTensor(e, 'bias'));
    return e.g.node('Gemm', inputs, e.node.name, { transB: 1 });
  }
  // Inputs of another rank: MatMul with the transposed weight, then the bias.
  const w = e.node.state.get('weight') as Tensor;
  const [out, inF] = w.shape as [number, number];
  const values = stateValues(e.node, 'weight');
  const t = new Float32Array(values.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) t[i * out + o] = values[o * inF + i]!;
  const y = e.g.node('MatMul', [x, e.g.constant(`${e.node.name}.weight_t`, [inF, out], t)], e.node.name);
  return e.node.state.has('bias') ? e.g.node('Add', [y, stateTensor(e, 'bias')], e.node.name) : y;
}

function pool(opType: string): Emitter {
  return (e) => {
    const s = e.node.spec;
    const [ph, pw] = pair(s.padding ?? 0);
    const attrs: Record<string, number | number[]> = {
      kernel_shape: pair(s.kernelSize),
      strides: pair(s.stride ?? s.kernelSize),
      pads: [ph, pw, ph, pw],
    };
    // dlf averages over the whole window, padding included (PyTorch's default).
    if (opType === 'AveragePool') attrs.count_include_pad = 1;
    return e.g.node(opType, [e.inputs[0]!], e.node.name, attrs);
  };
}

function adaptiveAvgPool(e: EmitInput): string {
  const [oh, ow] = pair(e.node.spec.outputSize ?? 1);
  const shape = e.shapes[0]!;
  if (oh === 1 && ow === 1) return e.g.node('GlobalAveragePool', [e.inputs[0]!], e.node.name);
  const [h, w] = [shape[1]!, shape[2]!];
  if (h % oh !== 0 || w % ow !== 0) {
    fail(e.node, `output ${oh}×${ow} does not divide the input ${h}×${w} (ONNX has no adaptive pooling)`);
  }
  const k = [h / oh, w / ow];
  return e.g.node('AveragePool', [e.inputs[0]!], e.node.name, { kernel_shape: k, strides: k });
}

function batchNorm(e: EmitInput): string {
  const s = e.node.spec;
  if (!e.node.state.has('runningMean')) {
    fail(e.node, 'it has no running statistics (trackRunningStats: false), so it has no inference form');
  }
  const n = Number(s.numFeatures);
  const scale = e.node.state.has('weight')
    ? stateTensor(e, 'weight')
    : e.g.constant(`${e.node.name}.weight`, [n], new Float32Array(n).fill(1));
  const bias = e.node.state.has('bias')
    ? stateTensor(e, 'bias')
    : e.g.constant(`${e.node.name}.bias`, [n], new Float32Array(n));
  const inputs = [e.inputs[0]!, scale, bias, stateTensor(e, 'runningMean'), stateTensor(e, 'runningVar')];
  return e.g.node('BatchNormalization', inputs, e.node.name, {
    epsilon: { float: Number(s.eps ?? 1e-5) },
    momentum: { float: 1 - Number(s.momentum ?? 0.1) },
  });
}

/** GELU as x · ½ · (1 + erf(x / √2)): the form PyTorch exports before opset 20, which import recognises. */
function gelu(e: EmitInput): string {
  const { g, node } = e;
  const x = e.inputs[0]!;
  const d = g.node('Div', [x, g.scalar(`${node.name}.sqrt2`, Math.SQRT2)], node.name);
  const erf = g.node('Erf', [d], node.name);
  const a = g.node('Add', [erf, g.scalar(`${node.name}.one`, 1)], node.name);
  const m = g.node('Mul', [x, a], node.name);
  return g.node('Mul', [m, g.scalar(`${node.name}.half`, 0.5)], node.name);
}

function silu(e: EmitInput): string {
  const x = e.inputs[0]!;
  return e.g.node('Mul', [x, e.g.node('Sigmoid', [x], e.node.name)], e.node.name);
}

function hardswish(e: EmitInput): string {
  const x = e.inputs[0]!;
  if (e.g.opset >= 14) return e.g.node('HardSwish', [x], e.node.name);
  const hs = e.g.node('HardSigmoid', [x], e.node.name, { alpha: { float: 1 / 6 }, beta: { float: 0.5 } });
  return e.g.node('Mul', [x, hs], e.node.name);
}

function flatten(e: EmitInput): string {
  const start = Number(e.node.spec.startDim ?? 1);
  if (start === 1) {
    return e.g.node('Flatten', [e.inputs[0]!], e.node.name, { axis: 1 });
  }
  // Keep the leading dims (0 copies a dim in Reshape), merge the rest.
  const shape = [...Array.from({ length: start }, () => 0), -1];
  return e.g.node('Reshape', [e.inputs[0]!, e.g.int64Constant(`${e.node.name}.shape`, shape)], e.node.name);
}

function join(opType: 'Add' | 'Concat'): Emitter {
  return (e) =>
    e.g.node(
      opType,
      e.inputs,
      e.node.name,
      opType === 'Concat' ? { axis: Number(e.node.spec.axis ?? 1) } : {},
    );
}

/** Emitters by layer type; a type missing here cannot be exported. */
export const EMITTERS: ReadonlyMap<string, Emitter> = new Map<string, Emitter>([
  ['Conv2d', conv],
  ['Whiten2d', whiten],
  ['Linear', linear],
  ['MaxPool2d', pool('MaxPool')],
  ['AvgPool2d', pool('AveragePool')],
  ['AdaptiveAvgPool2d', adaptiveAvgPool],
  [
    'GlobalAvgPool2d',
    (e) =>
      e.g.node('Flatten', [e.g.node('GlobalAveragePool', [e.inputs[0]!], e.node.name)], e.node.name, {
        axis: 1,
      }),
  ],
  ['BatchNorm2d', batchNorm],
  ['ReLU', single('Relu')],
  [
    'ReLU6',
    (e) =>
      e.g.node(
        'Clip',
        [e.inputs[0]!, e.g.scalar(`${e.node.name}.min`, 0), e.g.scalar(`${e.node.name}.max`, 6)],
        e.node.name,
      ),
  ],
  ['LeakyReLU', single('LeakyRelu', (n) => ({ alpha: { float: Number(n.spec.negativeSlope ?? 0.01) } }))],
  ['Sigmoid', single('Sigmoid')],
  ['Tanh', single('Tanh')],
  ['GELU', gelu],
  ['SiLU', silu],
  ['Hardswish', hardswish],
  ['Dropout', single('Identity')],
  ['Flatten', flatten],
  [
    'Scale',
    (e) =>
      e.g.node(
        'Mul',
        [e.inputs[0]!, e.g.scalar(`${e.node.name}.factor`, Number(e.node.spec.factor))],
        e.node.name,
      ),
  ],
  ['Add', join('Add')],
  ['Concat', join('Concat')],
]);
