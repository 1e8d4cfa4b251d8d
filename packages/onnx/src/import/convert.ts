/**
 * ONNX nodes to dlf nodes: each op of dlf's subset becomes a layer description with its weights;
 * the multi-node forms of activations (x·sigmoid(x), x·hardsigmoid(x), the erf form of GELU) are
 * recognised; an Add of a constant after a bias-free Conv or MatMul becomes its bias; Identity
 * disappears; a trailing Softmax is dropped (dlf models output logits). Anything else is an error
 * naming the node and its op type.
 */
import type { LayerSpec } from '@dlf/nn';
import { type Tensor, tensor } from '@dlf/tensor-core';
import { OnnxError } from '../errors.js';
import { MODEL_INPUT, type ModelNode, type NodeList } from '../nodes.js';
import type { NodeProto } from '../proto/onnx.js';
import { attr, floatAttr, intAttr, intsAttr, nodeLabel } from './fold.js';
import type { PreparedGraph } from './graph.js';
import type { Const } from './values.js';

/** What conversion makes besides the node list. */
export interface Converted extends NodeList {
  /** Tensors made for the nodes' state (the caller disposes them). */
  tensors: Tensor[];
  /** Per-example sizes Reshape nodes require, by node name, checked once shapes are known. */
  flatSizes: Map<string, number>;
  /** What import changed that a user should know (e.g. a dropped Softmax). */
  notes: string[];
}

const close = (a: number | undefined, b: number): boolean =>
  a !== undefined && Math.abs(a - b) < 1e-5 * Math.max(1, Math.abs(b));

function scalarOf(c: Const | undefined): number | undefined {
  return c && c.data.length === 1 ? c.data[0] : undefined;
}

class Converter {
  readonly nodes: ModelNode[] = [];
  readonly tensors: Tensor[] = [];
  readonly flatSizes = new Map<string, number>();
  readonly notes: string[] = [];
  /** Value name -> the dlf node name that makes it (aliases through Identity and fused patterns). */
  private readonly made = new Map<string, string>();
  private readonly byName = new Map<string, ModelNode>();
  /** Nodes consumed by a pattern, skipped when reached. */
  private readonly absorbed = new Set<NodeProto>();
  /** Padding of Pad nodes, by output value, that the next Conv or AveragePool takes over. */
  private readonly extraPads = new Map<string, [number, number]>();
  /** AveragePool nodes whose padding came from a Pad (zeros, so counted in the average). */
  private readonly padded = new Set<NodeProto>();
  /** Mul nodes that close an activation pattern, with the layer they become. */
  private readonly patterns = new Map<NodeProto, { spec: LayerSpec; x: string }>();

  /** The first node taking each value as its first input. */
  private readonly firstUser = new Map<string, NodeProto>();

  constructor(private readonly g: PreparedGraph) {
    this.made.set(g.input, MODEL_INPUT);
    for (const n of g.nodes)
      if (n.input[0] && !this.firstUser.has(n.input[0])) this.firstUser.set(n.input[0], n);
  }

  private constOf(name: string): Const | undefined {
    return this.g.consts.get(name);
  }
  private only(name: string): boolean {
    return this.g.consumers.get(name) === 1;
  }
  private from(node: NodeProto, value: string): string {
    const m = this.made.get(value);
    if (m === undefined) {
      throw new OnnxError(
        `${nodeLabel(node)} takes '${value}' where dlf needs a layer output, not a constant`,
      );
    }
    return m;
  }
  private weight(node: NodeProto, k: number, what: string): Const {
    const c = this.constOf(node.input[k] ?? '');
    if (!c?.float) throw new OnnxError(`${nodeLabel(node)} needs a constant float ${what}`);
    return c;
  }
  private tensorOf(values: Float32Array | Float64Array, dims: number[]): Tensor {
    const t = tensor(Float32Array.from(values), { shape: dims });
    this.tensors.push(t);
    return t;
  }
  private add(node: NodeProto, spec: LayerSpec, inputs: string[], state: Record<string, Const> = {}): void {
    const name = node.output[0]!;
    const st = new Map<string, Tensor>();
    for (const [k, c] of Object.entries(state)) st.set(k, this.tensorOf(c.data, c.dims));
    const n: ModelNode = { name, spec, inputs: inputs.map((i) => this.from(node, i)), state: st };
    this.nodes.push(n);
    this.byName.set(name, n);
    this.made.set(name, name);
  }
  /** The dlf node that makes a value. */
  outputOf(value: string): string | undefined {
    return this.made.get(value);
  }
  private alias(node: NodeProto, input: string): void {
    this.made.set(node.output[0]!, this.from(node, input));
  }
  private producer(value: string, opType: string): NodeProto | undefined {
    const p = this.g.producer.get(value);
    return p && p.opType === opType && !this.absorbed.has(p) ? p : undefined;
  }

