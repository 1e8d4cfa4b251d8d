import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchNorm2d,
  Conv2d,
  checkGraphSpec,
  Dropout,
  FileError,
  GlobalAvgPool2d,
  GraphBuilder,
  GraphModule,
  graphFromJSON,
  impliedStateShapes,
  Linear,
  loadModel,
  MaxPool2d,
  noGrad,
  ReLU,
  saveModel,
  summary,
} from '@dlf/nn';
import { crossEntropy } from '@dlf/loss';
import { Generator, memory, randint, randn, saveSafetensors, tidy } from '@dlf/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'dlf-graph-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small residual net: stem, one basic block with a 1x1 strided shortcut, a concat, a head. */
function residualNet(seed = 1): GraphModule {
  const generator = new Generator(seed);
  const g = new GraphBuilder();
  const stem = g.node(new Conv2d(3, 8, 3, { padding: 1, bias: false, generator }), g.input, 'stem');
  const bn0 = g.node(new BatchNorm2d(8), stem, 'bn0');
  const r0 = g.node(new ReLU(), bn0, 'r0');
  const c1 = g.node(new Conv2d(8, 16, 3, { padding: 1, stride: 2, bias: false, generator }), r0, 'c1');
  const b1 = g.node(new BatchNorm2d(16), c1, 'b1');
  const a1 = g.node(new ReLU(), b1, 'a1');
  const dw = g.node(new Conv2d(16, 16, 3, { padding: 1, groups: 16, generator }), a1, 'dw');
  const sc = g.node(new Conv2d(8, 16, 1, { stride: 2, bias: false, generator }), r0, 'shortcut');
  const sum = g.add([dw, sc], 'sum');
  const act = g.node(new ReLU(), sum, 'act');
  const cat = g.concat([act, g.node(new MaxPool2d(2), r0, 'pool0')], 'cat');
  const gap = g.node(new GlobalAvgPool2d(), cat, 'gap');
  const drop = g.node(new Dropout(0.1, { generator }), gap, 'drop');
  return g.build(g.node(new Linear(24, 10, { generator }), drop, 'fc'));
}

describe('graph models', () => {
  it('run a DAG with residual add, concat and pooling, and summarise per node', () => {
    const model = residualNet();
    const y = model.forward(randn([2, 3, 16, 16]));
    expect(y.shape).toEqual([2, 10]);
    const s = summary(model, [3, 16, 16]);
    expect(s.outputShape).toEqual([10]);
    expect(s.rows.map((r) => r.name)).toContain('sum: Add');
    expect(s.rows.find((r) => r.name === 'cat: Concat')!.outputShape).toEqual([24, 8, 8]);
    expect(s.totalParams).toBe(model.parameters().reduce((a, p) => a + p.size, 0));
    expect(s.totalParams).toBe(8 * 27 + 16 + 16 * 8 * 9 + 32 + (16 * 9 + 16) + 16 * 8 + 24 * 10 + 10);
    model.dispose();
  });

  it('free every intermediate: repeated training steps keep the tensor count flat', () => {
    const model = residualNet();
    const x = randn([4, 3, 16, 16]);
    const t = randint([4], 0, 10);
    const step = (): void =>
      tidy(() => {
        model.zeroGrad();
        crossEntropy(model.forward(x), t).backward();
      });
    step();
    const before = memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(memory().numTensors).toBe(before);
    for (const [name, p] of model.namedParameters()) expect(p.grad, name).not.toBeNull();
    model.dispose();
  });

  it('fused and unfused execution agree', () => {
    const model = residualNet();
    const x = randn([2, 3, 16, 16]);
    // Training mode (dropout off, it draws new masks): the fused ops compute the same values, bit for bit.
    for (const layer of model.layers) if (layer instanceof Dropout) layer.eval();
    const train = noGrad(() => model.forward(x).toTypedArray() as Float32Array);
    model.fuse = false;
    expect(noGrad(() => model.forward(x).toTypedArray())).toEqual(train);
    // Evaluation mode folds each BatchNorm2d into its conv: the same values up to rounding.
    model.eval();
    const unfused = model.forward(x).toTypedArray() as Float32Array;
    model.fuse = true;
    const fused = model.forward(x).toTypedArray() as Float32Array;
    expect(fused.length).toBe(unfused.length);
    const scale = Math.max(...unfused.map(Math.abs));
    fused.forEach((v, i) =>
      expect(Math.abs(v - unfused[i]!), `output ${i}`).toBeLessThanOrEqual(1e-5 * scale),
    );
    model.dispose();
  });

  it('round-trip through model files bit for bit', async () => {
    const model = residualNet(3);
    // Make the buffers non-trivial.
    tidy(() => model.forward(randn([4, 3, 16, 16])));
    model.eval();
    const file = join(dir, 'res.safetensors');
    await saveModel(file, model, { note: 'x' });
    const { model: loaded } = await loadModel(file);
    expect(loaded).toBeInstanceOf(GraphModule);
    expect(loaded.toJSON()).toEqual(model.toJSON());
    const a = model.stateDict();
    const b = loaded.stateDict();
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) {
      expect(
        Buffer.compare(Buffer.from(v.toTypedArray().buffer), Buffer.from(b.get(k)!.toTypedArray().buffer)),
        k,
      ).toBe(0);
    }
    const file2 = join(dir, 'res2.safetensors');
    await saveModel(file2, loaded as GraphModule, { note: 'x' });
    expect(Buffer.compare(readFileSync(file), readFileSync(file2))).toBe(0);
    loaded.eval();
    const x = randn([2, 3, 16, 16]);
    expect(loaded.forward(x).toArray()).toEqual(model.forward(x).toArray());
    expect(graphFromJSON(JSON.stringify(model.toJSON())).toJSON()).toEqual(model.toJSON());
    loaded.dispose();
    model.dispose();
  });
});

