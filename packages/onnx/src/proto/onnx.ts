/**
 * The ONNX messages dlf reads and writes (field numbers from onnx.proto, IR version 8): ModelProto,
 * GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto (tensor types only),
 * OperatorSetIdProto and StringStringEntryProto. Fields dlf does not use are skipped when read and
 * never written. Every list is capped, so a hostile file cannot make the decoder build huge arrays.
 */
import { ProtoReader, ProtoWriter, WIRE, type DecodeLimits } from './wire.js';

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

/**
 * Caps on list lengths (beyond them a file is refused as hostile or absurd). Integer lists are
 * capped lower than float lists: a one-byte varint becomes an 8-byte number, and large integer
 * tensors do not occur in the models dlf reads.
 */
const CAP = Object.freeze({
  nodes: 1_000_000,
  entries: 100_000,
  dims: 32,
  names: 1024,
  floats: 1 << 28,
  ints: 1 << 24,
});

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

// ---------------------------------------------------------------- decoding

function push<T>(r: ProtoReader, list: T[], value: T, cap: number, what: string): void {
  if (list.length >= cap) r.fail(`more than ${cap} ${what}`);
  list.push(value);
}

function readEntry(r: ProtoReader): StringEntry {
  const e: StringEntry = { key: '', value: '' };
  while (r.more()) {
    const f = r.next();
    if (f.field === 1 && f.wire === WIRE.len) e.key = r.string();
    else if (f.field === 2 && f.wire === WIRE.len) e.value = r.string();
    else r.skip(f.wire);
  }
  return e;
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

function readTensor(r: ProtoReader): TensorProto {
  const t = tensorProto();
  while (r.more()) {
    const f = r.next();
    switch (f.field) {
      case 1:
        r.ints(f.wire, t.dims, CAP.dims);
        break;
      case 2:
        r.expect(f, WIRE.varint, 'data_type');
        t.dataType = r.int();
        break;
      case 4:
        r.floats(f.wire, t.floatData, CAP.floats);
        break;
      case 5:
        r.ints(f.wire, t.int32Data, CAP.ints);
        break;
      case 7:
        r.ints(f.wire, t.int64Data, CAP.ints);
        break;
      case 8:
        r.expect(f, WIRE.len, 'name');
        t.name = r.string();
        break;
      case 9:
        r.expect(f, WIRE.len, 'raw_data');
        t.rawData = r.bytes();
        break;
      case 10:
        r.fail('double_data tensors are not supported (use float)');
        break;
      case 13:
        r.expect(f, WIRE.len, 'external_data');
        push(r, t.externalData, readEntry(r.message('StringStringEntryProto')), CAP.names, 'entries');
        break;
      case 14:
        r.expect(f, WIRE.varint, 'data_location');
        t.dataLocation = r.int();
        break;
      default:
        r.skip(f.wire);
    }
  }
  return t;
}

function readAttribute(r: ProtoReader): AttributeProto {
  const a: AttributeProto = { name: '', type: 0, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
  while (r.more()) {
    const f = r.next();
    switch (f.field) {
      case 1:
        r.expect(f, WIRE.len, 'name');
        a.name = r.string();
        break;
      case 2:
        r.expect(f, WIRE.i32, 'f');
        a.f = r.float();
        break;
      case 3:
        r.expect(f, WIRE.varint, 'i');
        a.i = r.int();
        break;
      case 4:
        r.expect(f, WIRE.len, 's');
        a.s = r.bytes();
        break;
      case 5:
        r.expect(f, WIRE.len, 't');
        a.t = readTensor(r.message('TensorProto'));
        break;
      case 6:
        r.expect(f, WIRE.len, 'g');
        a.g = readGraph(r.message('GraphProto'));
        break;
      case 7:
        r.floats(f.wire, a.floats, CAP.floats);
        break;
      case 8:
        r.ints(f.wire, a.ints, CAP.ints);
        break;
      case 9:
        r.expect(f, WIRE.len, 'strings');
        push(r, a.strings, r.bytes(), CAP.entries, 'strings');
        break;
      case 10:
        r.expect(f, WIRE.len, 'tensors');
        push(r, a.tensors, readTensor(r.message('TensorProto')), CAP.entries, 'tensors');
        break;
      case 11:
        r.expect(f, WIRE.len, 'graphs');
        push(r, a.graphs, readGraph(r.message('GraphProto')), CAP.entries, 'graphs');
        break;
      case 20:
        r.expect(f, WIRE.varint, 'type');
        a.type = r.int();
        break;
      default:
        r.skip(f.wire);
    }
  }
  return a;
}

function readNode(r: ProtoReader): NodeProto {
  const n: NodeProto = { name: '', opType: '', domain: '', input: [], output: [], attribute: [] };
  while (r.more()) {
    const f = r.next();
    if (f.wire !== WIRE.len) {
      r.skip(f.wire);
      continue;
    }
    switch (f.field) {
      case 1:
        push(r, n.input, r.string(), CAP.names, 'node inputs');
        break;
      case 2:
        push(r, n.output, r.string(), CAP.names, 'node outputs');
        break;
      case 3:
        n.name = r.string();
        break;
      case 4:
        n.opType = r.string(256);
        break;
      case 5:
        push(r, n.attribute, readAttribute(r.message('AttributeProto')), CAP.names, 'attributes');
        break;
      case 6:
        n.docString = r.string();
        break;
      case 7:
        n.domain = r.string(256);
        break;
      default:
        r.skip(f.wire);
    }
  }
  return n;
}

function readDims(r: ProtoReader): (number | string | null)[] {
  const dims: (number | string | null)[] = [];
  while (r.more()) {
    const f = r.next();
    if (f.field !== 1 || f.wire !== WIRE.len) {
      r.skip(f.wire);
      continue;
    }
    const d = r.message('TensorShapeProto.Dimension');
    let dim: number | string | null = null;
    while (d.more()) {
      const g = d.next();
      if (g.field === 1 && g.wire === WIRE.varint) dim = d.int();
      else if (g.field === 2 && g.wire === WIRE.len) dim = d.string(256);
      else d.skip(g.wire);
    }
    push(r, dims, dim, CAP.dims, 'dimensions');
  }
  return dims;
}

function readValueInfo(r: ProtoReader): ValueInfoProto {
  const v: ValueInfoProto = { name: '', elemType: 0 };
  while (r.more()) {
    const f = r.next();
    if (f.field === 1 && f.wire === WIRE.len) v.name = r.string();
    else if (f.field === 2 && f.wire === WIRE.len) {
      const type = r.message('TypeProto');
      while (type.more()) {
        const g = type.next();
        if (g.field !== 1 || g.wire !== WIRE.len) {
          type.skip(g.wire);
          continue;
        }
        const tensorType = type.message('TypeProto.Tensor');
        while (tensorType.more()) {
          const h = tensorType.next();
          if (h.field === 1 && h.wire === WIRE.varint) v.elemType = tensorType.int();
          else if (h.field === 2 && h.wire === WIRE.len)
            v.shape = readDims(tensorType.message('TensorShapeProto'));
          else tensorType.skip(h.wire);
        }
      }
    } else r.skip(f.wire);
  }
  return v;
}

function readGraph(r: ProtoReader): GraphProto {
  const g: GraphProto = { name: '', node: [], initializer: [], input: [], output: [], valueInfo: [] };
  while (r.more()) {
    const f = r.next();
    if (f.wire !== WIRE.len) {
      r.skip(f.wire);
      continue;
    }
    switch (f.field) {
      case 1:
        push(r, g.node, readNode(r.message('NodeProto')), CAP.nodes, 'nodes');
        break;
      case 2:
        g.name = r.string();
        break;
      case 5:
        push(r, g.initializer, readTensor(r.message('TensorProto')), CAP.nodes, 'initializers');
        break;
      case 10:
        g.docString = r.string();
        break;
      case 11:
        push(r, g.input, readValueInfo(r.message('ValueInfoProto')), CAP.entries, 'graph inputs');
        break;
      case 12:
        push(r, g.output, readValueInfo(r.message('ValueInfoProto')), CAP.entries, 'graph outputs');
        break;
      case 13:
        push(r, g.valueInfo, readValueInfo(r.message('ValueInfoProto')), CAP.nodes, 'value infos');
        break;
      case 15:
        r.fail('sparse initializers are not supported');
        break;
      default:
        r.skip(f.wire);
    }
  }
  return g;
}

/**
 * Decodes a ModelProto. Hostile input gets an {@link OnnxError} (truncation, lengths beyond the
 * buffer, nesting deeper than `limits.maxDepth`, more fields than `limits.maxFields`, oversize
 * lists), never a crash or a large allocation: tensor data stays a view into `bytes`.
 *
 * @example
 * ```ts
 * const model = decodeModel(readFileSync('model.onnx'));
 * model.graph.node.map((n) => n.opType);
 * ```
 */
export function decodeModel(bytes: Uint8Array, limits: Partial<DecodeLimits> = {}): ModelProto {
  const r = ProtoReader.root(bytes, 'ModelProto', limits);
  const m: Partial<ModelProto> & { opsetImport: OpsetId[]; metadataProps: StringEntry[] } = {
    irVersion: 0,
    opsetImport: [],
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
  };
  while (r.more()) {
    const f = r.next();
    if (f.field === 1 && f.wire === WIRE.varint) m.irVersion = r.int();
    else if (f.field === 5 && f.wire === WIRE.varint) m.modelVersion = r.int();
    else if (f.wire !== WIRE.len) r.skip(f.wire);
    else if (f.field === 2) m.producerName = r.string();
    else if (f.field === 3) m.producerVersion = r.string();
    else if (f.field === 4) m.domain = r.string();
    else if (f.field === 6) m.docString = r.string();
    else if (f.field === 7) m.graph = readGraph(r.message('GraphProto'));
    else if (f.field === 8) {
      const o = r.message('OperatorSetIdProto');
      const id: OpsetId = { domain: '', version: 0 };
      while (o.more()) {
        const g = o.next();
        if (g.field === 1 && g.wire === WIRE.len) id.domain = o.string(256);
        else if (g.field === 2 && g.wire === WIRE.varint) id.version = o.int();
        else o.skip(g.wire);
      }
      push(r, m.opsetImport, id, CAP.names, 'opset imports');
    } else if (f.field === 14) {
      push(r, m.metadataProps, readEntry(r.message('StringStringEntryProto')), CAP.names, 'metadata entries');
    } else r.skip(f.wire);
  }
  if (!m.graph) r.fail('the model has no graph (is this an ONNX file?)');
  return m as ModelProto;
}
