/**
 * Graph ops: nodes of a `dlf.graph` that read several inputs (residual `Add`, channel `Concat`).
 * Every other node op is a registered layer with one input.
 */
import type { Tensor } from '@dlf/tensor-core';
import * as F from '../functional.js';
import { type LayerDescription, Module } from '../module.js';

/** A module that combines several tensors (a graph op); `forward(x)` is the one-input case. */
export abstract class MultiInputModule extends Module {
  /** Combines `xs` (in the node's input order) into one tensor. */
  abstract forwardMany(xs: readonly Tensor[]): Tensor;
  /** The output shape (batch excluded) for the input shapes; throws on shapes it cannot combine. */
  abstract describeMany(shapes: readonly (readonly number[])[]): LayerDescription;
  forward(x: Tensor): Tensor {
    return this.forwardMany([x]);
  }
  override describe(inputShape: readonly number[]): LayerDescription {
    return this.describeMany([inputShape]);
  }
}

const show = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Sums its inputs element-wise (all of one shape): the residual connection.
 *
 * @example
 * ```ts
 * new Add().forwardMany([a, b]); // a + b
 * ```
 */
export class Add extends MultiInputModule {
  forwardMany(xs: readonly Tensor[]): Tensor {
    let acc = F.add(xs[0]!, xs[1] ?? 0);
    for (let i = 2; i < xs.length; i++) {
      const next = F.add(acc, xs[i]!);
      acc.dispose();
      acc = next;
    }
    return acc;
  }
  describeMany(shapes: readonly (readonly number[])[]): LayerDescription {
    const first = shapes[0]!;
    for (const s of shapes) {
      if (s.length !== first.length || s.some((d, i) => d !== first[i])) {
        throw new RangeError(`Add received inputs of shapes ${shapes.map(show).join(' and ')}`);
      }
    }
    return { outputShape: [...first], macs: 0 };
  }
  /** This op as a node description's op (an entry of a `dlf.graph` model.json). */
  toSpec(): { type: string } {
    return { type: 'Add' };
  }
}

/**
 * Joins its inputs along the channel axis (axis 1 of (N, C, …)).
 *
 * @example
 * ```ts
 * new Concat().forwardMany([a, b]).shape[1]; // a.shape[1] + b.shape[1]
 * ```
 */
export class Concat extends MultiInputModule {
  forwardMany(xs: readonly Tensor[]): Tensor {
    return F.concat(xs, 1);
  }
  describeMany(shapes: readonly (readonly number[])[]): LayerDescription {
    const first = shapes[0]!;
    let channels = 0;
    for (const s of shapes) {
      if (s.length !== first.length || s.length === 0 || s.some((d, i) => i > 0 && d !== first[i])) {
        throw new RangeError(`Concat received inputs of shapes ${shapes.map(show).join(' and ')}`);
      }
      channels += s[0]!;
    }
    return { outputShape: [channels, ...first.slice(1)], macs: 0 };
  }
  /** This op as a node description's op (an entry of a `dlf.graph` model.json). */
  toSpec(): { type: string } {
    return { type: 'Concat' };
  }
}

/** A graph op: how many inputs it needs and how it is built. */
export interface GraphOp {
  type: string;
  minInputs: number;
  create(): MultiInputModule;
}

/**
 * The graph ops by name. They have no parameters and no attributes.
 *
 * @example
 * ```ts
 * graphOps.has('Add'); // true
 * ```
 */
export const graphOps: ReadonlyMap<string, GraphOp> = new Map<string, GraphOp>([
  ['Add', { type: 'Add', minInputs: 2, create: () => new Add() }],
  ['Concat', { type: 'Concat', minInputs: 1, create: () => new Concat() }],
]);
