/**
 * Constant folding: nodes whose inputs are all constants are evaluated at import (shape
 * arithmetic, transposed or scaled weights, `Constant` nodes), so the model keeps only layers.
 */
import { OnnxError } from '../errors.js';
import { type AttributeProto, AttrType, DataType, type NodeProto } from '../proto/onnx.js';
import { type Const, type DataSource, constValue, elementCount } from './values.js';

/** A node's attribute by name. */
export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

/** Names a node in errors: its name (or output) and op type. */
export function nodeLabel(node: NodeProto): string {
  return `node '${node.name || node.output[0] || '?'}' (${node.opType})`;
}

/** An int attribute, or the fallback. */
export function intAttr(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a?.i ?? fallback;
}

/** An ints attribute, or the fallback. */
export function intsAttr(node: NodeProto, name: string, fallback: number[]): number[] {
  const a = attr(node, name);
  return a && a.type === AttrType.INTS ? a.ints : fallback;
}

/** A float attribute, or the fallback. */
export function floatAttr(node: NodeProto, name: string, fallback: number): number {
  return attr(node, name)?.f ?? fallback;
}

/** The ops folded when all their inputs are constants. */
export const FOLDABLE: ReadonlySet<string> = new Set([
  'Constant',
  'Identity',
  'Reshape',
  'Flatten',
  'Transpose',
  'Unsqueeze',
  'Squeeze',
  'Cast',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Sqrt',
  'Neg',
  'Concat',
  'Shape',
  'Gather',
]);

function make(dims: number[], float: boolean, where: string): Const {
  const n = elementCount(dims, where);
  return { dims, float, data: float ? new Float32Array(n) : new Float64Array(n) };
}

function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

function axisOf(axis: number, rank: number, where: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new OnnxError(`${where} has axis ${axis} for rank ${rank}`);
  return a;
}

function binary(op: string, a: Const, b: Const, where: string): Const {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: number[]): number[] => [...new Array<number>(rank - d.length).fill(1), ...d];
  const da = pad(a.dims);
  const db = pad(b.dims);
  const dims = da.map((x, i) => {
    const y = db[i]!;
    if (x !== y && x !== 1 && y !== 1)
      throw new OnnxError(`${where} cannot broadcast [${a.dims}] with [${b.dims}]`);
    return x === 1 ? y : x;
  });
  const out = make(dims, a.float || b.float, where);
  const sa = strides(da).map((s, i) => (da[i] === 1 ? 0 : s));
  const sb = strides(db).map((s, i) => (db[i] === 1 ? 0 : s));
  const so = strides(dims);
  const f = {
    Add: (x: number, y: number) => x + y,
    Sub: (x: number, y: number) => x - y,
    Mul: (x: number, y: number) => x * y,
    Div: (x: number, y: number) => (out.float ? x / y : Math.trunc(x / y)),
  }[op as 'Add']!;
  for (let i = 0; i < out.data.length; i++) {
    let ia = 0;
    let ib = 0;
    let r = i;
    for (let d = 0; d < rank; d++) {
      const k = Math.floor(r / so[d]!);
      r -= k * so[d]!;
      ia += k * sa[d]!;
      ib += k * sb[d]!;
    }
    out.data[i] = f(a.data[ia]!, b.data[ib]!);
  }
  return out;
}

/** Resolves a Reshape target (0 copies the input dim, one -1 is inferred). */
export function reshapeDims(from: readonly number[], target: readonly number[], where: string): number[] {
  const count = from.reduce((p, d) => p * d, 1);
  const dims = target.map((d, i) => (d === 0 ? (from[i] ?? Number.NaN) : d));
  const known = dims.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  const inferred = dims.filter((d) => d === -1).length;
  if (
    inferred > 1 ||
    dims.some((d) => !Number.isInteger(d) || d < -1) ||
    (inferred === 0 && known !== count)
  ) {
    throw new OnnxError(`${where} cannot reshape [${from.join(', ')}] to [${target.join(', ')}]`);
  }
  if (inferred === 1) {
    if (known === 0 || count % known !== 0)
      throw new OnnxError(`${where} cannot reshape [${from.join(', ')}] to [${target.join(', ')}]`);
    return dims.map((d) => (d === -1 ? count / known : d));
  }
  return dims;
}

function transpose(x: Const, perm: number[], where: string): Const {
  const rank = x.dims.length;
  const p = perm.length === 0 ? x.dims.map((_, i) => rank - 1 - i) : perm;
  if (p.length !== rank || new Set(p).size !== rank || p.some((a) => a < 0 || a >= rank)) {
    throw new OnnxError(`${where} has the invalid perm [${perm.join(', ')}]`);
  }
  const dims = p.map((a) => x.dims[a]!);
  const out = make(dims, x.float, where);
  const si = strides(x.dims);
  const so = strides(dims);
  for (let i = 0; i < out.data.length; i++) {
    let r = i;
    let src = 0;
    for (let d = 0; d < rank; d++) {
      const k = Math.floor(r / so[d]!);
      r -= k * so[d]!;
      src += k * si[p[d]!]!;
    }
    out.data[i] = x.data[src]!;
  }
  return out;
}

