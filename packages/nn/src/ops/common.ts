import type { Handle } from '@dlf/native';
import { checkFloatTensor, invalidParam, Tensor } from '@dlf/tensor-core';

/** Wraps an op's result, whose shape TypeScript already resolved. */
export function floatResult(handle: Handle, shape: readonly number[]): Tensor {
  return new Tensor(handle, shape, 'float32');
}

/** Checks an op's `options.residual`: a float tensor of `shape` (`what` names that shape). */
export function checkResidual(residual: Tensor, shape: readonly number[], what: string): void {
  checkFloatTensor(residual, 'options.residual');
  if (residual.rank !== shape.length || residual.shape.some((d, i) => d !== shape[i]))
    throw invalidParam(
      'options.residual',
      `a tensor of ${what} shape [${shape.join(', ')}]`,
      `shape [${residual.shape.join(', ')}]`,
    );
}
