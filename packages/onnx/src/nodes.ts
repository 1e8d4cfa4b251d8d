/**
 * The one view of a model that export and import share: a list of named nodes, each a layer
 * description (the JSON of the layer registry) with named inputs and its own weights. A Sequential
 * model is a chain of such nodes; a graph model is a DAG of them, with `Add` and `Concat` nodes
 * joining branches. Export walks this list; import produces it and builds a model from it.
 */
import {
  GraphModule,
  type GraphNodeSpec,
  graphFromJSON,
  type LayerSpec,
  type Module,
  Sequential,
  sequentialFromJSON,
} from '@dlf/nn';
import type { Tensor } from '@dlf/tensor-core';
import { OnnxError } from './errors.js';

/** The name of the model input in a node list. */
export const MODEL_INPUT = 'input';

/** One node of a model: a layer (or a join such as `Add`) with named inputs and its weights. */
export interface ModelNode {
  /** Unique name; other nodes name it among their inputs. */
  name: string;
  /** The layer description, e.g. `{ type: 'Conv2d', inChannels: 3, … }`. */
  spec: LayerSpec;
  /** The nodes (or {@link MODEL_INPUT}) whose outputs this node takes, in order. */
  inputs: string[];
  /** Parameters and buffers by local name (`weight`, `runningMean`); tensors are not owned. */
  state: Map<string, Tensor>;
  /** The module itself, when the node came from a built model (for output shapes). */
  module?: Module;
}

/** A model as a node list; the last node's output is the model output. */
export interface NodeList {
  nodes: ModelNode[];
  output: string;
}

/** Splits a module's state dict by child name. */
function childState(model: Module, child: string): Map<string, Tensor> {
  const prefix = `${child}.`;
  const out = new Map<string, Tensor>();
  for (const [k, v] of model.stateDict()) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

/**
 * The node list of a model. A Sequential becomes a chain named '0', '1', …, as its state dict.
 *
 * @example
 * ```ts
 * modelNodes(seedCnn()).nodes.map((n) => n.spec.type); // ['Conv2d', 'ReLU', …]
 * ```
 */
export function modelNodes(model: Module): NodeList {
  if (model instanceof Sequential) {
    const nodes = model.layers.map((layer, i): ModelNode => {
      const toSpec = (layer as Module & { toSpec?: () => LayerSpec }).toSpec;
      if (typeof toSpec !== 'function') {
        throw new OnnxError(`layer ${i} (${layer.constructor.name}) has no description to export`);
      }
      return {
        name: String(i),
        spec: toSpec.call(layer),
        inputs: [i === 0 ? MODEL_INPUT : String(i - 1)],
        state: childState(model, String(i)),
        module: layer,
      };
    });
    return { nodes, output: nodes.length > 0 ? nodes[nodes.length - 1]!.name : MODEL_INPUT };
  }
  if (model instanceof GraphModule) {
    const spec = model.toJSON();
    const inputName = spec.input ?? MODEL_INPUT;
    const rename = (n: string): string => (n === inputName ? MODEL_INPUT : n);
    const nodes = spec.nodes.map(
      (n, p): ModelNode => ({
        name: n.name,
        spec: { ...(n.attrs ?? {}), type: n.op },
        inputs: n.inputs.map(rename),
        state: childState(model, n.name),
        module: model.layers[p]!,
      }),
    );
    return { nodes, output: spec.output };
  }
  throw new OnnxError(
    `cannot export a ${model.constructor.name}: only Sequential and graph models (dlf.sequential, dlf.graph) can be exported`,
  );
}

/**
 * The first node (in order) that makes the list not a chain, or undefined for a chain: each node
 * takes exactly the previous node's output (the first takes the model input), and the last is the
 * output.
 */
export function nonChainNode(list: NodeList): ModelNode | undefined {
  let prev = MODEL_INPUT;
  for (const n of list.nodes) {
    if (n.inputs.length !== 1 || n.inputs[0] !== prev) return n;
    prev = n.name;
  }
  return prev === list.output ? undefined : list.nodes[list.nodes.length - 1];
}

/** A name graph models accept (letters, digits, '_' and '-'), unique among `taken`. */
function graphName(name: string, taken: Set<string>): string {
  const base =
    name
      .replace(/[^A-Za-z0-9_-]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 100) || 'node';
  let out = base;
  for (let i = 1; taken.has(out) || out === MODEL_INPUT; i++) out = `${base}_${i}`;
  taken.add(out);
  return out;
}

/**
 * The graph-safe name of each node of a list (letters, digits, '_' and '-', unique), as
 * {@link buildModel} names the nodes of a graph model.
 */
export function graphNames(list: NodeList): Map<string, string> {
  const taken = new Set<string>();
  const names = new Map<string, string>([[MODEL_INPUT, MODEL_INPUT]]);
  for (const n of list.nodes) names.set(n.name, graphName(n.name, taken));
  return names;
}

/** A graph model from a node list that is not a chain (names made graph-safe). */
function buildGraph(list: NodeList): GraphModule {
  const names = graphNames(list);
  const nodes = list.nodes.map((n): GraphNodeSpec => {
    const { type, ...attrs } = n.spec;
    if (type === 'Concat' && attrs.axis !== undefined && attrs.axis !== 1) {
      throw new OnnxError(
        `node '${n.name}' (Concat) joins along axis ${String(attrs.axis)}; dlf concatenates channels (axis 1)`,
      );
    }
    if (type === 'Concat') delete attrs.axis;
    return { name: names.get(n.name)!, op: type, inputs: n.inputs.map((i) => names.get(i)!), attrs };
  });
  let model: GraphModule;
  try {
    model = graphFromJSON({
      format: 'dlf.graph',
      version: 1,
      input: MODEL_INPUT,
      nodes,
      output: names.get(list.output)!,
    });
  } catch (e) {
    throw new OnnxError(`the imported graph is not a valid dlf graph: ${(e as Error).message}`, { cause: e });
  }
  const state = new Map<string, Tensor>();
  for (const n of list.nodes) for (const [k, v] of n.state) state.set(`${names.get(n.name)}.${k}`, v);
  try {
    model.loadStateDict(state);
  } catch (e) {
    model.dispose();
    throw new OnnxError(`the imported weights do not fit the model: ${(e as Error).message}`, { cause: e });
  }
  return model;
}

/**
 * Builds a trainable model from a node list: a Sequential when the list is a chain, else a graph
 * model (node names made graph-safe), with the nodes' weights loaded. The caller keeps ownership of the node tensors.
 *
 * @example
 * ```ts
 * const model = buildModel(modelNodes(seedCnn()));
 * ```
 */
export function buildModel(list: NodeList): Module {
  if (nonChainNode(list)) return buildGraph(list);
  const layers: Module[] = [];
  for (const n of list.nodes) {
    try {
      layers.push(sequentialFromJSON({ format: 'dlf.sequential', version: 1, layers: [n.spec] }).layers[0]!);
    } catch (e) {
      for (const l of layers) l.dispose();
      throw new OnnxError(`node '${n.name}' (${n.spec.type}) has invalid settings: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
  const model = new Sequential(...layers);
  const state = new Map<string, Tensor>();
  list.nodes.forEach((n, i) => {
    for (const [k, v] of n.state) state.set(`${i}.${k}`, v);
  });
  try {
    model.loadStateDict(state);
  } catch (e) {
    model.dispose();
    throw new OnnxError(`the imported weights do not fit the model: ${(e as Error).message}`, { cause: e });
  }
  return model;
}