  /**
   * Mul(a, Sigmoid(a)) → SiLU, Mul(a, HardSigmoid(a)) → Hardswish, and GELU's erf form
   * Mul(Mul(a, Add(Erf(Div(a, √2)), 1)), 0.5), operands in either order; the inner nodes must feed
   * nothing else. Returns the layer and the nodes it absorbs, without changing anything.
   */
  private activationPattern(
    node: NodeProto,
  ): { spec: LayerSpec; x: string; absorbs: NodeProto[] } | undefined {
    const [p, q] = node.input as [string, string];
    const orders: [string, string][] = [
      [p, q],
      [q, p],
    ];
    for (const [x, s] of orders) {
      const sig = this.producer(s, 'Sigmoid');
      if (sig && sig.input[0] === x && this.only(s)) return { spec: { type: 'SiLU' }, x, absorbs: [sig] };
      const hs = this.producer(s, 'HardSigmoid');
      const hsForm =
        hs && close(floatAttr(hs, 'alpha', 0.2), 1 / 6) && close(floatAttr(hs, 'beta', 0.5), 0.5);
      if (hs && hsForm && hs.input[0] === x && this.only(s))
        return { spec: { type: 'Hardswish' }, x, absorbs: [hs] };
    }
    for (const [m, half] of orders) {
      const inner = this.producer(m, 'Mul');
      if (!close(scalarOf(this.constOf(half)), 0.5) || !inner || !this.only(m)) continue;
      const pairs: [string, string][] = [
        [inner.input[0]!, inner.input[1]!],
        [inner.input[1]!, inner.input[0]!],
      ];
      for (const [x, plus] of pairs) {
        const add = this.producer(plus, 'Add');
        if (!add || !this.only(plus)) continue;
        const k = add.input.findIndex((i) => close(scalarOf(this.constOf(i)), 1));
        const erfOut = add.input[1 - k];
        const erf = k >= 0 && erfOut !== undefined ? this.producer(erfOut, 'Erf') : undefined;
        if (!erf || !this.only(erfOut!)) continue;
        const scaledOut = erf.input[0]!;
        const div = this.producer(scaledOut, 'Div');
        const mul = this.producer(scaledOut, 'Mul');
        const scaledBy = (n: NodeProto | undefined, k: number): NodeProto | undefined =>
          n && n.input[0] === x && close(scalarOf(this.constOf(n.input[1] ?? '')), k) ? n : undefined;
        const scaled = scaledBy(div, Math.SQRT2) ?? scaledBy(mul, Math.SQRT1_2);
        if (scaled && this.only(scaledOut))
          return { spec: { type: 'GELU' }, x, absorbs: [inner, add, erf, scaled] };
      }
    }
    return undefined;
  }

  /** Finds the activation patterns before conversion, so their inner nodes are skipped. */
  findPatterns(): void {
    for (const n of this.g.nodes) {
      if (n.opType !== 'Mul' || n.input.length !== 2 || this.absorbed.has(n)) continue;
      const found = this.activationPattern(n);
      if (!found) continue;
      this.patterns.set(n, found);
      for (const a of found.absorbs) this.absorbed.add(a);
    }
  }

