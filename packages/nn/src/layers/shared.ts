import type { Generator, Tensor } from '@dlf/tensor-core';
import { uniform_ } from '../init.js';

/** PyTorch's default bias initialisation: uniform in ±1/√fanIn. */
export function defaultBias(bias: Tensor, fanIn: number, generator?: Generator): void {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  uniform_(bias, -bound, bound, generator);
}

/** The number of elements of a shape. */
export function prod(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
