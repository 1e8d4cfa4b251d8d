/**
 * The `dlf.graph` model description and its checker. The checker works on the description alone
 * (no tensor is allocated) and with iterative algorithms only, so a hostile description (a cycle,
 * 10^5 nodes, a 10^9-channel layer) gets one clear error naming the node, never a stack overflow or
 * a giant allocation.
 */
import { type LayerSpec, layerRegistry } from '../layers/registry.js';
import { graphOps } from './ops.js';

/** One node of a {@link GraphSpec}: a named op applied to named inputs. */
export interface GraphNodeSpec {
  /** Unique name; parameters are stored as `<name>.weight` etc. Letters, digits, `_` and `-`. */
  name: string;
  /** A registered layer type (`Conv2d`, `BatchNorm2d`, `ReLU`, …) or a graph op (`Add`, `Concat`). */
  op: string;
  /** Names of the nodes (or the graph input) it reads; layers take exactly one. */
  inputs: string[];
  /** The op's attributes: for a layer, its JSON description without `type`. */
  attrs?: Record<string, unknown>;
}

/** The JSON form of a graph model (see `GraphModule.toJSON`). */
export interface GraphSpec {
  format: 'dlf.graph';
  version: 1;
  /** The name nodes use to read the model input (default `'input'`). */
  input?: string;
  nodes: GraphNodeSpec[];
  /** The node whose value is the model output. */
  output: string;
}

/** The most nodes a graph description may have. */
export const MAX_GRAPH_NODES = 4096;
/** The most inputs one node may read. */
const MAX_NODE_INPUTS = 256;
/** The most parameters and buffer values (float32) a description may imply: 2^28 (1 GiB). */
export const MAX_MODEL_VALUES = 2 ** 28;

const NAME = /^[A-Za-z0-9_-]{1,128}$/;

/** What {@link checkGraphSpec} found: nodes in topological order with resolved inputs. */
export interface CheckedGraph {
  input: string;
  nodes: GraphNodeSpec[];
  /** Node indices, each after every node it reads. */
  order: number[];
  /** Per node, the indices of its inputs (-1: the graph input). */
  inputIndex: number[][];
  /** Index of the output node. */
  output: number;
  /** Parameter and buffer shapes by dotted name (`conv1.weight`). */
  stateShapes: Map<string, number[]>;
}

/** The layer description of a layer node (`{ type: op, ...attrs }`). */
export function layerSpecOf(node: GraphNodeSpec): LayerSpec {
  return { ...(node.attrs ?? {}), type: node.op };
}

const label = (n: GraphNodeSpec): string => `node '${n.name}' (${n.op})`;

function checkNode(raw: unknown, i: number, names: Map<string, number>, input: string): GraphNodeSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`node ${i} is not an object`);
  }
  const n = raw as Record<string, unknown>;
  if (typeof n.name !== 'string' || !NAME.test(n.name)) {
    throw new Error(
      `node ${i} has the name ${JSON.stringify(n.name)?.slice(0, 60)} (expected 1-128 letters, digits, '_' or '-')`,
    );
  }
  const name = n.name;
  if (names.has(name) || name === input) throw new Error(`node '${name}' is defined twice`);
  if (typeof n.op !== 'string') throw new Error(`node '${name}' has no op`);
  const op = n.op;
  const graphOp = graphOps.get(op);
  if (!graphOp && !layerRegistry.has(op))
    throw new Error(`node '${name}' has an unknown op '${op.slice(0, 60)}'`);
  const inputs = n.inputs;
  if (!Array.isArray(inputs) || inputs.some((s) => typeof s !== 'string')) {
    throw new Error(`node '${name}' (${op}) has no inputs array of node names`);
  }
  const [min, max] = graphOp ? [graphOp.minInputs, MAX_NODE_INPUTS] : [1, 1];
  if (inputs.length < min || inputs.length > max) {
    throw new Error(
      `node '${name}' (${op}) has ${inputs.length} inputs (expected ${min === max ? min : `${min} to ${max}`})`,
    );
  }
  if (n.attrs !== undefined && (typeof n.attrs !== 'object' || n.attrs === null || Array.isArray(n.attrs))) {
    throw new Error(`node '${name}' (${op}) has attrs that are not an object`);
  }
  names.set(name, i);
  return {
    name,
    op,
    inputs: inputs as string[],
    ...(n.attrs ? { attrs: n.attrs as Record<string, unknown> } : {}),
  };
}