  /** Add(y, bias) where y comes from a bias-free Conv2d or Linear used only here. */
  private biasAdd(node: NodeProto): boolean {
    const [p, q] = node.input as [string, string];
    const [y, b] = this.constOf(q) ? [p, q] : [q, p];
    const bias = this.constOf(b);
    const layer = this.byName.get(this.made.get(y) ?? '');
    if (!bias || !layer || !this.only(y) || layer.spec.bias !== false) return false;
    const out = Number(layer.spec.type === 'Linear' ? layer.spec.outFeatures : layer.spec.outChannels);
    const dims = bias.dims.filter((d) => d !== 1);
    const fits =
      bias.data.length === out &&
      (layer.spec.type === 'Linear'
        ? bias.dims[bias.dims.length - 1] === out
        : (dims.length === 1 && bias.dims.length >= 3 && bias.dims[bias.dims.length - 3] === out) ||
          out === 1);
    if (!fits || !bias.float) return false;
    layer.spec = { ...layer.spec, bias: true };
    layer.state.set('bias', this.tensorOf(bias.data, [out]));
    this.made.set(node.output[0]!, layer.name);
    return true;
  }

  /**
   * Pad before a Conv or AveragePool (torch writes AvgPool2d(padding=p) so): zero pads vanish;
   * constant-zero pads of H and W, alike on both sides, move into the next node's padding.
   */
  private pad(node: NodeProto): void {
    const mode = attr(node, 'mode')?.s;
    if (mode && new TextDecoder().decode(mode) !== 'constant') {
      throw new OnnxError(
        `${nodeLabel(node)} pads in mode '${new TextDecoder().decode(mode)}'; dlf pads with zeros`,
      );
    }
    const padsConst = this.constOf(node.input[1] ?? '');
    const pads = padsConst ? Array.from(padsConst.data) : intsAttr(node, 'pads', []);
    const value = scalarOf(this.constOf(node.input[2] ?? '')) ?? floatAttr(node, 'value', 0);
    if (pads.every((p) => p === 0)) {
      this.alias(node, node.input[0]!);
      return;
    }
    const next = this.firstUser.get(node.output[0]!);
    const fits =
      pads.length === 8 &&
      value === 0 &&
      pads[0] === 0 &&
      pads[1] === 0 &&
      pads[4] === 0 &&
      pads[5] === 0 &&
      pads[2] === pads[6] &&
      pads[3] === pads[7] &&
      this.only(node.output[0]!) &&
      (next?.opType === 'Conv' || next?.opType === 'AveragePool');
    if (!fits) {
      throw new OnnxError(
        `${nodeLabel(node)} pads [${pads.join(', ')}]; dlf imports a Pad only as zero padding of H and W before a Conv or AveragePool`,
      );
    }
    this.extraPads.set(node.output[0]!, [pads[2]!, pads[3]!]);
    this.alias(node, node.input[0]!);
  }

  private symmetricPads(node: NodeProto, rank = 2): [number, number] {
    const autoPad = attr(node, 'auto_pad')?.s;
    const mode = autoPad ? new TextDecoder().decode(autoPad) : 'NOTSET';
    if (mode !== 'NOTSET' && mode !== 'VALID') {
      throw new OnnxError(`${nodeLabel(node)} uses auto_pad ${mode}; dlf imports explicit pads only`);
    }
    const pads = intsAttr(node, 'pads', new Array<number>(rank * 2).fill(0));
    if (pads.length !== 4 || pads[0] !== pads[2] || pads[1] !== pads[3]) {
      throw new OnnxError(`${nodeLabel(node)} has pads [${pads.join(', ')}]; dlf pads both sides alike`);
    }
    const extra = this.extraPads.get(node.input[0]!) ?? [0, 0];
    if (extra[0] + extra[1] > 0 && node.opType === 'AveragePool') this.padded.add(node);
    return [pads[0]! + extra[0], pads[1]! + extra[1]];
  }

