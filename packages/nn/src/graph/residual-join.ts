/**
 * A residual block's join as one op: an Add whose one input is a Conv2d (or a conv's BatchNorm2d)
 * that only it reads runs the conv at the Add, adding the other input as the conv's output is
 * written (and the ReLU that alone reads the Add). The BatchNorm2d folds into the conv, so this
 * applies in evaluation mode, or to a conv with no BatchNorm2d in any mode.
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
 * Positions in a graph's topological order: the join's conv, its BatchNorm2d (-1: none), the Add's
 * input that is the conv's (or BN's) value, the other input (-1: the model input), the ReLU that
 * alone reads the Add (-1: none).
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
        conv = inputs[bn]![0]!;
        if (conv < 0 || soleReader(conv) !== bn) continue;
      }
      if (!(layers[conv] instanceof Conv2d)) continue;
      const after = soleReader(p);
      return { conv, bn, main, residual, relu: after >= 0 && layers[after] instanceof ReLU ? after : -1 };
    }
    return null;
  });
}

/** Whether the join can run as one op now: its BatchNorm2d (if any) is in evaluation mode. */
export function joinFoldsNow(join: ResidualJoin, layers: readonly Module[]): boolean {
  return join.bn < 0 || isFoldableBatchNorm(layers[join.bn]);
}

/**
 * The join's value: act(conv(x) + residual) as one op when the residual has the conv output's shape;
 * otherwise conv, then the Add (which broadcasts) and the ReLU, as separate ops.
 */
export function runResidualJoin(
  join: ResidualJoin,
  layers: readonly Module[],
  add: Add,
  addInputs: readonly number[],
  x: Tensor,
  residual: Tensor,
): Tensor {
  const conv = layers[join.conv] as Conv2d;
  const bn = join.bn >= 0 ? (layers[join.bn] as BatchNorm2d) : null;
  const shape = convOutputShape(conv, x);
  const relu = join.relu >= 0;
  if (shape && residual.rank === 4 && shape.every((d, i) => d === residual.shape[i]))
    return forwardFused(conv, x, { bn, relu, maxPool2x2: false, residual });
  return tidy(() => {
    const main = forwardFused(conv, x, { bn, relu: false, maxPool2x2: false });
    const sum = add.forwardMany(addInputs[0] === join.main ? [main, residual] : [residual, main]);
    return relu ? F.relu(sum) : sum;
  });
}
