/**
 * The layer registry: every layer type declares once, by its JSON `type`, how it is rebuilt from its
 * description ({@link sequentialFromJSON}) and which parameter and buffer shapes that description
 * implies (model files are checked against them before anything is allocated).
 */
import { type Generator, invalidParam } from '@dlf/tensor-core';
import type { Size2 } from '../functional.js';
import type { Module } from '../module.js';

/** The JSON form of one layer (see {@link Sequential.toJSON}). */
export type LayerSpec = { type: string } & Record<string, unknown>;

/** Options shared by layers with weights. */
export interface InitOptions {
  /** The stream their initial values come from (default: the global generator). */
  generator?: Generator;
}

/**
 * What a layer type declares to the registry.
 *
 * @example
 * ```ts
 * registerLayer({ type: 'Identity', fromJSON: () => new Identity() });
 * ```
 */
export interface LayerType {
  /** The `type` of its JSON description, e.g. `'Conv2d'`. */
  type: string;
  /** Builds the layer from its description, with fresh weights drawn from `options.generator`. */
  fromJSON(spec: LayerSpec, options: InitOptions): Module;
  /**
   * The shapes of its parameters and buffers by local name (`weight`, `runningMean`), computed
   * from the description alone, without allocating. Sizes are read with {@link stateSize} and
   * {@link stateSizePair}; a problem is thrown as an error whose message completes
   * "layer 3 (Conv2d) has …". Omitted for layers without state.
   */
  stateShapes?(spec: LayerSpec): Record<string, number[]>;
}

const registry = new Map<string, LayerType>();

/**
 * Every registered layer type by its JSON `type`.
 *
 * @example
 * ```ts
 * layerRegistry.has('Conv2d'); // true
 * ```
 */
export const layerRegistry: ReadonlyMap<string, LayerType> = registry;

/**
 * Makes a layer type known to {@link sequentialFromJSON} and to the model-file reader. Every
 * built-in layer registers itself; a type may be registered once.
 *
 * @example
 * ```ts
 * class Identity extends Module {
 *   forward(x: Tensor) { return x.clone(); }
 *   toSpec() { return { type: 'Identity' }; }
 * }
 * registerLayer({ type: 'Identity', fromJSON: () => new Identity() });
 * ```
 */
export function registerLayer(layerType: LayerType): void {
  if (typeof layerType?.type !== 'string' || layerType.type.length === 0) {
    throw invalidParam('layerType.type', 'a non-empty layer type name', layerType?.type, 'type');
  }
  if (typeof layerType.fromJSON !== 'function') {
    throw invalidParam(`${layerType.type}.fromJSON`, 'a function', layerType.fromJSON, 'type');
  }
  if (registry.has(layerType.type)) {
    throw invalidParam('layerType.type', 'a layer type not registered yet', layerType.type);
  }
  registry.set(layerType.type, layerType);
}

/**
 * Reads a number field of a layer description (for `fromJSON`).
 *
 * @example
 * ```ts
 * specNumber({ type: 'Dropout' }, 'p', 0.5); // 0.5
 * ```
 */
export function specNumber(spec: LayerSpec, key: string, fallback?: number): number {
  const v = spec[key] ?? fallback;
  if (typeof v !== 'number') throw invalidParam(`${spec.type}.${key}`, 'a number', v, 'type');
  return v;
}

/**
 * Reads a number-or-[h, w] field of a layer description (for `fromJSON`).
 *
 * @example
 * ```ts
 * specSize2({ type: 'MaxPool2d', kernelSize: [2, 2] }, 'kernelSize'); // [2, 2]
 * ```
 */
export function specSize2(spec: LayerSpec, key: string, fallback?: Size2): Size2 {
  const v = spec[key] ?? fallback;
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.length === 2 && v.every((e) => typeof e === 'number'))
    return [v[0] as number, v[1] as number];
  throw invalidParam(`${spec.type}.${key}`, 'a number or [h, w]', v, 'type');
}

/**
 * Reads a boolean field of a layer description (for `fromJSON`).
 *
 * @example
 * ```ts
 * specBool({ type: 'Linear', bias: false }, 'bias', true); // false
 * ```
 */
export function specBool(spec: LayerSpec, key: string, fallback: boolean): boolean {
  const v = spec[key] ?? fallback;
  if (typeof v !== 'boolean') throw invalidParam(`${spec.type}.${key}`, 'a boolean', v, 'type');
  return v;
}

/** The largest size a description may give a dimension (model files are refused beyond it). */
export const MAX_STATE_DIM = 1 << 20;

/** True for an integer in [min, max]. */
export function isIntIn(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/**
 * Reads a positive size (at most 2^20) of a layer description for `stateShapes`.
 *
 * @example
 * ```ts
 * stateSize({ type: 'Linear', inFeatures: 4 }, 'inFeatures'); // 4
 * ```
 */
export function stateSize(spec: LayerSpec, key: string, fallback?: number): number {
  const v = spec[key] ?? fallback;
  if (!isIntIn(v, 1, MAX_STATE_DIM)) throw new Error(`${key} = ${JSON.stringify(v)}`);
  return v;
}

/**
 * Reads a positive size or [h, w] pair of a layer description for `stateShapes`.
 *
 * @example
 * ```ts
 * stateSizePair({ type: 'Conv2d', kernelSize: 3 }, 'kernelSize'); // [3, 3]
 * ```
 */
export function stateSizePair(spec: LayerSpec, key: string): [number, number] {
  const v = spec[key];
  if (isIntIn(v, 1, MAX_STATE_DIM)) return [v, v];
  if (
    Array.isArray(v) &&
    v.length === 2 &&
    isIntIn(v[0], 1, MAX_STATE_DIM) &&
    isIntIn(v[1], 1, MAX_STATE_DIM)
  )
    return [v[0], v[1]];
  throw new Error(`${key} = ${JSON.stringify(v)}`);
}
