import type { SequentialSpec } from '../layers/index.js';
import { layerRegistry } from '../layers/registry.js';

/** The metadata key that holds a model's architecture (JSON of {@link Sequential.toJSON}). */
export const ARCHITECTURE_KEY = 'dlf.architecture';

/** The most layers a model file may describe. */
const MAX_LAYERS = 4096;

/**
 * The parameter and buffer shapes a Sequential description implies, computed from the description
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
  if (s.format !== 'dlf.sequential') fail("its format is not 'dlf.sequential'");
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
