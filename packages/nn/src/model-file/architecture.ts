import { checkGraphSpec } from '../graph/spec.js';
import { GraphModule, graphFromJSON } from '../graph/module.js';
import type { GraphSpec } from '../graph/spec.js';
import { Sequential, type SequentialSpec, sequentialFromJSON } from '../layers/index.js';
import { type InitOptions, layerRegistry } from '../layers/registry.js';

/** A model that can be described as JSON, saved in a model file and rebuilt: a stack or a graph. */
export type DescribedModel = Sequential | GraphModule;

/** A model description: `dlf.sequential` (a layer list) or `dlf.graph` (named nodes). */
export type ModelSpec = SequentialSpec | GraphSpec;

/** The metadata key that holds a model's architecture (JSON of `model.toJSON()`). */
export const ARCHITECTURE_KEY = 'dlf.architecture';

/** The most layers a model file may describe. */
const MAX_LAYERS = 4096;

/**
 * The parameter and buffer shapes a model description (`dlf.sequential` or `dlf.graph`) implies, computed from the description
 * alone (no allocation) with each layer type's registered `stateShapes`, every size checked to be a
 * sane integer.
 *
 * @example
 * ```ts
 * impliedStateShapes(new Sequential(new Linear(4, 2)).toJSON()); // Map { '0.weight' => [2, 4], '0.bias' => [2] }
 * ```
 */
export function impliedStateShapes(spec: unknown): Map<string, number[]> {
  const fail = (what: string): never => {
    throw new Error(`the architecture is invalid: ${what}`);
  };
  if (typeof spec !== 'object' || spec === null) fail('it is not an object');
  const s = spec as Partial<SequentialSpec>;
  if ((spec as { format?: unknown }).format === 'dlf.graph') {
    try {
      return checkGraphSpec(spec).stateShapes;
    } catch (e) {
      return fail((e as Error).message);
    }
  }
  if (s.format !== 'dlf.sequential') fail("its format is neither 'dlf.sequential' nor 'dlf.graph'");
  if (!Array.isArray(s.layers)) fail('it has no layers array');
  const layers = s.layers as unknown[];
  if (layers.length > MAX_LAYERS) fail(`it has ${layers.length} layers (at most ${MAX_LAYERS})`);
  const out = new Map<string, number[]>();
  layers.forEach((l, i) => {
    if (typeof l !== 'object' || l === null) fail(`layer ${i} is not an object`);
    const layer = l as Record<string, unknown>;
    // Unknown types have no state here; building the model then reports them.
    if (typeof layer.type !== 'string') fail(`layer ${i} has no type`);
    const stateShapes = layerRegistry.get(layer.type as string)?.stateShapes;
    if (!stateShapes) return;
    let shapes: Record<string, number[]>;
    try {
      shapes = stateShapes(layer as { type: string });
    } catch (e) {
      return fail(`layer ${i} (${String(layer.type)}) has ${(e as Error).message}`);
    }
    for (const [name, shape] of Object.entries(shapes)) out.set(`${i}.${name}`, shape);
  });
  return out;
}

/**
 * Builds a model from its description, either format, with fresh weights from the generator.
 *
 * @example
 * ```ts
 * const copy = modelFromJSON(model.toJSON()); // a Sequential or a GraphModule, like model
 * ```
 */
export function modelFromJSON(spec: unknown, options: InitOptions = {}): DescribedModel {
  const s = typeof spec === 'string' ? (JSON.parse(spec) as unknown) : spec;
  if (typeof s === 'object' && s !== null && (s as { format?: unknown }).format === 'dlf.graph') {
    return graphFromJSON(s, options);
  }
  return sequentialFromJSON(s, options);
}

/** True for a model {@link modelFromJSON} can rebuild. @example `isDescribedModel(seedCnn())` */
export function isDescribedModel(m: unknown): m is DescribedModel {
  return m instanceof Sequential || m instanceof GraphModule;
}
