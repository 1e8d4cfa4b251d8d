/**
 * The graph under construction during export: ONNX nodes, initializers (float32 as raw
 * little-endian bytes, exactly the tensor's bits) and unique value names.
 */
import {
  AttrType,
  type AttributeProto,
  DataType,
  type NodeProto,
  type TensorProto,
  tensorProto,
} from '../proto/onnx.js';

/** An attribute value as emitters give it. */
export type AttrValue = number | number[] | { float: number } | { floats: number[] } | string;

function attribute(name: string, v: AttrValue): AttributeProto {
  const a: AttributeProto = { name, type: 0, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
  if (typeof v === 'number') {
    a.type = AttrType.INT;
    a.i = v;
  } else if (Array.isArray(v)) {
    a.type = AttrType.INTS;
    a.ints = v;
  } else if (typeof v === 'string') {
    a.type = AttrType.STRING;
    a.s = new TextEncoder().encode(v);
  } else if ('float' in v) {
    a.type = AttrType.FLOAT;
    a.f = v.float;
  } else {
    a.type = AttrType.FLOATS;
    a.floats = v.floats;
  }
  return a;
}

/** Little-endian bytes of float32 values (a copy; the platform order is checked). */
export function float32Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** Collects the nodes and initializers of the exported graph. */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();

  constructor(readonly opset: number) {}

  /** A value name not used yet, derived from `base`. */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Adds a float32 initializer and returns its name. */
  constant(base: string, dims: number[], values: Float32Array): string {
    const name = this.fresh(base);
    this.initializers.push(
      tensorProto({ name, dims, dataType: DataType.FLOAT, rawData: float32Bytes(values) }),
    );
    return name;
  }

  /** Adds an int64 initializer (shapes for Reshape) and returns its name. */
  int64Constant(base: string, values: number[]): string {
    const name = this.fresh(base);
    this.initializers.push(
      tensorProto({ name, dims: [values.length], dataType: DataType.INT64, int64Data: values }),
    );
    return name;
  }

  /** A float32 scalar initializer. */
  scalar(base: string, v: number): string {
    return this.constant(base, [], new Float32Array([v]));
  }

  /** Adds one node; returns its (single) output name. */
  node(opType: string, inputs: string[], base: string, attrs: Record<string, AttrValue> = {}): string {
    const output = this.fresh(base);
    this.nodes.push({
      name: this.fresh(`${base}/${opType}`),
      opType,
      domain: '',
      input: inputs,
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }
}
