/**
 * The one view of a model that export and import share: a list of named nodes, each a layer
 * description (the JSON of the layer registry) with named inputs and its own weights. A Sequential
 * model is a chain of such nodes; a graph model is a DAG of them, with `Add` and `Concat` nodes
 * joining branches. Export walks this list; import produces it and builds a model from it.
 */
import { type LayerSpec, type Module, Sequential, sequentialFromJSON } from '@dlf/nn';
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
  throw new OnnxError(
    `cannot export a ${model.constructor.name}: only Sequential models (dlf.sequential) can be exported so far`,
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

/**
 * Builds a trainable model from a node list: a Sequential when the list is a chain, with the nodes'
 * weights loaded. The caller keeps ownership of the node tensors.
 *
 * @example
 * ```ts
 * const model = buildModel(modelNodes(seedCnn()));
 * ```
 */
export function buildModel(list: NodeList): Module {
  const bad = nonChainNode(list);
  if (bad) {
    throw new OnnxError(
      `the model is a graph, not a chain (node '${bad.name}' (${bad.spec.type}) takes ${bad.inputs.map((i) => `'${i}'`).join(', ') || 'nothing'}); importing graph models needs dlf.graph models, which this version lacks`,
    );
  }
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
