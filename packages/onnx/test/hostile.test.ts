import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphModule, seedCnn } from '@dlf/nn';
import { describe, expect, it } from 'vitest';
import {
  AttrType,
  type AttributeProto,
  DataType,
  decodeModel,
  encodeModel,
  exportOnnx,
  type GraphProto,
  importOnnx,
  type ModelProto,
  type NodeProto,
  OnnxError,
  type TensorProto,
  tensorProto,
} from '../src/index.js';
import { tempDir } from './helpers.js';

const dir = tempDir();

function floats(name: string, dims: number[], values?: number[]): TensorProto {
  const n = dims.reduce((p, d) => p * d, 1);
  const v = values ?? Array.from({ length: n }, (_, i) => ((i * 7) % 11) / 10 - 0.5);
  return tensorProto({ name, dims, dataType: DataType.FLOAT, floatData: v });
}

function ints(name: string, values: number[]): TensorProto {
  return { ...floats(name, [values.length], []), dataType: DataType.INT64, floatData: [], int64Data: values };
}

function node(
  opType: string,
  input: string[],
  output: string[],
  attribute: AttributeProto[] = [],
): NodeProto {
  return { name: `${opType}_${output[0]}`, opType, domain: '', input, output, attribute };
}

function intAttr(name: string, i: number): AttributeProto {
  return { name, type: AttrType.INT, i, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
}

function model(graph: Partial<GraphProto>, opset = 13): ModelProto {
  return {
    irVersion: 7,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'test',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    graph: {
      name: 'g',
      node: [],
      initializer: [],
      input: [{ name: 'x', elemType: DataType.FLOAT, shape: [1, 1, 2, 2] }],
      output: [{ name: 'y', elemType: DataType.FLOAT, shape: [1, 3] }],
      valueInfo: [],
      ...graph,
    },
    metadataProps: [],
  };
}

const importBytes = (m: ModelProto) => importOnnx(encodeModel(m));

describe('importOnnx: graphs built by hand', () => {
  it('MatMul + Add becomes a Linear with its bias; Constant, Transpose and Mul fold', async () => {
    const m = model({
      initializer: [floats('wt', [3, 4]), floats('b', [3], [0.5, -1, 2]), floats('two', [], [2])],
      node: [
        node('Transpose', ['wt'], ['w'], [{ ...intAttr('perm', 0), type: AttrType.INTS, ints: [1, 0] }]),
        node('Mul', ['w', 'two'], ['w2']),
        node('Flatten', ['x'], ['f']),
        node('MatMul', ['f', 'w2'], ['h']),
        node('Add', ['h', 'b'], ['y']),
      ],
    });
    const { model: net } = await importBytes(m);
    const linear = net.stateDict();
    expect([...linear.keys()]).toEqual(['1.weight', '1.bias']);
    const w = linear.get('1.weight')!.toTypedArray();
    const expected = floats('wt', [3, 4]).floatData.map((v) => Math.fround(v * 2));
    expect(Array.from(w)).toEqual(expected.map((v) => Math.fround(v)));
    expect(Array.from(linear.get('1.bias')!.toTypedArray())).toEqual([0.5, -1, 2]);
  });

  it('Reshape to [batch, features] becomes a Flatten; other reshapes are refused', async () => {
    const reshape = (shape: number[]) =>
      model({
        initializer: [ints('s', shape), floats('w', [4, 3]), floats('b', [3])],
        node: [node('Reshape', ['x', 's'], ['f']), node('Gemm', ['f', 'w', 'b'], ['y'])],
      });
    for (const shape of [
      [0, -1],
      [1, 4],
      [-1, 4],
    ]) {
      const { model: net } = await importBytes(reshape(shape));
      expect((net as unknown as { layers: object[] }).layers.map((l) => l.constructor.name)).toEqual([
        'Flatten',
        'Linear',
      ]);
    }
    await expect(importBytes(reshape([1, 2, 2]))).rejects.toThrow(/only as a flatten/);
    await expect(importBytes(reshape([1, 5]))).rejects.toThrow(/asks for 5 features but its input has 4/);
  });

  it('Clip imports as ReLU6 at [0, 6] and ReLU at [0, inf); other or non-constant bounds are refused', async () => {
    const clip = (inputs: string[], init: TensorProto[]) =>
      model({
        initializer: [...init, floats('w', [4, 3]), floats('b', [3])],
        node: [
          node('Clip', ['x', ...inputs], ['c']),
          node('Flatten', ['c'], ['f']),
          node('Gemm', ['f', 'w', 'b'], ['y']),
        ],
      });
    const types = async (m: ModelProto) =>
      (await importBytes(m)).model.layers?.map((l: object) => l.constructor.name);
    const lo = floats('lo', [], [0]);
    expect(await types(clip(['lo', 'hi'], [lo, floats('hi', [], [6])]))).toEqual([
      'ReLU6',
      'Flatten',
      'Linear',
    ]);
    expect(await types(clip(['lo'], [lo]))).toEqual(['ReLU', 'Flatten', 'Linear']);
    await expect(importBytes(clip(['lo', 'hi'], [lo, floats('hi', [], [1])]))).rejects.toThrow(
      "node 'Clip_c' (Clip) clips to [0, 1]",
    );
    await expect(importBytes(clip(['x'], []))).rejects.toThrow(/bounds that are not constant scalars/);
  });

  it('an op outside the subset is an error naming the node and op', async () => {
    const m = model({ initializer: [], node: [node('Elu', ['x'], ['y'])] });
    await expect(importBytes(m)).rejects.toThrow("node 'Elu_y' (Elu): dlf cannot import the op Elu here");
  });

  it('an op from another domain is refused by name', async () => {
    const n = { ...node('FusedConv', ['x'], ['y']), domain: 'com.microsoft' };
    await expect(importBytes(model({ node: [n] }))).rejects.toThrow(/'com.microsoft'/);
  });

  it('a cycle is an error, not a hang', async () => {
    const m = model({
      node: [node('Relu', ['x', 'b'], ['a']), node('Relu', ['a'], ['b']), node('Relu', ['b'], ['y'])],
    });
    await expect(importBytes(m)).rejects.toThrow(/cycle/);
  });

  it('an undefined input and a value made twice are errors', async () => {
    await expect(importBytes(model({ node: [node('Relu', ['nope'], ['y'])] }))).rejects.toThrow(
      /'nope', which nothing/,
    );
    await expect(
      importBytes(model({ node: [node('Relu', ['x'], ['y']), node('Relu', ['x'], ['y'])] })),
    ).rejects.toThrow(/makes 'y'/);
  });

  it('a residual Add makes a graph model; a Concat along another axis than channels is refused', async () => {
    const residual = (join: NodeProto) =>
      model({ node: [node('Flatten', ['x'], ['f']), node('Relu', ['f'], ['a']), join] });
    const { model: net } = await importBytes(residual(node('Add', ['a', 'f'], ['y'])));
    expect(net).toBeInstanceOf(GraphModule);
    const concat = node('Concat', ['a', 'f'], ['y'], [intAttr('axis', 0)]);
    await expect(importBytes(residual(concat))).rejects.toThrow(/joins along axis 0/);
  });

  it('a Softmax in the middle is refused; an input of unknown shape asks for --input', async () => {
    const m = model({ node: [node('Softmax', ['x'], ['a']), node('Relu', ['a'], ['y'])] });
    await expect(importBytes(m)).rejects.toThrow(/Softmax only at the end/);
    const dyn = model({ node: [node('Relu', ['x'], ['y'])] });
    dyn.graph.input[0]!.shape = ['n', 'c', 'h', 'w'];
    await expect(importBytes(dyn)).rejects.toThrow(/--input/);
  });

  it('unsupported opsets are refused', async () => {
    await expect(importBytes(model({ node: [node('Relu', ['x'], ['y'])] }, 99))).rejects.toThrow(/opset 99/);
  });
});

describe('importOnnx: hostile files', () => {
  const good = exportOnnx(seedCnn({ classes: 3 }), { inputShape: [3, 32, 32] });

  it('every truncation of a valid file is a clean OnnxError', async () => {
    // Every cut in the header region, then a stride through the weights.
    const cuts = [
      ...Array.from({ length: 400 }, (_, i) => i),
      ...Array.from({ length: 60 }, (_, i) => 400 + i * 8999),
    ];
    for (const cut of cuts.filter((c) => c < good.length)) {
      let err: unknown;
      try {
        await importOnnx(good.subarray(0, cut));
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${cut}`).toBeInstanceOf(OnnxError);
    }
  });

  it('random byte flips never crash or hang', async () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    // The structure (node list, attributes, initializer headers) is in the first bytes and the
    // last few hundred (metadata, opset); the weights in between.
    const header = 2000;
    let imported = 0;
    for (let k = 0; k < 300; k++) {
      const b = good.slice();
      for (let j = 0; j < 3; j++) {
        const r = rnd() % (2 * header);
        b[r < header ? r : b.length - 1 - (r - header)] = rnd() & 0xff;
      }
      try {
        (await importOnnx(b)).model.dispose();
        imported++;
      } catch (e) {
        expect(e, String(e)).toBeInstanceOf(OnnxError);
      }
    }
    expect(imported).toBeLessThan(300);
  });

  it('a huge declared length is refused before any allocation', () => {
    // Field 7 (graph), wire type 2, length 2^40.
    const bytes = Uint8Array.from([0x3a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x00]);
    expect(() => decodeModel(bytes)).toThrow(/declares 1099511627776 bytes but only 1 are left/);
  });

  it('a tensor whose dims promise more data than it has is refused', async () => {
    const m = model({
      initializer: [floats('w', [100000, 100000], [1, 2, 3])],
      node: [node('MatMul', ['x', 'w'], ['y'])],
    });
    await expect(importBytes(m)).rejects.toThrow(/more than 268435456 elements/);
    const m2 = model({
      initializer: [floats('w', [4, 3], [1, 2, 3])],
      node: [node('MatMul', ['x', 'w'], ['y'])],
    });
    await expect(importBytes(m2)).rejects.toThrow(/has 3 values but its shape \[4, 3\] needs 12/);
  });

  it('deep nesting is refused', () => {
    // A node attribute holding a graph holding a node… 40 levels deep.
    let g: GraphProto = { name: 'leaf', node: [], initializer: [], input: [], output: [], valueInfo: [] };
    for (let i = 0; i < 40; i++) {
      const a: AttributeProto = { ...intAttr('body', 0), type: AttrType.GRAPH, g };
      g = { ...g, name: `g${i}`, node: [node('Loop', [], [`o${i}`], [a])] };
    }
    expect(() => decodeModel(encodeModel(model(g)))).toThrow(/nest deeper than 32 levels/);
  });

  it('a field budget bounds the work', () => {
    expect(() => decodeModel(good, { maxFields: 100 })).toThrow(
      /more than 100 protobuf fields and list values/,
    );
  });

  it('wire types ONNX never uses (groups) are refused', () => {
    expect(() => decodeModel(Uint8Array.from([0x0b]))).toThrow(/unsupported wire type 3/);
  });

  it('external data must stay inside the model folder', async () => {
    const folder = join(dir, 'ext');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(dir, 'secret.bin'), new Uint8Array(48));
    writeFileSync(join(folder, 'w.bin'), new Uint8Array(48));
    const ext = (location: string, extra: [string, string][] = []): ModelProto => {
      const w: TensorProto = {
        ...floats('w', [4, 3], []),
        floatData: [],
        dataLocation: 1,
        externalData: [
          { key: 'location', value: location },
          ...extra.map(([key, value]) => ({ key, value })),
        ],
      };
      return model({
        initializer: [w],
        node: [node('Flatten', ['x'], ['f']), node('MatMul', ['f', 'w'], ['y'])],
      });
    };
    const at = (m: ModelProto) => {
      const path = join(folder, 'm.onnx');
      writeFileSync(path, encodeModel(m));
      return importOnnx(path);
    };
    await expect(at(ext('../secret.bin'))).rejects.toThrow(/outside the model's folder/);
    await expect(at(ext(join(dir, 'secret.bin')))).rejects.toThrow(/outside the model's folder/);
    await expect(at(ext('missing.bin'))).rejects.toThrow(/does not exist/);
    await expect(at(ext('w.bin', [['offset', '40']]))).rejects.toThrow(/which has only 48/);
    await expect(at(ext('w.bin', [['length', '4']]))).rejects.toThrow(/declares 4 bytes/);
    await expect(importOnnx(encodeModel(ext('w.bin')))).rejects.toThrow(/import the model from its path/);
    const { model: net } = await at(ext('w.bin'));
    expect(net.stateDict().get('1.weight')!.shape).toEqual([3, 4]);
  });

  it('a file that is not ONNX says so', async () => {
    await expect(importOnnx(new TextEncoder().encode('{"hello": "json"}'))).rejects.toThrow(OnnxError);
    await expect(importOnnx(new Uint8Array(0))).rejects.toThrow(/no graph/);
    await expect(importOnnx(join(dir, 'nope.onnx'))).rejects.toThrow(/cannot open the ONNX file/);
  });
});