const node = (name: string, op: string, inputs: string[], attrs?: Record<string, unknown>) => ({
  name,
  op,
  inputs,
  ...(attrs ? { attrs } : {}),
});
const graph = (nodes: unknown[], output = 'out') => ({ format: 'dlf.graph', version: 1, nodes, output });
const relu = (name: string, input: string) => node(name, 'ReLU', [input]);

describe('hostile graphs get a clear error naming the node', () => {
  const cases: [string, unknown, RegExp][] = [
    [
      'a cycle',
      graph([relu('a', 'b'), relu('b', 'a'), relu('out', 'a')]),
      /node '(a|b)' \(ReLU\) is part of a cycle/,
    ],
    ['a self-loop', graph([relu('out', 'out')]), /node 'out' \(ReLU\) is part of a cycle/],
    [
      'an input naming no node',
      graph([relu('out', 'nowhere')]),
      /node 'out' \(ReLU\) reads 'nowhere', which names no node/,
    ],
    [
      'a dangling node',
      graph([relu('out', 'input'), relu('spare', 'input')]),
      /node 'spare' \(ReLU\) is not used by the output/,
    ],
    [
      '10^9 channels',
      graph([node('out', 'Conv2d', ['input'], { inChannels: 3, outChannels: 1e9, kernelSize: 3 })]),
      /node 'out' \(Conv2d\) has outChannels = 1000000000/,
    ],
    [
      'too many parameters in total',
      graph([
        node('a', 'Linear', ['input'], { inFeatures: 1 << 18, outFeatures: 1 << 9 }),
        node('out', 'Linear', ['a'], { inFeatures: 1 << 9, outFeatures: 1 << 18 }),
      ]),
      /node 'out' \(Linear\) brings the parameters to more than/,
    ],
    ['an unknown op', graph([node('out', 'Teleport', ['input'])]), /node 'out' has an unknown op 'Teleport'/],
    ['a duplicate name', graph([relu('out', 'input'), relu('out', 'input')]), /node 'out' is defined twice/],
    [
      'a layer with two inputs',
      graph([node('out', 'ReLU', ['input', 'input'])]),
      /node 'out' \(ReLU\) has 2 inputs/,
    ],
    ['an add with one input', graph([node('out', 'Add', ['input'])]), /node 'out' \(Add\) has 1 inputs/],
    ['a name with a dot', graph([relu('a.b', 'input')]), /node 0 has the name "a.b"/],
    ['an output naming no node', graph([relu('x', 'input')], 'y'), /its output "y" names no node/],
  ];
  for (const [what, spec, message] of cases) {
    it(what, () => {
      expect(() => checkGraphSpec(spec)).toThrow(message);
      expect(() => graphFromJSON(spec)).toThrow(message);
      expect(() => impliedStateShapes(spec)).toThrow(message);
    });
  }

  it('10^5 nodes: refused by count, and a 4000-deep chain is checked without recursion', () => {
    const many = Array.from({ length: 100_000 }, (_, i) => relu(`n${i}`, i === 0 ? 'input' : `n${i - 1}`));
    expect(() => checkGraphSpec(graph(many, 'n99999'))).toThrow(/100000 nodes \(at most 4096\)/);
    const chain = many.slice(0, 4000);
    expect(checkGraphSpec(graph(chain, 'n3999')).order).toHaveLength(4000);
    // A 4000-long cycle is found iteratively too.
    const ring = chain.map((n, i) => (i === 0 ? relu('n0', 'n3999') : n));
    expect(() => checkGraphSpec(graph([...ring, relu('out', 'n5')]))).toThrow(/is part of a cycle/);
  });

  it('an activation too big for memory is refused by the summary, before running', () => {
    const model = graphFromJSON(
      graph([node('out', 'Conv2d', ['input'], { inChannels: 1, outChannels: 1 << 20, kernelSize: 1 })]),
    );
    expect(() => summary(model, [1, 256, 256])).toThrow(
      /node 'out' \(Conv2d\) would output \[1048576, 256, 256\]/,
    );
    model.dispose();
  });

  it('many large activations together are refused by the summary too', () => {
    const wide = (name: string, input: string) =>
      node(name, 'Conv2d', [input], { inChannels: 64, outChannels: 64, kernelSize: 1 });
    const nodes = [node('in', 'Conv2d', ['input'], { inChannels: 1, outChannels: 64, kernelSize: 1 })];
    for (let i = 0; i < 40; i++) nodes.push(wide(`w${i}`, i === 0 ? 'in' : `w${i - 1}`));
    nodes.push(relu('out', 'w39'));
    const model = graphFromJSON(graph(nodes));
    expect(() => summary(model, [1, 512, 256])).toThrow(
      /node 'w\d+' \(Conv2d\) brings the activations to more than/,
    );
    model.dispose();
  });

  it('a model file with a hostile graph is a FileError naming the node', async () => {
    const file = join(dir, 'cycle.safetensors');
    const spec = graph([relu('a', 'out'), relu('out', 'a')]);
    await saveSafetensors(file, new Map(), { 'dlf.architecture': JSON.stringify(spec) });
    const err = await loadModel(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileError);
    expect((err as Error).message).toMatch(/is part of a cycle/);
  });
});
