/**
 * A structured mutator for ONNX files: byte flips mostly break the protobuf framing, so most cases
 * would only test the decoder. This one decodes a seed, changes what the importer interprets (op
 * types, attributes, wiring, tensor shapes and types, external-data references, opsets), and
 * encodes it again.
 */
import { decodeModel, encodeModel, type GraphProto, type ModelProto, type NodeProto } from '@dlf/onnx';
import { mutate, type Rng } from './mutate.js';

const INTS = [0, -1, 1, 2, 3, 7, 255, 65536, 8192, 20000, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, 1e15];
const FLOATS = [0, -1, 1e-300, 1e300, Number.NaN, Number.POSITIVE_INFINITY, 0.5, -0.0];
const OPS = [
  'Conv',
  'Gemm',
  'MatMul',
  'Add',
  'Relu',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'BatchNormalization',
  'Concat',
  'Flatten',
  'Reshape',
  'Dropout',
  'Softmax',
  'Identity',
  'Sigmoid',
  'Constant',
  'If',
  'Loop',
  '',
];
const LOCATIONS = ['missing.bin', '../../../../etc/passwd', '/dev/zero', '.', 'a\u0000b', 'x'.repeat(300)];

function mutateNode(node: NodeProto, graph: GraphProto, rng: Rng): void {
  switch (rng.int(6)) {
    case 0:
      node.opType = rng.pick(OPS);
      break;
    case 1: {
      const names = [
        ...graph.node.flatMap((n) => n.output),
        ...graph.initializer.map((t) => t.name),
        'nowhere',
      ];
      if (node.input.length) node.input[rng.int(node.input.length)] = rng.pick(names);
      else node.input.push(rng.pick(names));
      break;
    }
    case 2:
      if (node.input.length && rng.int(2)) node.input.splice(rng.int(node.input.length), 1);
      else node.input.push(rng.pick(node.input.length ? node.input : ['input']));
      break;
    default: {
      const a = node.attribute.length ? rng.pick(node.attribute) : undefined;
      if (!a) break;
      if (a.ints.length) a.ints[rng.int(a.ints.length)] = rng.pick(INTS);
      else if (a.i !== undefined) a.i = rng.pick(INTS);
      else if (a.floats.length) a.floats[rng.int(a.floats.length)] = rng.pick(FLOATS);
      else if (a.f !== undefined) a.f = rng.pick(FLOATS);
      if (rng.int(6) === 0) a.ints = Array.from({ length: rng.int(12) }, () => rng.pick(INTS));
    }
  }
}

function mutateModel(m: ModelProto, rng: Rng): void {
  const g = m.graph;
  switch (rng.int(8)) {
    case 0:
    case 1:
    case 2:
      if (g.node.length) mutateNode(rng.pick(g.node), g, rng);
      break;
    case 3: {
      const t = g.initializer.length ? rng.pick(g.initializer) : undefined;
      if (!t) break;
      const what = rng.int(4);
      if (what === 0 && t.dims.length) t.dims[rng.int(t.dims.length)] = rng.pick(INTS);
      else if (what === 1) t.dataType = rng.pick([0, 1, 2, 6, 7, 10, 11, 16, 99]);
      else if (what === 2 && t.rawData) t.rawData = t.rawData.subarray(0, rng.int(t.rawData.length + 1));
      else {
        t.dataLocation = 1;
        t.externalData = [
          { key: 'location', value: rng.pick(LOCATIONS) },
          { key: 'offset', value: String(rng.pick(INTS)) },
          { key: 'length', value: String(rng.pick(INTS)) },
        ];
      }
      break;
    }
    case 4: {
      const v = rng.pick([...g.input, ...g.output]);
      if (v?.shape?.length) v.shape[rng.int(v.shape.length)] = rng.pick([...INTS, null, 'batch']);
      break;
    }
    case 5:
      if (g.node.length) {
        const i = rng.int(g.node.length);
        if (rng.int(2)) g.node.splice(i, 1);
        else g.node.splice(rng.int(g.node.length), 0, structuredClone(g.node[i]!));
      }
      break;
    case 6:
      if (m.opsetImport.length) m.opsetImport[0]!.version = rng.pick([1, 7, 11, 12, 13, 17, 18, 99]);
      break;
    default:
      m.metadataProps.push({
        key: rng.pick(['dlf.classes', 'dlf.inputShape', 'dlf.preprocess']),
        value: rng.pick(['[', '[1e9,1,1]', '{"size":[0,0]}', '["a"]', '\u001b[2J']),
      });
  }
}

/**
 * One ONNX case: usually a structured change of a decoded seed (1–3 changes), sometimes raw byte
 * mutation (the decoder's own cases).
 */
export function mutateOnnx(seed: Uint8Array, rng: Rng, seeds: Uint8Array[]): Uint8Array {
  if (rng.int(4) === 0) return mutate(seed, rng, rng.pick(seeds));
  const model = decodeModel(seed);
  for (let n = 1 + rng.int(3); n > 0; n--) mutateModel(model, rng);
  return encodeModel(model);
}