/** Kahn's algorithm; on a cycle, names a node on it (found by walking inputs, iteratively). */
function topologicalOrder(nodes: GraphNodeSpec[], inputIndex: number[][]): number[] {
  const pending = inputIndex.map((ins) => ins.filter((j) => j >= 0).length);
  const consumers: number[][] = nodes.map(() => []);
  inputIndex.forEach((ins, i) => {
    for (const j of ins) if (j >= 0) consumers[j]!.push(i);
  });
  const ready: number[] = [];
  pending.forEach((p, i) => {
    if (p === 0) ready.push(i);
  });
  const order: number[] = [];
  for (let k = 0; k < ready.length; k++) {
    const i = ready[k]!;
    order.push(i);
    for (const c of consumers[i]!) if (--pending[c]! === 0) ready.push(c);
  }
  if (order.length === nodes.length) return order;
  // Every unplaced node reads an unplaced node, so following those inputs must come back round.
  const seen = new Set<number>();
  let at = pending.findIndex((p) => p > 0);
  while (!seen.has(at)) {
    seen.add(at);
    at = inputIndex[at]!.find((j) => j >= 0 && pending[j]! > 0)!;
  }
  throw new Error(`${label(nodes[at]!)} is part of a cycle`);
}

/**
 * Checks a `dlf.graph` description completely, without allocating a tensor: structure, names, ops
 * (registered layers or graph ops), inputs that name nodes, no cycle, every node used by the output,
 * and the parameter shapes each layer implies (sizes sane, total within {@link MAX_MODEL_VALUES}).
 * Errors name the node: "node 'conv1' (Conv2d) has outChannels = 1000000000".
 *
 * @example
 * ```ts
 * const { order } = checkGraphSpec({
 *   format: 'dlf.graph', version: 1, output: 'fc',
 *   nodes: [{ name: 'fc', op: 'Linear', inputs: ['input'], attrs: { inFeatures: 4, outFeatures: 2 } }],
 * });
 * ```
 */
export function checkGraphSpec(spec: unknown): CheckedGraph {
  if (typeof spec !== 'object' || spec === null) throw new Error('it is not an object');
  const s = spec as Partial<GraphSpec>;
  if (s.format !== 'dlf.graph') throw new Error("its format is not 'dlf.graph'");
  if (s.version !== 1) throw new Error(`its version is ${JSON.stringify(s.version)}, not 1`);
  if (!Array.isArray(s.nodes)) throw new Error('it has no nodes array');
  if (s.nodes.length === 0) throw new Error('it has no nodes');
  if (s.nodes.length > MAX_GRAPH_NODES) {
    throw new Error(`it has ${s.nodes.length} nodes (at most ${MAX_GRAPH_NODES})`);
  }
  const input = s.input ?? 'input';
  if (typeof input !== 'string' || !NAME.test(input)) throw new Error('its input name is invalid');
  const names = new Map<string, number>();
  const nodes = (s.nodes as unknown[]).map((n, i) => checkNode(n, i, names, input));
  const inputIndex = nodes.map((n) =>
    n.inputs.map((name) => {
      if (name === input) return -1;
      const j = names.get(name);
      if (j === undefined) throw new Error(`${label(n)} reads '${name.slice(0, 60)}', which names no node`);
      return j;
    }),
  );
  if (typeof s.output !== 'string' || !names.has(s.output)) {
    throw new Error(`its output ${JSON.stringify(s.output)?.slice(0, 60)} names no node`);
  }
  const output = names.get(s.output)!;
  const order = topologicalOrder(nodes, inputIndex);
  const used = new Uint8Array(nodes.length);
  const stack = [output];
  used[output] = 1;
  while (stack.length > 0) {
    for (const j of inputIndex[stack.pop()!]!) {
      if (j >= 0 && !used[j]) {
        used[j] = 1;
        stack.push(j);
      }
    }
  }
  const unused = used.indexOf(0);
  if (unused >= 0) throw new Error(`${label(nodes[unused]!)} is not used by the output '${s.output}'`);
  const stateShapes = new Map<string, number[]>();
  let values = 0;
  for (const n of nodes) {
    const shapesOf = layerRegistry.get(n.op)?.stateShapes;
    if (!shapesOf) continue;
    let shapes: Record<string, number[]>;
    try {
      shapes = shapesOf(layerSpecOf(n));
    } catch (e) {
      throw new Error(`${label(n)} has ${(e as Error).message}`);
    }
    for (const [local, shape] of Object.entries(shapes)) {
      stateShapes.set(`${n.name}.${local}`, shape);
      values += shape.reduce((a, b) => a * b, 1);
    }
    if (values > MAX_MODEL_VALUES) {
      throw new Error(
        `${label(n)} brings the parameters to more than ${MAX_MODEL_VALUES.toLocaleString('en-US')} values`,
      );
    }
  }
  return { input, nodes, order, inputIndex, output, stateShapes };
}
