/** Building blocks shared by the zoo's graph models: conv-BN-activation chains and residual blocks. */
import type { Generator } from '@dlf/tensor-core';
import type { GraphBuilder } from '../graph/builder.js';
import { ReLU } from '../layers/activation.js';
import { Conv2d } from '../layers/conv.js';
import { BatchNorm2d } from '../layers/normalization.js';
import type { Module } from '../module.js';

/** Options of {@link convBn}. */
export interface ConvBnOptions {
  kernel?: number;
  stride?: number;
  groups?: number;
  /** Activation after BN (default ReLU); null for none. */
  act?: (() => Module) | null;
}

/** Conv (no bias) → BN → activation, named `<name>_conv`, `<name>_bn`, `<name>_act`; returns the last. */
export function convBn(
  g: GraphBuilder,
  input: string,
  name: string,
  inC: number,
  outC: number,
  generator: Generator,
  options: ConvBnOptions = {},
): string {
  const k = options.kernel ?? 3;
  const conv = g.node(
    new Conv2d(inC, outC, k, {
      stride: options.stride ?? 1,
      padding: (k - 1) >> 1,
      groups: options.groups ?? 1,
      bias: false,
      generator,
    }),
    input,
    `${name}_conv`,
  );
  const bn = g.node(new BatchNorm2d(outC), conv, `${name}_bn`);
  const act = options.act === undefined ? () => new ReLU() : options.act;
  return act ? g.node(act(), bn, `${name}_act`) : bn;
}
