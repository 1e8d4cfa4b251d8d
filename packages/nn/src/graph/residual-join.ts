/**
 * A residual block's join as one op: an Add whose one input is a Conv2d or a BatchNorm2d that only
 * it reads runs that layer at the Add, adding the other input (and the ReLU that alone reads the
 * Add) as the layer writes its output. A conv's evaluation-mode BatchNorm2d folds into it and the
 * conv joins; a training-mode BatchNorm2d joins itself, normalising and adding in one pass.
 */
import { type Tensor, tidy } from '@dlf/tensor-core';
import * as F from '../functional.js';
import { ReLU } from '../layers/activation.js';
import { Conv2d } from '../layers/conv.js';
import { convOutputShape, forwardFused, isFoldableBatchNorm } from '../layers/fusion.js';
import { BatchNorm2d } from '../layers/normalization.js';
import type { Module } from '../module.js';
import { Add } from './ops.js';

/**
 * Positions in a graph's topological order: the join's conv (-1: the BatchNorm2d's input is not a
 * conv that only it reads), its BatchNorm2d (-1: none), the Add's input that is their value, the
 * other input (-1: the model input), the ReLU that alone reads the Add (-1: none).
 */
export type ResidualJoin = { conv: number; bn: number; main: number; residual: number; relu: number };

/** The join planned at each Add position, or null. `soleReader(p)`: the one reader of p's value, or -1. */
export function planResidualJoins(
  layers: readonly Module[],
  inputs: readonly number[][],
  soleReader: (p: number) => number,
): (ResidualJoin | null)[] {
  return layers.map((layer, p) => {
    const ins = inputs[p]!;
    if (!(layer instanceof Add) || ins.length !== 2) return null;
    for (const side of [0, 1]) {
      const main = ins[side]!;
      const residual = ins[1 - side]!;
      if (main < 0 || main === residual || soleReader(main) !== p) continue;
      let conv = main;
      let bn = -1;
      if (layers[main] instanceof BatchNorm2d) {
        bn = main;
        const c = inputs[bn]![0]!;
        conv = c >= 0 && soleReader(c) === bn && layers[c] instanceof Conv2d ? c : -1;
      } else if (!(layers[main] instanceof Conv2d)) {
        continue;
      }
      const after = soleReader(p);
      return { conv, bn, main, residual, relu: after >= 0 && layers[after] instanceof ReLU ? after : -1 };
    }
    return null;
  });
}

/**
 * The layer that runs at the Add now: the conv (its BatchNorm2d, if any, in evaluation mode and
 * folded), else the BatchNorm2d.
 */
export function joinedLayer(join: ResidualJoin, layers: readonly Module[]): number {
  return join.conv >= 0 && (join.bn < 0 || isFoldableBatchNorm(layers[join.bn])) ? join.conv : join.bn;
}

/**
 * The join's value with `layer` (joinedLayer's) run on x: act(layer(x) + residual) as one op when
 * the residual has the layer output's shape; otherwise the layer, then the Add (which broadcasts)
 * and the ReLU, as separate ops.
 */
export function runResidualJoin(
  join: ResidualJoin,
  layers: readonly Module[],
  layer: number,
  add: Add,
  addInputs: readonly number[],
  x: Tensor,
  residual: Tensor,
): Tensor {
  const relu = join.relu >= 0;
  const fits = (shape: readonly number[] | null) =>
    shape !== null &&
    residual.rank === 4 &&
    shape.length === 4 &&
    shape.every((d, i) => d === residual.shape[i]);
  if (layer === join.conv) {
    const conv = layers[join.conv] as Conv2d;
    const bn = join.bn >= 0 ? (layers[join.bn] as BatchNorm2d) : null;
    if (fits(convOutputShape(conv, x)))
      return forwardFused(conv, x, { bn, relu, maxPool2x2: false, residual });
    return separately(() => forwardFused(conv, x, { bn, relu: false, maxPool2x2: false }));
  }
  const bn = layers[join.bn] as BatchNorm2d;
  if (fits(x.shape as number[])) return bn.forward(x, { relu, residual });
  return separately(() => bn.forward(x));

  function separately(main: () => Tensor): Tensor {
    return tidy(() => {
      const m = main();
      const sum = add.forwardMany(addInputs[0] === join.main ? [m, residual] : [residual, m]);
      return relu ? F.relu(sum) : sum;
    });
  }
}
