/**
 * Decoding the ONNX messages: each message is a table of field handlers (field number → how its
 * value is read and where it goes), run by one loop that skips unknown fields. Every list is capped,
 * so a hostile file cannot make the decoder build huge arrays.
 */
import {
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type OpsetId,
  type StringEntry,
  type TensorProto,
  tensorProto,
  type ValueInfoProto,
} from './onnx.js';
import { type DecodeLimits, ProtoReader, WIRE } from './wire.js';

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

/** Reads one field's value into a message under construction. */
type Handler = (r: ProtoReader, wire: number, m: Record<string, unknown>) => void;

/** Runs a message's field handlers over its fields; fields without a handler are skipped. */
function decode<T>(r: ProtoReader, m: T, fields: Record<number, Handler>): T {
  while (r.more()) {
    const f = r.next();
    const handle = fields[f.field];
    if (handle) handle(r, f.wire, m as Record<string, unknown>);
    else r.skip(f.wire);
  }
  return m;
}

/** A handler that reads only values of one wire type (others are skipped, as protobuf allows). */
function typed(wire: number, read: Handler): Handler {
  return (r, w, m) => (w === wire ? read(r, w, m) : r.skip(w));
}

const str = (key: string, max?: number): Handler =>
  typed(WIRE.len, (r, _w, m) => {
    m[key] = r.string(max);
  });
const int = (key: string): Handler =>
  typed(WIRE.varint, (r, _w, m) => {
    m[key] = r.int();
  });
const float = (key: string): Handler =>
  typed(WIRE.i32, (r, _w, m) => {
    m[key] = r.float();
  });
const bytes = (key: string): Handler =>
  typed(WIRE.len, (r, _w, m) => {
    m[key] = r.bytes();
  });
const ints =
  (key: string, cap: number): Handler =>
  (r, w, m) =>
    r.ints(w, m[key] as number[], cap);
const floats =
  (key: string, cap: number): Handler =>
  (r, w, m) =>
    r.floats(w, m[key] as number[], cap);
const refuse =
  (why: string): Handler =>
  (r) =>
    r.fail(why);

/** A nested message read by `read` into `m[key]`. */
const one = <T>(key: string, what: string, read: (r: ProtoReader) => T): Handler =>
  typed(WIRE.len, (r, _w, m) => {
    m[key] = read(r.message(what));
  });

/** A repeated length-delimited field, each value read by `read`, at most `cap` of them. */
function repeated<T>(key: string, read: (r: ProtoReader) => T, cap: number, label: string): Handler {
  return typed(WIRE.len, (r, _w, m) => {
    const list = m[key] as T[];
    if (list.length >= cap) r.fail(`more than ${cap} ${label}`);
    list.push(read(r));
  });
}
/** A repeated field of nested messages. */
const many = <T>(
  key: string,
  what: string,
  read: (r: ProtoReader) => T,
  cap: number,
  label: string,
): Handler => repeated(key, (r) => read(r.message(what)), cap, label);

const readEntry = (r: ProtoReader): StringEntry =>
  decode(r, { key: '', value: '' }, { 1: str('key'), 2: str('value') });

const TENSOR: Record<number, Handler> = {
  1: ints('dims', CAP.dims),
  2: int('dataType'),
  4: floats('floatData', CAP.floats),
  5: ints('int32Data', CAP.ints),
  7: ints('int64Data', CAP.ints),
  8: str('name'),
  9: bytes('rawData'),
  10: refuse('double_data tensors are not supported (use float)'),
  13: many('externalData', 'StringStringEntryProto', readEntry, CAP.names, 'external data entries'),
  14: int('dataLocation'),
};
const readTensor = (r: ProtoReader): TensorProto => decode(r, tensorProto(), TENSOR);

const ATTRIBUTE: Record<number, Handler> = {
  1: str('name'),
  2: float('f'),
  3: int('i'),
  4: bytes('s'),
  5: one('t', 'TensorProto', readTensor),
  6: one('g', 'GraphProto', (r) => readGraph(r)),
  7: floats('floats', CAP.floats),
  8: ints('ints', CAP.ints),
  9: repeated('strings', (r) => r.bytes(), CAP.entries, 'strings'),
  10: many('tensors', 'TensorProto', readTensor, CAP.entries, 'tensors'),
  11: many('graphs', 'GraphProto', (r) => readGraph(r), CAP.entries, 'graphs'),
  20: int('type'),
};
const readAttribute = (r: ProtoReader): AttributeProto =>
  decode(r, { name: '', type: 0, floats: [], ints: [], strings: [], tensors: [], graphs: [] }, ATTRIBUTE);

