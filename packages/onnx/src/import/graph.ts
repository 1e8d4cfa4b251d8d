/**
 * The checks and passes on an imported graph before its nodes become layers: every value made once,
 * every input defined, nodes put in topological order (a cycle is an error naming a node in it,
 * found iteratively so a deep graph never overflows the stack), and constants folded.
 */
import { OnnxError } from '../errors.js';
import type { GraphProto, NodeProto } from '../proto/onnx.js';
import { FOLDABLE, foldNode, nodeLabel } from './fold.js';
import { type Const, type DataSource, constValue } from './values.js';

/** A graph ready for conversion: the nodes left after folding, in order, and the constants. */
export interface PreparedGraph {
  /** The one graph input that is not an initializer. */
  input: string;
  /** The graph's output value. */
  output: string;
  nodes: NodeProto[];
  consts: Map<string, Const>;
  /** How many nodes take each value as an input (the graph output counts as one). */
  consumers: Map<string, number>;
  /** The node that makes each value. */
  producer: Map<string, NodeProto>;
}

/** Orders nodes so each comes after the nodes making its inputs (Kahn's algorithm). */
function topologicalOrder(g: GraphProto, defined: Set<string>): NodeProto[] {
  const producer = new Map<string, number>();
  g.node.forEach((n, i) => {
    for (const o of n.output) {
      if (o === '') continue;
      if (producer.has(o) || defined.has(o)) {
        throw new OnnxError(`${nodeLabel(n)} makes '${o}', which another node or an input already makes`);
      }
      producer.set(o, i);
    }
  });
  const waiting = new Array<number>(g.node.length).fill(0);
  const dependents = g.node.map((): number[] => []);
  g.node.forEach((n, i) => {
    for (const input of n.input) {
      if (input === '' || defined.has(input)) continue;
      const p = producer.get(input);
      if (p === undefined)
        throw new OnnxError(`${nodeLabel(n)} takes '${input}', which nothing in the graph makes`);
      waiting[i]!++;
      dependents[p]!.push(i);
    }
  });
  const ready: number[] = [];
  waiting.forEach((w, i) => {
    if (w === 0) ready.push(i);
  });
  const order: NodeProto[] = [];
  for (let k = 0; k < ready.length; k++) {
    const i = ready[k]!;
    order.push(g.node[i]!);
    for (const d of dependents[i]!) if (--waiting[d]! === 0) ready.push(d);
  }
  if (order.length !== g.node.length) {
    const stuck = g.node.find((_, i) => waiting[i]! > 0)!;
    throw new OnnxError(`the graph has a cycle: ${nodeLabel(stuck)} depends on its own output`);
  }
  return order;
}

/**
 * Validates a graph, orders it and folds its constants. `opset` is the default domain's version.
 */
export function prepareGraph(g: GraphProto, opset: number, src: DataSource): PreparedGraph {
  const consts = new Map<string, Const>();
  for (const t of g.initializer) {
    if (consts.has(t.name)) throw new OnnxError(`the initializer '${t.name}' is defined twice`);
    consts.set(t.name, constValue(t, src, `the initializer '${t.name}'`));
  }
  const inputs = g.input.map((v) => v.name).filter((n) => !consts.has(n));
  if (inputs.length !== 1) {
    throw new OnnxError(
      `the graph has ${inputs.length} inputs (${inputs.join(', ') || 'none'}); dlf models take one`,
    );
  }
  if (g.output.length !== 1)
    throw new OnnxError(`the graph has ${g.output.length} outputs; dlf models have one`);
  const defined = new Set([...consts.keys(), inputs[0]!]);
  const order = topologicalOrder(g, defined);
  const nodes: NodeProto[] = [];
  for (const n of order) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') {
      throw new OnnxError(
        `${nodeLabel(n)} is from the operator domain '${n.domain}', which dlf does not import`,
      );
    }
    const ins = n.input.map((i) => (i === '' ? undefined : consts.get(i)));
    const allConst = n.input.every((i, k) => i === '' || ins[k] !== undefined);
    if (FOLDABLE.has(n.opType) && allConst && n.output.length === 1) {
      consts.set(n.output[0]!, foldNode(n, ins, opset, src));
    } else nodes.push(n);
  }
  const consumers = new Map<string, number>();
  const producer = new Map<string, NodeProto>();
  for (const n of nodes) {
    for (const i of n.input) consumers.set(i, (consumers.get(i) ?? 0) + 1);
    for (const o of n.output) producer.set(o, n);
  }
  const output = g.output[0]!.name;
  consumers.set(output, (consumers.get(output) ?? 0) + 1);
  if (!producer.has(output) && output !== inputs[0]) {
    throw new OnnxError(`the graph output '${output}' is a constant or made by no node`);
  }
  return { input: inputs[0]!, output, nodes, consts, consumers, producer };
}
