import { checkShape } from '@dlf/tensor-core';
import { Sequential } from './layers/index.js';
import type { Module } from './module.js';

/** One row of a {@link summary}. */
export interface SummaryRow {
  /** Position and type, e.g. "0: Conv2d". */
  name: string;
  /** The layer's class name, e.g. `Conv2d`. */
  type: string;
  /** Output shape per example (batch excluded). */
  outputShape: number[];
  /** Parameters of this layer. */
  params: number;
  /** Multiply-accumulates per example. */
  macs: number;
  /** Floating-point operations per example: 2 × MACs (one multiply and one add each). */
  flops: number;
}

/** A model's per-layer and total size and cost. */
export interface ModelSummary {
  /** Shape of one input example, [C, H, W]. */
  inputShape: number[];
  /** Shape of one output example. */
  outputShape: number[];
  /** One row per layer, in order. */
  rows: SummaryRow[];
  /** Parameters of the whole model. */
  totalParams: number;
  /** Parameters that require gradients. */
  trainableParams: number;
  /** Multiply-accumulates per example (forward pass). */
  totalMacs: number;
  /** Floating-point operations per example (forward pass; 2 per MAC). */
  totalFlops: number;
}

function countParams(m: Module): number {
  return m.parameters().reduce((a, p) => a + p.size, 0);
}

/**
 * Output shape, parameters, MACs and FLOPs per layer, and totals, computed analytically for one
 * example of `inputShape` (batch excluded). FLOPs count 2 per multiply-accumulate of convolutions and
 * linear layers; element-wise ops and pooling are not counted.
 *
 * @example
 * ```ts
 * const s = summary(seedCnn({ classes: 10 }), [3, 32, 32]);
 * s.totalParams; // 134466
 * s.totalMacs;   // 1238272
 * console.log(formatSummary(s));
 * ```
 */
export function summary(model: Module, inputShape: readonly number[]): ModelSummary {
  const shape = [...checkShape('inputShape', inputShape)];
  const layers: [string, Module][] =
    model instanceof Sequential ? model.layers.map((l, i) => [String(i), l]) : [['0', model]];
  const rows: SummaryRow[] = [];
  let current = shape;
  for (const [idx, layer] of layers) {
    const d = layer.describe(current);
    current = d.outputShape;
    const type = layer.constructor.name;
    rows.push({
      name: `${idx}: ${type}`,
      type,
      outputShape: current,
      params: countParams(layer),
      macs: d.macs,
      flops: 2 * d.macs,
    });
  }
  const totalParams = countParams(model);
  const trainableParams = model
    .parameters()
    .filter((p) => p.requiresGrad)
    .reduce((a, p) => a + p.size, 0);
  const totalMacs = rows.reduce((a, r) => a + r.macs, 0);
  return {
    inputShape: shape,
    outputShape: current,
    rows,
    totalParams,
    trainableParams,
    totalMacs,
    totalFlops: 2 * totalMacs,
  };
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/**
 * Renders a {@link ModelSummary} as a fixed-width table.
 *
 * @example
 * ```ts
 * console.log(formatSummary(summary(model, [1, 28, 28])));
 * ```
 */
export function formatSummary(s: ModelSummary): string {
  const header = ['Layer', 'Output shape', 'Params', 'MACs', 'FLOPs'];
  const body = s.rows.map((r) => [
    r.name,
    `[${r.outputShape.join(', ')}]`,
    fmt(r.params),
    fmt(r.macs),
    fmt(r.flops),
  ]);
  const total = [
    'Total',
    `[${s.outputShape.join(', ')}]`,
    fmt(s.totalParams),
    fmt(s.totalMacs),
    fmt(s.totalFlops),
  ];
  const all = [header, ...body, total];
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  const line = (row: string[]): string =>
    row
      .map((cell, c) => (c === 0 || c === 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [
    `Input [${s.inputShape.join(', ')}]`,
    line(header),
    rule,
    ...body.map(line),
    rule,
    line(total),
    `Trainable parameters: ${fmt(s.trainableParams)}`,
  ].join('\n');
}