  private conv(node: NodeProto): void {
    const w = this.weight(node, 1, 'weight');
    if (w.dims.length !== 4)
      throw new OnnxError(`${nodeLabel(node)} is not a 2-D convolution (weight [${w.dims.join(', ')}])`);
    const groups = intAttr(node, 'group', 1);
    const [outC, perGroup, kh, kw] = w.dims as [number, number, number, number];
    const b = node.input[2] ? this.weight(node, 2, 'bias') : undefined;
    this.add(
      node,
      {
        type: 'Conv2d',
        inChannels: perGroup * groups,
        outChannels: outC,
        kernelSize: [kh, kw],
        stride: intsAttr(node, 'strides', [1, 1]),
        padding: this.symmetricPads(node),
        dilation: intsAttr(node, 'dilations', [1, 1]),
        groups,
        bias: b !== undefined,
      },
      [node.input[0]!],
      b ? { weight: w, bias: b } : { weight: w },
    );
  }

  private gemm(node: NodeProto): void {
    if (intAttr(node, 'transA', 0) !== 0)
      throw new OnnxError(`${nodeLabel(node)} has transA = 1, which dlf does not import`);
    const b = this.weight(node, 1, 'weight');
    if (b.dims.length !== 2)
      throw new OnnxError(`${nodeLabel(node)} has a weight of shape [${b.dims.join(', ')}]`);
    const alpha = floatAttr(node, 'alpha', 1);
    const beta = floatAttr(node, 'beta', 1);
    const transB = intAttr(node, 'transB', 0) === 1;
    const [out, inF] = (transB ? b.dims : [b.dims[1], b.dims[0]]) as [number, number];
    const w = new Float32Array(out * inF);
    for (let o = 0; o < out; o++)
      for (let i = 0; i < inF; i++) w[o * inF + i] = alpha * b.data[transB ? o * inF + i : i * out + o]!;
    const state: Record<string, Const> = { weight: { dims: [out, inF], float: true, data: w } };
    if (node.input[2]) {
      const c = this.weight(node, 2, 'bias');
      if (c.data.length !== out && c.data.length !== 1)
        throw new OnnxError(`${nodeLabel(node)} has a bias of shape [${c.dims.join(', ')}]`);
      const bias = new Float32Array(out);
      for (let o = 0; o < out; o++) bias[o] = beta * c.data[c.data.length === 1 ? 0 : o]!;
      state.bias = { dims: [out], float: true, data: bias };
    }
    this.add(
      node,
      { type: 'Linear', inFeatures: inF, outFeatures: out, bias: 'bias' in state },
      [node.input[0]!],
      state,
    );
  }

