import type { Handle } from '@dlf/native';
import { Tensor } from '@dlf/tensor-core';

/** Wraps an op's result, whose shape TypeScript already resolved. */
export function floatResult(handle: Handle, shape: readonly number[]): Tensor {
  return new Tensor(handle, shape, 'float32');
}
