/**
 * The ONNX messages dlf reads and writes (field numbers from onnx.proto, IR version 8): ModelProto,
 * GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto (tensor types only),
 * OperatorSetIdProto and StringStringEntryProto. Fields dlf does not use are skipped when read and
 * never written. Decoding is in `decode.ts`.
 */
import { ProtoWriter } from './wire.js';

/** ONNX TensorProto.DataType codes dlf handles. */
export const DataType = Object.freeze({
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  DOUBLE: 11,
});

/** AttributeProto.AttributeType codes. */
export const AttrType = Object.freeze({
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
});

/** A key/value pair (metadata_props, external_data). */
export interface StringEntry {
  key: string;
  value: string;
}

/** A TensorProto: data stays a view into the file (`rawData`) or the decoded typed lists. */
export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  externalData: StringEntry[];
  /** 0: in the file, 1: external. */
  dataLocation: number;
}

/** An AttributeProto (the kinds ONNX operators use; sparse tensors and type protos are refused). */
export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
}

/** A NodeProto. */
export interface NodeProto {
  name: string;
  opType: string;
  domain: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
  docString?: string;
}

/** A ValueInfoProto of a tensor: element type and shape (a dim is a number, a name, or unknown). */
export interface ValueInfoProto {
  name: string;
  elemType: number;
  shape?: (number | string | null)[];
}

/** A GraphProto. */
export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  docString?: string;
}

/** An OperatorSetIdProto. */
export interface OpsetId {
  domain: string;
  version: number;
}

/** A ModelProto. */
export interface ModelProto {
  irVersion: number;
  opsetImport: OpsetId[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  graph: GraphProto;
  metadataProps: StringEntry[];
}

// ---------------------------------------------------------------- encoding

function entry(e: StringEntry): ProtoWriter {
  return new ProtoWriter().string(1, e.key).string(2, e.value);
}

function tensorWriter(t: TensorProto): ProtoWriter {
  const w = new ProtoWriter().packedInts(1, t.dims).int(2, t.dataType).string(8, t.name);
  if (t.rawData) w.bytes(9, t.rawData);
  w.packedFloats(4, t.floatData).packedInts(5, t.int32Data).packedInts(7, t.int64Data);
  for (const e of t.externalData) w.message(13, entry(e));
  return w.int(14, t.dataLocation);
}

function attributeWriter(a: AttributeProto): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name).int(20, a.type);
  if (a.type === AttrType.FLOAT) w.float(2, a.f ?? 0);
  if (a.type === AttrType.INT) w.int(3, a.i ?? 0, true);
  if (a.type === AttrType.STRING) w.bytes(4, a.s ?? new Uint8Array(0));
  if (a.type === AttrType.TENSOR && a.t) w.message(5, tensorWriter(a.t));
  if (a.type === AttrType.GRAPH && a.g) w.message(6, graphWriter(a.g));
  if (a.type === AttrType.FLOATS) w.packedFloats(7, a.floats);
  if (a.type === AttrType.INTS) w.packedInts(8, a.ints);
  if (a.type === AttrType.STRINGS) for (const s of a.strings) w.bytes(9, s);
  return w;
}

function nodeWriter(n: NodeProto): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.input) w.bytes(1, new TextEncoder().encode(i));
  for (const o of n.output) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const a of n.attribute) w.message(5, attributeWriter(a));
  return w.string(6, n.docString).string(7, n.domain);
}

function valueInfoWriter(v: ValueInfoProto): ProtoWriter {
  const tensorType = new ProtoWriter().int(1, v.elemType);
  if (v.shape) {
    const shape = new ProtoWriter();
    for (const d of v.shape) {
      const dim = new ProtoWriter();
      if (typeof d === 'number') dim.int(1, d, true);
      else if (typeof d === 'string') dim.string(2, d);
      shape.message(1, dim);
    }
    tensorType.message(2, shape);
  }
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

function graphWriter(g: GraphProto): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.node) w.message(1, nodeWriter(n));
  w.string(2, g.name);
  for (const t of g.initializer) w.message(5, tensorWriter(t));
  w.string(10, g.docString);
  for (const v of g.input) w.message(11, valueInfoWriter(v));
  for (const v of g.output) w.message(12, valueInfoWriter(v));
  for (const v of g.valueInfo) w.message(13, valueInfoWriter(v));
  return w;
}

/**
 * Serialises a model to protobuf bytes.
 *
 * @example
 * ```ts
 * writeFileSync('model.onnx', encodeModel(model));
 * ```
 */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new ProtoWriter().int(1, m.irVersion).string(2, m.producerName).string(3, m.producerVersion);
  w.string(4, m.domain).int(5, m.modelVersion).string(6, m.docString).message(7, graphWriter(m.graph));
  for (const o of m.opsetImport) w.message(8, new ProtoWriter().string(1, o.domain).int(2, o.version, true));
  for (const e of m.metadataProps) w.message(14, entry(e));
  return w.finish();
}

/**
 * A TensorProto with the given fields and empty data lists.
 *
 * @example
 * ```ts
 * tensorProto({ name: 'shape', dims: [2], dataType: DataType.INT64, int64Data: [0, -1] });
 * ```
 */
export function tensorProto(fields: Partial<TensorProto> = {}): TensorProto {
  return {
    name: '',
    dims: [],
    dataType: 0,
    floatData: [],
    int32Data: [],
    int64Data: [],
    doubleData: [],
    externalData: [],
    dataLocation: 0,
    ...fields,
  };
}
