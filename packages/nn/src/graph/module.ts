/**
 * `GraphModule`: a model that is a DAG of named nodes (residual adds, concats, branches), built from
 * a `dlf.graph` description or from modules in TypeScript, and saved back to the same description.
 */
import { invalidParam, type Tensor } from '@dlf/tensor-core';
import * as F from '../functional.js';
import { Hardswish, ReLU, ReLU6 } from '../layers/activation.js';
import { forwardBnDepthwise, planBnDepthwise } from '../layers/bn-depthwise.js';
import { Conv2d } from '../layers/conv.js';
import { forwardConvChain, planConvChain } from '../layers/conv-chain.js';
import { forwardFused, fusedPoolFits, isFoldableBatchNorm, isMaxPool2x2 } from '../layers/fusion.js';
import { Linear } from '../layers/linear.js';
import { BatchNorm2d } from '../layers/normalization.js';
import { type InitOptions, type LayerSpec, layerRegistry } from '../layers/registry.js';
import type { LayerHook } from '../layers/sequential.js';
import { type LayerDescription, Module } from '../module.js';
import { Add, MultiInputModule, graphOps } from './ops.js';
import { joinedLayer, planResidualJoins, type ResidualJoin, runResidualJoin } from './residual-join.js';
import {
  type CheckedGraph,
  checkGraphSpec,
  type GraphNodeSpec,
  type GraphSpec,
  layerSpecOf,
} from './spec.js';

/** One node given to the {@link GraphModule} constructor: a module and the names it reads. */
export interface GraphNode {
  name: string;
  module: Module;
  inputs: string[];
}

/** The output shape, MACs and parameters of one node (see {@link GraphModule.describeNodes}). */
export interface NodeDescription extends LayerDescription {
  name: string;
  op: string;
  params: number;
}

/** The most values one node may output per example (2^26 float32, 256 MiB): larger is refused. */
export const MAX_NODE_OUTPUT = 2 ** 26;
/** The most values all nodes together may output per example (2^28 float32, 1 GiB). */
export const MAX_GRAPH_OUTPUT = 2 ** 28;

/**
 * What the conv/linear/BN node at a position runs fused with: the positions of its fused followers,
 * -1 for none. `bn` (a conv's BatchNorm2d) folds in only while that layer is in evaluation mode;
 * `relu` and `pool` follow the BN when there is one. A two-input Add's only fusion is its `relu`.
 */
type Fusion = { bn: number; relu: number; pool: number; relu6?: boolean; hardswish?: boolean };

const sameShapeAs = (a: Tensor, shape: readonly number[]): boolean =>
  a.rank === shape.length && a.shape.every((d, i) => d === shape[i]);
const sameShape = (a: Tensor, b: Tensor): boolean => sameShapeAs(a, b.shape);

function specOf(module: Module): LayerSpec {
  const toSpec = (module as Module & { toSpec?: () => LayerSpec }).toSpec;
  if (typeof toSpec !== 'function') {
    throw new TypeError(`Layer ${module.constructor.name} cannot be described as JSON`);
  }
  return toSpec.call(module);
}

/**
 * A model whose layers form a DAG of named nodes. The topological order is computed once; each
 * intermediate value is freed as soon as its last reader has run (the recorded autograd graph keeps
 * what backward needs). A Conv2d, Linear or BatchNorm2d read only by a ReLU runs fused with it (a
 * Conv2d or BatchNorm2d also with a following 2x2 max pool; a BatchNorm2d that runs itself also with
 * a ReLU6 or a Hardswish), and in evaluation mode a BatchNorm2d that alone reads
 * a Conv2d folds into it, as in `Sequential`. An Add of two inputs read only by a ReLU (a residual
 * block's join) runs as one `addRelu`; and where one of the Add's inputs is a Conv2d or a
 * BatchNorm2d that only the Add reads, that layer runs at the Add and adds the other input (and the
 * ReLU) as it writes its output (the `residual` option of `conv2d` and `batchNorm2d`; a conv's
 * evaluation-mode BatchNorm2d folds into it). In inference, a run of 1x1 and depthwise convs (each
 * with its BatchNorm2d and optionally a ReLU, ReLU6 or Hardswish, each value read only by the next) runs as one
 * op image by image, as in `Sequential`, and takes in a residual join that ends it. In training, a
 * BatchNorm2d with its activation then a depthwise conv (and the BatchNorm2d + activation after a
 * bias-free one; each value read only by the next) runs as one op channel by channel, as in
 * `Sequential`. Parameters are named `<node>.<param>`.
 *
 * @example
 * ```ts
 * const model = new GraphModule(
 *   [
 *     { name: 'conv', module: new Conv2d(8, 8, 3, { padding: 1 }), inputs: ['input'] },
 *     { name: 'sum', module: new Add(), inputs: ['input', 'conv'] },
 *     { name: 'pool', module: new GlobalAvgPool2d(), inputs: ['sum'] },
 *   ],
 *   'pool',
 * );
 * model.forward(randn([2, 8, 4, 4])).shape; // [2, 8]
 * ```
 */