  private matmul(node: NodeProto): void {
    const b = this.weight(node, 1, 'weight');
    if (b.dims.length !== 2)
      throw new OnnxError(
        `${nodeLabel(node)} multiplies by a [${b.dims.join(', ')}] constant; dlf needs a 2-D weight`,
      );
    const [inF, out] = b.dims as [number, number];
    const w = new Float32Array(out * inF);
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) w[o * inF + i] = b.data[i * out + o]!;
    const weight: Const = { dims: [out, inF], float: true, data: w };
    this.add(node, { type: 'Linear', inFeatures: inF, outFeatures: out, bias: false }, [node.input[0]!], {
      weight,
    });
  }

  private pool(node: NodeProto, type: 'MaxPool2d' | 'AvgPool2d'): void {
    const k = intsAttr(node, 'kernel_shape', []);
    if (k.length !== 2) throw new OnnxError(`${nodeLabel(node)} is not a 2-D pool`);
    if (intAttr(node, 'ceil_mode', 0) !== 0)
      throw new OnnxError(`${nodeLabel(node)} uses ceil_mode, which dlf does not have`);
    if (intsAttr(node, 'dilations', [1, 1]).some((d) => d !== 1))
      throw new OnnxError(`${nodeLabel(node)} has dilations, which dlf pools lack`);
    if (node.output.length > 1 && node.output[1] !== '')
      throw new OnnxError(`${nodeLabel(node)} returns indices, which dlf does not import`);
    const padding = this.symmetricPads(node);
    if (
      type === 'AvgPool2d' &&
      (padding[0] > 0 || padding[1] > 0) &&
      intAttr(node, 'count_include_pad', 0) !== 1
    ) {
      throw new OnnxError(
        `${nodeLabel(node)} excludes padding from its averages; dlf's AvgPool2d counts it (count_include_pad = 1)`,
      );
    }
    this.add(node, { type, kernelSize: k, stride: intsAttr(node, 'strides', [1, 1]), padding }, [
      node.input[0]!,
    ]);
  }

  private batchNorm(node: NodeProto): void {
    if (node.output.slice(1).some((o) => o !== '' && this.g.consumers.has(o))) {
      throw new OnnxError(`${nodeLabel(node)} is in training mode (its statistics outputs are used)`);
    }
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((k) =>
      this.weight(node, k, 'statistic'),
    ) as Const[];
    const n = scale!.data.length;
    const one = (c: Const): Const => ({ dims: [n], float: true, data: c.data });
    if ([bias, mean, variance].some((c) => c!.data.length !== n))
      throw new OnnxError(`${nodeLabel(node)} has statistics of different lengths`);
    this.add(
      node,
      {
        type: 'BatchNorm2d',
        numFeatures: n,
        eps: floatAttr(node, 'epsilon', 1e-5),
        momentum: 1 - floatAttr(node, 'momentum', 0.9),
      },
      [node.input[0]!],
      { weight: one(scale!), bias: one(bias!), runningMean: one(mean!), runningVar: one(variance!) },
    );
  }

  private reshape(node: NodeProto): void {
    const shape = this.constOf(node.input[1] ?? '');
    const t = shape ? Array.from(shape.data) : [];
    if (
      !shape ||
      t.length !== 2 ||
      t[1] === 0 ||
      (t[1]! < 1 && t[1] !== -1) ||
      (t[1] === -1 && t[0] === -1)
    ) {
      throw new OnnxError(
        `${nodeLabel(node)} reshapes to [${t.join(', ')}]; dlf imports a Reshape only as a flatten to [batch, features]`,
      );
    }
    this.add(node, { type: 'Flatten', startDim: 1 }, [node.input[0]!]);
    if (t[1]! > 0) this.flatSizes.set(node.output[0]!, t[1]!);
  }

  convert(node: NodeProto): void {
    if (this.absorbed.has(node)) return;
    const x = node.input[0]!;
    const one = (spec: LayerSpec): void => this.add(node, spec, [x]);
    switch (node.opType) {
      case 'Conv':
        this.conv(node);
        return;
      case 'Gemm':
        this.gemm(node);
        return;
      case 'MatMul':
        this.matmul(node);
        return;
      case 'MaxPool':
        this.pool(node, 'MaxPool2d');
        return;
      case 'AveragePool':
        this.pool(node, 'AvgPool2d');
        return;
      case 'GlobalAveragePool': {
        // Followed only by Flatten(axis 1): one GlobalAvgPool2d, as dlf's zoo writes it.
        const flatten = this.firstUser.get(node.output[0]!);
        if (
          flatten?.opType === 'Flatten' &&
          intAttr(flatten, 'axis', 1) === 1 &&
          this.only(node.output[0]!)
        ) {
          one({ type: 'GlobalAvgPool2d' });
          this.absorbed.add(flatten);
          this.made.set(flatten.output[0]!, node.output[0]!);
          return;
        }
        one({ type: 'AdaptiveAvgPool2d', outputSize: [1, 1] });
        return;
      }
      case 'BatchNormalization':
        this.batchNorm(node);
        return;
      case 'Relu':
        one({ type: 'ReLU' });
        return;
      case 'Clip': {
        // Bounds are inputs from opset 11, attributes before; ReLU6 exports as Clip(0, 6).
        const bound = (k: number, name: string, none: number) =>
          node.input[k] ? scalarOf(this.constOf(node.input[k]!)) : floatAttr(node, name, none);
        const lo = bound(1, 'min', Number.NEGATIVE_INFINITY);
        const hi = bound(2, 'max', Number.POSITIVE_INFINITY);
        if (lo === undefined || hi === undefined)
          throw new OnnxError(`${nodeLabel(node)} has bounds that are not constant scalars`);
        if (lo === 0 && hi === 6) one({ type: 'ReLU6' });
        else if (lo === 0 && hi === Number.POSITIVE_INFINITY) one({ type: 'ReLU' });
        else
          throw new OnnxError(
            `${nodeLabel(node)} clips to [${lo}, ${hi}]; dlf imports Clip to [0, 6] (ReLU6) and [0, inf) (ReLU)`,
          );
        return;
      }
      case 'LeakyRelu':
        one({ type: 'LeakyReLU', negativeSlope: floatAttr(node, 'alpha', 0.01) });
        return;
      case 'Sigmoid':
        one({ type: 'Sigmoid' });
        return;
      case 'Tanh':
        one({ type: 'Tanh' });
        return;
      case 'HardSwish':
        one({ type: 'Hardswish' });
        return;
      case 'Gelu': {
        const a = attr(node, 'approximate')?.s;
        if (a && new TextDecoder().decode(a) !== 'none')
          throw new OnnxError(`${nodeLabel(node)} is the tanh approximation, which dlf lacks`);
        one({ type: 'GELU' });
        return;
      }
      case 'Flatten':
        if (intAttr(node, 'axis', 1) !== 1)
          throw new OnnxError(
            `${nodeLabel(node)} flattens from axis ${intAttr(node, 'axis', 1)}; dlf imports axis 1`,
          );
        one({ type: 'Flatten', startDim: 1 });
        return;
      case 'Reshape':
        this.reshape(node);
        return;
      case 'Dropout': {
        if (node.output.length > 1 && node.output[1] !== '' && this.g.consumers.has(node.output[1]!)) {
          throw new OnnxError(`${nodeLabel(node)} has its mask used, which dlf does not import`);
        }
        const ratio = scalarOf(this.constOf(node.input[1] ?? '')) ?? floatAttr(node, 'ratio', 0.5);
        one({ type: 'Dropout', p: ratio });
        return;
      }
      case 'Pad':
        this.pad(node);
        return;
      case 'Identity':
        this.alias(node, x);
        return;
      case 'Softmax':
        if (node.output[0] === this.g.output) {
          this.notes.push(
            `dropped the final Softmax (${node.name || node.output[0]}): dlf models output logits, and dlf predict applies softmax`,
          );
          this.alias(node, x);
          return;
        }
        throw new OnnxError(`${nodeLabel(node)} is not the last node; dlf imports Softmax only at the end`);
      case 'Mul': {
        const found = this.patterns.get(node);
        if (found) {
          this.add(node, found.spec, [found.x]);
          return;
        }
        // A layer output times a one-value constant: a Scale.
        const k = node.input.findIndex(
          (i) => this.constOf(i)?.float === true && scalarOf(this.constOf(i)) !== undefined,
        );
        const x = node.input[1 - k];
        if (node.input.length === 2 && k >= 0 && x !== undefined && this.made.has(x)) {
          this.add(node, { type: 'Scale', factor: scalarOf(this.constOf(node.input[k]!))! }, [x]);
          return;
        }
        break;
      }
      case 'Add':
        if (this.biasAdd(node)) return;
        if (node.input.every((i) => this.made.has(i))) {
          this.add(node, { type: 'Add' }, node.input);
          return;
        }
        break;
      case 'Concat':
        if (node.input.every((i) => this.made.has(i))) {
          this.add(node, { type: 'Concat', axis: intAttr(node, 'axis', 1) }, node.input);
          return;
        }
        break;
    }
    throw new OnnxError(`${nodeLabel(node)}: dlf cannot import the op ${node.opType} here`);
  }
}

/** Converts a prepared graph's nodes to a dlf node list. */
export function convertGraph(g: PreparedGraph): Converted {
  const c = new Converter(g);
  try {
    c.findPatterns();
    for (const n of g.nodes) c.convert(n);
  } catch (e) {
    for (const t of c.tensors) t.dispose();
    throw e;
  }
  const output = c.outputOf(g.output);
  if (output === undefined) throw new OnnxError(`the graph output '${g.output}' is not made by a layer`);
  return { nodes: c.nodes, output, tensors: c.tensors, flatSizes: c.flatSizes, notes: c.notes };
}