function axesOf(node: NodeProto, inputs: (Const | undefined)[], opset: number): number[] {
  if (opset >= 13 && inputs[1]) return Array.from(inputs[1].data);
  return intsAttr(node, 'axes', []);
}

function concat(parts: Const[], axis: number, where: string): Const {
  const rank = parts[0]!.dims.length;
  const a = axisOf(axis, rank, where);
  const dims = [...parts[0]!.dims];
  dims[a] = parts.reduce((s, p) => s + p.dims[a]!, 0);
  const out = make(
    dims,
    parts.some((p) => p.float),
    where,
  );
  const outer = dims.slice(0, a).reduce((p, d) => p * d, 1);
  const inner = dims.slice(a + 1).reduce((p, d) => p * d, 1);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const len = p.dims[a]! * inner;
      out.data.set(p.data.subarray(o * len, (o + 1) * len), at);
      at += len;
    }
  }
  return out;
}

function gather(x: Const, idx: Const, axis: number, where: string): Const {
  const a = axisOf(axis, x.dims.length, where);
  const dims = [...x.dims.slice(0, a), ...idx.dims, ...x.dims.slice(a + 1)];
  const out = make(dims, x.float, where);
  const outer = x.dims.slice(0, a).reduce((p, d) => p * d, 1);
  const inner = x.dims.slice(a + 1).reduce((p, d) => p * d, 1);
  const n = x.dims[a]!;
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const raw of idx.data) {
      const i = raw < 0 ? raw + n : raw;
      if (!Number.isInteger(i) || i < 0 || i >= n)
        throw new OnnxError(`${where} has the index ${raw} out of range`);
      out.data.set(x.data.subarray((o * n + i) * inner, (o * n + i + 1) * inner), at);
      at += inner;
    }
  }
  return out;
}

/** Evaluates a foldable node on constant inputs (`inputs[i]` undefined for an omitted optional input). */
export function foldNode(
  node: NodeProto,
  inputs: (Const | undefined)[],
  opset: number,
  src: DataSource,
): Const {
  const where = nodeLabel(node);
  const x = inputs[0];
  const need = (c: Const | undefined): Const => {
    if (!c) throw new OnnxError(`${where} lacks an input`);
    return c;
  };
  switch (node.opType) {
    case 'Constant': {
      const a = node.attribute[0];
      if (!a) throw new OnnxError(`${where} has no value`);
      if (a.t) return constValue(a.t, src, where);
      if (a.type === AttrType.FLOAT) return { dims: [], float: true, data: new Float32Array([a.f ?? 0]) };
      if (a.type === AttrType.FLOATS)
        return { dims: [a.floats.length], float: true, data: Float32Array.from(a.floats) };
      if (a.type === AttrType.INT) return { dims: [], float: false, data: new Float64Array([a.i ?? 0]) };
      if (a.type === AttrType.INTS)
        return { dims: [a.ints.length], float: false, data: Float64Array.from(a.ints) };
      throw new OnnxError(`${where} has a '${a.name}' value dlf does not read`);
    }
    case 'Identity':
      return need(x);
    case 'Reshape': {
      const dims = reshapeDims(need(x).dims, Array.from(need(inputs[1]).data), where);
      return { ...x!, dims };
    }
    case 'Flatten': {
      const a = axisOf(intAttr(node, 'axis', 1), need(x).dims.length + 1, where);
      const lead = x!.dims.slice(0, a).reduce((p, d) => p * d, 1);
      return { ...x!, dims: [lead, x!.data.length / Math.max(lead, 1)] };
    }
    case 'Transpose':
      return transpose(need(x), intsAttr(node, 'perm', []), where);
    case 'Unsqueeze': {
      const axes = axesOf(node, inputs, opset);
      const rank = need(x).dims.length + axes.length;
      const set = new Set(axes.map((a) => axisOf(a, rank, where)));
      const dims: number[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) dims.push(set.has(i) ? 1 : x!.dims[k++]!);
      return { ...x!, dims };
    }
    case 'Squeeze': {
      const axes = axesOf(node, inputs, opset).map((a) => axisOf(a, need(x).dims.length, where));
      const dims = x!.dims.filter((d, i) => (axes.length === 0 ? d !== 1 : !axes.includes(i)));
      return { ...x!, dims };
    }
    case 'Cast': {
      const to = intAttr(node, 'to', DataType.FLOAT);
      const float = to === DataType.FLOAT || to === DataType.DOUBLE;
      const data = float ? Float32Array.from(need(x).data) : Float64Array.from(need(x).data, Math.trunc);
      return { dims: x!.dims, float, data };
    }
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
      return binary(node.opType, need(x), need(inputs[1]), where);
    case 'Sqrt':
      return { ...need(x), data: x!.data.map(Math.sqrt) };
    case 'Neg':
      return { ...need(x), data: x!.data.map((v) => -v) };
    case 'Concat':
      return concat(inputs.map(need), intAttr(node, 'axis', 0), where);
    case 'Shape':
      return { dims: [need(x).dims.length], float: false, data: Float64Array.from(x!.dims) };
    case 'Gather':
      return gather(need(x), need(inputs[1]), intAttr(node, 'axis', 0), where);
    default:
      throw new OnnxError(`${where} cannot be folded`);
  }
}
