/**
 * `@dlf/native/optim`: optimizer steps, wrapped by `@dlf/optim` (which owns the state).
 *
 * @packageDocumentation
 */
import type { Handle } from './binding.js';
import { loadNative } from './load.js';

/** The optim slice's entry points. */
export interface OptimSlice {
  /**
   * One SGD step over every parameter with a gradient. `buffers` holds the momentum buffers (null:
   * none yet). Returns the buffers this call created (null elsewhere); the caller keeps them.
   */
  sgdStep(
    params: readonly Handle[],
    buffers: readonly (Handle | null)[],
    lr: number,
    momentum: number,
    dampening: number,
    nesterov: boolean,
    weightDecay: number,
  ): (Handle | null)[];
  /**
   * One Adam (`decoupled` false) or AdamW (`decoupled` true) step over every parameter with a gradient.
   * The moment arrays hold the state per parameter (null: none yet); `steps` holds each parameter's
   * step count and is incremented in place for every parameter updated. Returns, per parameter, the
   * state this call created (`[expAvg, expAvgSq, maxExpAvgSq | null]`) or null.
   */
  adamStep(
    params: readonly Handle[],
    expAvg: readonly (Handle | null)[],
    expAvgSq: readonly (Handle | null)[],
    maxExpAvgSq: readonly (Handle | null)[],
    steps: Float64Array,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    amsgrad: boolean,
    decoupled: boolean,
  ): ([Handle, Handle, Handle | null] | null)[];
  /**
   * Moves each average towards its source in place: `average = decay · average + (1 - decay) · source`
   * (contiguous float32 pairs of one shape; decay in [0, 1]). Nothing is changed when a pair is invalid.
   */
  emaUpdate(averages: readonly Handle[], sources: readonly Handle[], decay: number): void;
}

/** The optim slice of the loaded addon. */
export const optim: OptimSlice = loadNative().optim;