export class GraphModule extends Module {
  /** The node modules in topological order (what `onLayer` indices refer to). */
  readonly layers: Module[];
  /** The node names, parallel to `layers`. */
  readonly nodeNames: string[];
  /** The node whose value is the output. */
  readonly outputName: string;
  /** Set to time nodes; called before and after each node (fused groups report once). */
  onLayer: LayerHook | null = null;
  /** Fuse Conv2d/Linear + ReLU (+ MaxPool2d(2)) chains, residual joins, inference runs of 1x1 and depthwise convs and training BatchNorm2d + depthwise conv pairs whose intermediates nobody else reads. */
  fuse = true;
  readonly #graph: CheckedGraph;
  /** Inputs per topological position (-1: the model input). */
  readonly #inputs: number[][];
  /** How many readers each position's value has (the output gets one extra: the caller). */
  readonly #readers: number[];
  readonly #fusion: (Fusion | null)[];
  /** Per Add position, its residual join (see residual-join.ts); per conv and BN position, its join's Add or -1. */
  readonly #joins: (ResidualJoin | null)[];
  readonly #joinOf: Int32Array;
  readonly #outputPos: number;

  /**
   * Checks the graph (see `checkGraphSpec`: names, inputs, cycles, unused nodes, sizes) and plans
   * its execution once. The modules are used as they are, not copied.
   *
   * @param nodes - The nodes, in any order: each a name, a module describable as JSON and the names it reads.
   * @param output - The name of the node whose value is the model output.
   * @param options - `input`: the name by which nodes read the model input (default `'input'`).
   */
  constructor(nodes: readonly GraphNode[], output: string, options: { input?: string } = {}) {
    super();
    if (!Array.isArray(nodes)) throw invalidParam('nodes', 'an array of graph nodes', nodes, 'type');
    const spec: GraphSpec = {
      format: 'dlf.graph',
      version: 1,
      ...(options.input ? { input: options.input } : {}),
      nodes: nodes.map((n) => {
        if (!(n?.module instanceof Module))
          throw invalidParam(`node '${n?.name}'.module`, 'a Module', n?.module, 'type');
        const { type, ...attrs } = specOf(n.module);
        return { name: n.name, op: type, inputs: n.inputs, attrs };
      }),
      output,
    };
    try {
      this.#graph = checkGraphSpec(spec);
    } catch (e) {
      throw new RangeError(`The graph is invalid: ${(e as Error).message}`);
    }
    const { order, inputIndex } = this.#graph;
    const position = new Int32Array(order.length);
    order.forEach((i, p) => {
      position[i] = p;
    });
    this.layers = order.map((i) => nodes[i]!.module);
    this.nodeNames = order.map((i) => nodes[i]!.name);
    this.#inputs = order.map((i) => inputIndex[i]!.map((j) => (j < 0 ? -1 : position[j]!)));
    this.#outputPos = position[this.#graph.output]!;
    this.outputName = output;
    this.#readers = new Array<number>(order.length).fill(0);
    for (const ins of this.#inputs) for (const j of ins) if (j >= 0) this.#readers[j]!++;
    this.#readers[this.#outputPos]!++;
    this.#fusion = this.#planFusion();
    this.#joins = planResidualJoins(this.layers, this.#inputs, (p) => this.#soleReader(p));
    this.#joinOf = new Int32Array(order.length).fill(-1);
    this.#joins.forEach((j, a) => {
      if (j && j.conv >= 0) this.#joinOf[j.conv] = a;
      if (j && j.bn >= 0) this.#joinOf[j.bn] = a;
    });
    this.layers.forEach((m, p) => this.registerModule(this.nodeNames[p]!, m));
  }

  /** The single reader of position `p`, if it has exactly one and is not the output. */
  #soleReader(p: number): number {
    if (this.#readers[p] !== 1 || p === this.#outputPos) return -1;
    return this.#inputs.findIndex((ins) => ins.includes(p));
  }

  #planFusion(): (Fusion | null)[] {
    return this.layers.map((layer, p) => {
      if (layer instanceof Add && this.#inputs[p]!.length === 2) {
        const relu = this.#soleReader(p);
        return relu >= 0 && this.layers[relu] instanceof ReLU ? { bn: -1, relu, pool: -1 } : null;
      }
      if (!(layer instanceof Conv2d || layer instanceof Linear || layer instanceof BatchNorm2d)) return null;
      const after = this.#soleReader(p);
      // A BatchNorm2d that runs itself also fuses a ReLU6 or a Hardswish (the convs fuse only ReLU).
      if (layer instanceof BatchNorm2d && this.layers[after] instanceof ReLU6)
        return { bn: -1, relu: after, pool: -1, relu6: true };
      if (layer instanceof BatchNorm2d && this.layers[after] instanceof Hardswish)
        return { bn: -1, relu: after, pool: -1, hardswish: true };
      const bn = layer instanceof Conv2d && this.layers[after] instanceof BatchNorm2d ? after : -1;
      const next = bn >= 0 ? this.#soleReader(bn) : after;
      const relu = next >= 0 && this.layers[next] instanceof ReLU ? next : -1;
      // A conv, or a BatchNorm2d that runs itself, also fuses a 2x2 max pool after the ReLU.
      const pool =
        relu >= 0 && (layer instanceof Conv2d || layer instanceof BatchNorm2d) ? this.#soleReader(relu) : -1;
      if (bn < 0 && relu < 0) return null;
      return { bn, relu, pool: pool >= 0 && isMaxPool2x2(this.layers[pool]) ? pool : -1 };
    });
  }

  forward(x: Tensor): Tensor {
    const n = this.layers.length;
    const values: (Tensor | undefined)[] = new Array(n);
    const readers = this.#readers.slice();
    const done = new Uint8Array(n);
    // Per Add position: 1 + the position of the layer (a residual join's conv or BN) that waits to
    // run with it, or 0.
    const joined = new Int32Array(n);
    const valueAt = (j: number): Tensor => (j < 0 ? x : values[j]!);
    const release = (j: number): void => {
      if (j >= 0 && --readers[j]! === 0) {
        values[j]!.dispose();
        values[j] = undefined;
      }
    };
    try {
      for (let p = 0; p < n; p++) {
        if (done[p]) continue;
        const layer = this.layers[p]!;
        const ins = this.#inputs[p]!;
        const consumed =
          this.fuse && layer instanceof Conv2d && this.#joinOf[p]! < 0
            ? this.#runChain(p, valueAt, done, values)
            : this.fuse && layer instanceof BatchNorm2d && this.#joinOf[p]! < 0
              ? this.#runBnDepthwise(p, valueAt, done, values)
              : null;
        if (consumed) {
          for (const j of consumed) release(j);
          continue;
        }
        const joinAdd = this.fuse ? this.#joinOf[p]! : -1;
        if (joinAdd >= 0 && joinedLayer(this.#joins[joinAdd]!, this.layers) === p) {
          joined[joinAdd] = p + 1;
          const join = this.#joins[joinAdd]!;
          if (p === join.conv && join.bn >= 0) done[join.bn] = 1; // folded into the conv
          continue;
        }
        if (joined[p]) {
          const join = this.#joins[p]!;
          const at = joined[p]! - 1;
          const atIn = this.#inputs[at]![0]!;
          this.onLayer?.(at, this.layers[at]!, 'start');
          const y = runResidualJoin(
            join,
            this.layers,
            at,
            layer as Add,
            ins,
            valueAt(atIn),
            valueAt(join.residual),
          );
          this.onLayer?.(at, this.layers[at]!, 'end');
          if (join.relu >= 0) done[join.relu] = 1;
          values[join.relu >= 0 ? join.relu : p] = y;
          // The joined layer's value never existed: release what it and the Add read.
          release(atIn);
          release(join.residual);
          continue;
        }
        const args = ins.map(valueAt);
        const f = this.fuse ? this.#fusion[p] : null;
        // A conv's BatchNorm2d folds in only in evaluation mode; in training the BN node runs
        // itself (fused with its ReLU by its own plan).
        const fold = f !== null && f !== undefined && f.bn >= 0 && isFoldableBatchNorm(this.layers[f.bn]);
        // An Add fuses with its ReLU only over inputs of one shape (addRelu does not broadcast).
        const fused =
          f !== null &&
          f !== undefined &&
          (f.bn < 0 || fold) &&
          f.relu >= 0 &&
          (!(layer instanceof Add) || sameShape(args[0]!, args[1]!));
        const pooled = fused && f!.pool >= 0 && fusedPoolFits(layer as Conv2d | BatchNorm2d, args[0]!);
        this.onLayer?.(p, layer, 'start');
        let y: Tensor;
        let at = p;
        if (fused && layer instanceof Add) {
          y = F.addRelu(args[0]!, args[1]!);
          at = f!.relu;
          done[f!.relu] = 1;
        } else if (fold || fused) {
          y = forwardFused(layer as Conv2d | Linear | BatchNorm2d, args[0]!, {
            bn: fold ? (this.layers[f!.bn] as BatchNorm2d) : null,
            relu: fused,
            relu6: fused && f!.relu6 === true,
            hardswish: fused && f!.hardswish === true,
            maxPool2x2: pooled,
          });
          at = pooled ? f!.pool : fused ? f!.relu : f!.bn;
          if (fold) done[f!.bn] = 1;
          if (fused) done[f!.relu] = 1;
          if (pooled) done[f!.pool] = 1;
        } else {
          y = layer instanceof MultiInputModule ? layer.forwardMany(args) : layer.forward(args[0]!);
        }
        // A value is freed once; a layer that hands back its input gets its own copy.
        if (args.includes(y)) y = y.clone();
        this.onLayer?.(p, layer, 'end');
        values[at] = y;
        for (const j of ins) release(j);
      }
    } catch (e) {
      for (let p = 0; p < n; p++) if (p !== this.#outputPos) values[p]?.dispose();
      values[this.#outputPos]?.dispose();
      throw e;
    }
    const out = values[this.#outputPos]!;
    return out === x ? x.clone() : out;
  }

  /**
   * Training through the BatchNorm2d at p, its activation and a depthwise conv (and a second
   * BatchNorm2d and activation after it), each value read only by the next (none a residual join's):
   * one op, channel by channel (bn-depthwise.ts).
   * Marks what ran as done and stores the output; returns the positions whose values it read (null:
   * no such pair here).
   */
  #runBnDepthwise(
    p: number,
    valueAt: (j: number) => Tensor,
    done: Uint8Array,
    values: (Tensor | undefined)[],
  ): number[] | null {
    const input = this.#inputs[p]![0]!;
    const plan = planBnDepthwise(this.layers, p, valueAt(input), (q) => this.#soleReader(q));
    if (!plan || plan.positions.some((q) => this.#joinOf[q]! >= 0)) return null;
    this.onLayer?.(p, this.layers[p]!, 'start');
    const y = forwardBnDepthwise(plan, valueAt(input));
    this.onLayer?.(p, this.layers[p]!, 'end');
    for (const q of plan.positions) done[q] = 1;
    values[plan.positions[plan.positions.length - 1]!] = y;
    return [input];
  }

  /**
   * Inference through a run of 1x1 and depthwise convs (with their BatchNorm2d and activation) from
   * the conv at p, each value read only by the next: one op, image by image (conv-chain.ts). A run may
   * end in a residual join whose other input is already computed: the op adds it. Marks what ran as
   * done and stores the output; returns the positions whose values it read (null: no chain here).
   */
  #runChain(
    p: number,
    valueAt: (j: number) => Tensor,
    done: Uint8Array,
    values: (Tensor | undefined)[],
  ): number[] | null {
    const input = this.#inputs[p]![0]!;
    const x = valueAt(input);
    const joinAt = (conv: number) => this.#joinOf[conv]!;
    const plan = (excluded: number) =>
      planConvChain(
        this.layers,
        p,
        x,
        (q) => this.#soleReader(q),
        (conv) => {
          const a = joinAt(conv);
          if (a < 0) return null;
          return conv !== excluded && this.#joins[a]!.residual < p ? 'last' : 'exclude';
        },
      );
    let chain = plan(-1);
    if (!chain) return null;
    const lastConv = chain.convs[chain.convs.length - 1]!;
    let a = joinAt(lastConv);
    // A residual join needs the residual in the output's shape (the Add would broadcast).
    if (a >= 0 && !sameShapeAs(valueAt(this.#joins[a]!.residual), chain.outputShape)) {
      chain = plan(lastConv);
      if (!chain) return null;
      a = -1;
    }
    const join = a >= 0 ? this.#joins[a]! : null;
    this.onLayer?.(p, this.layers[p]!, 'start');
    const residual = join ? { tensor: valueAt(join.residual), relu: join.relu >= 0 } : undefined;
    const y = forwardConvChain(chain, x, residual);
    this.onLayer?.(p, this.layers[p]!, 'end');
    for (const q of chain.positions) done[q] = 1;
    let at = chain.positions[chain.positions.length - 1]!;
    if (join) {
      done[a] = 1;
      if (join.relu >= 0) done[join.relu] = 1;
      at = join.relu >= 0 ? join.relu : a;
    }
    values[at] = y;
    return join ? [input, join.residual] : [input];
  }

  /**
   * Output shape, MACs and parameter count of every node in topological order, for one example of
   * `inputShape` (batch excluded). Throws, naming the node, when shapes do not fit or a node would
   * output more than {@link MAX_NODE_OUTPUT} values per example (or all nodes together more than
   * {@link MAX_GRAPH_OUTPUT}) — before anything is allocated.
   */
  describeNodes(inputShape: readonly number[]): NodeDescription[] {
    const shapes: number[][] = [];
    let total = 0;
    return this.layers.map((layer, p) => {
      const ins = this.#inputs[p]!.map((j) => (j < 0 ? [...inputShape] : shapes[j]!));
      const name = this.nodeNames[p]!;
      const op = specOf(layer).type;
      let d: LayerDescription;
      try {
        d = layer instanceof MultiInputModule ? layer.describeMany(ins) : layer.describe(ins[0]!);
      } catch (e) {
        throw new RangeError(`node '${name}' (${op}): ${(e as Error).message}`);
      }
      if (!d.outputShape.every((x) => Number.isSafeInteger(x) && x > 0)) {
        throw new RangeError(
          `node '${name}' (${op}) turns [${ins[0]!.join(', ')}] into [${d.outputShape.join(', ')}], which is not a valid shape`,
        );
      }
      const size = d.outputShape.reduce((a, b) => a * b, 1);
      if (!(size <= MAX_NODE_OUTPUT)) {
        throw new RangeError(
          `node '${name}' (${op}) would output [${d.outputShape.join(', ')}] per example, more than ${MAX_NODE_OUTPUT.toLocaleString('en-US')} values`,
        );
      }
      total += size;
      if (total > MAX_GRAPH_OUTPUT) {
        throw new RangeError(
          `node '${name}' (${op}) brings the activations to more than ${MAX_GRAPH_OUTPUT.toLocaleString('en-US')} values per example`,
        );
      }
      shapes.push(d.outputShape);
      const params = layer.parameters().reduce((a, t) => a + t.size, 0);
      return { ...d, name, op, params };
    });
  }

  override describe(inputShape: readonly number[]): LayerDescription {
    const rows = this.describeNodes(inputShape);
    return { outputShape: rows[this.#outputPos]!.outputShape, macs: rows.reduce((a, r) => a + r.macs, 0) };
  }

  /** The architecture as JSON-serialisable data (see {@link graphFromJSON}). */
  toJSON(): GraphSpec {
    const { input, nodes, order, output } = this.#graph;
    return {
      format: 'dlf.graph',
      version: 1,
      input,
      nodes: order.map((i, p): GraphNodeSpec => {
        const { type, ...attrs } = specOf(this.layers[p]!);
        const n = nodes[i]!;
        return {
          name: n.name,
          op: type,
          inputs: [...n.inputs],
          ...(Object.keys(attrs).length ? { attrs } : {}),
        };
      }),
      output: nodes[output]!.name,
    };
  }
}

/**
 * Builds a {@link GraphModule} from its `dlf.graph` description. The description is checked
 * completely first (see {@link checkGraphSpec}); weights are freshly initialised from the generator.
 *
 * @example
 * ```ts
 * const copy = graphFromJSON(model.toJSON());
 * ```
 */
export function graphFromJSON(spec: unknown, options: InitOptions = {}): GraphModule {
  const s = typeof spec === 'string' ? (JSON.parse(spec) as unknown) : spec;
  let checked: CheckedGraph;
  try {
    checked = checkGraphSpec(s);
  } catch (e) {
    throw new RangeError(`The graph is invalid: ${(e as Error).message}`);
  }
  const built: GraphNode[] = [];
  try {
    for (const node of checked.nodes) {
      const graphOp = graphOps.get(node.op);
      let module: Module;
      try {
        module = graphOp
          ? graphOp.create()
          : layerRegistry.get(node.op)!.fromJSON(layerSpecOf(node), options);
      } catch (e) {
        throw new RangeError(
          `The graph is invalid: node '${node.name}' (${node.op}): ${(e as Error).message}`,
        );
      }
      built.push({ name: node.name, module, inputs: node.inputs });
    }
    return new GraphModule(built, checked.nodes[checked.output]!.name, { input: checked.input });
  } catch (e) {
    for (const b of built) b.module.dispose();
    throw e;
  }
}