const NODE: Record<number, Handler> = {
  1: repeated('input', (r) => r.string(), CAP.names, 'node inputs'),
  2: repeated('output', (r) => r.string(), CAP.names, 'node outputs'),
  3: str('name'),
  4: str('opType', 256),
  5: many('attribute', 'AttributeProto', readAttribute, CAP.names, 'attributes'),
  6: str('docString'),
  7: str('domain', 256),
};
const readNode = (r: ProtoReader): NodeProto =>
  decode(r, { name: '', opType: '', domain: '', input: [], output: [], attribute: [] }, NODE);

/** TensorShapeProto.Dimension: a size, a symbolic name, or unknown. */
const readDim = (r: ProtoReader): number | string | null =>
  decode(r, { dim: null as number | string | null }, { 1: int('dim'), 2: str('dim', 256) }).dim;
const readShape = (r: ProtoReader): (number | string | null)[] =>
  decode(r, { dims: [] }, { 1: many('dims', 'TensorShapeProto.Dimension', readDim, CAP.dims, 'dimensions') })
    .dims;

/** TypeProto.Tensor, read into the value info (element type and shape). */
const TENSOR_TYPE: Record<number, Handler> = {
  1: int('elemType'),
  2: one('shape', 'TensorShapeProto', readShape),
};
const VALUE_INFO: Record<number, Handler> = {
  1: str('name'),
  // TypeProto: only its tensor_type (field 1) is read; its fields land in the value info itself.
  2: typed(WIRE.len, (r, _w, m) => {
    decode(r.message('TypeProto'), m, {
      1: typed(WIRE.len, (t, _x, v) => {
        decode(t.message('TypeProto.Tensor'), v, TENSOR_TYPE);
      }),
    });
  }),
};
const readValueInfo = (r: ProtoReader): ValueInfoProto => decode(r, { name: '', elemType: 0 }, VALUE_INFO);

const GRAPH: Record<number, Handler> = {
  1: many('node', 'NodeProto', readNode, CAP.nodes, 'nodes'),
  2: str('name'),
  5: many('initializer', 'TensorProto', readTensor, CAP.nodes, 'initializers'),
  10: str('docString'),
  11: many('input', 'ValueInfoProto', readValueInfo, CAP.entries, 'graph inputs'),
  12: many('output', 'ValueInfoProto', readValueInfo, CAP.entries, 'graph outputs'),
  13: many('valueInfo', 'ValueInfoProto', readValueInfo, CAP.nodes, 'value infos'),
  15: refuse('sparse initializers are not supported'),
};
function readGraph(r: ProtoReader): GraphProto {
  return decode(r, { name: '', node: [], initializer: [], input: [], output: [], valueInfo: [] }, GRAPH);
}

const readOpset = (r: ProtoReader): OpsetId =>
  decode(r, { domain: '', version: 0 }, { 1: str('domain', 256), 2: int('version') });

const MODEL: Record<number, Handler> = {
  1: int('irVersion'),
  2: str('producerName'),
  3: str('producerVersion'),
  4: str('domain'),
  5: int('modelVersion'),
  6: str('docString'),
  7: one('graph', 'GraphProto', readGraph),
  8: many('opsetImport', 'OperatorSetIdProto', readOpset, CAP.names, 'opset imports'),
  14: many('metadataProps', 'StringStringEntryProto', readEntry, CAP.names, 'metadata entries'),
};

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
  const m = decode(
    r,
    {
      irVersion: 0,
      opsetImport: [],
      producerName: '',
      producerVersion: '',
      domain: '',
      modelVersion: 0,
      docString: '',
      metadataProps: [],
    } as Omit<ModelProto, 'graph'> & { graph?: GraphProto },
    MODEL,
  );
  if (!m.graph) r.fail('the model has no graph (is this an ONNX file?)');
  return m as ModelProto;
}
