import { math } from '@dlf/native/math';
import { shapeMismatch } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { broadcastShape, floatResult, checkFloatTensor } from './common.js';

/**
 * Matrix product of the last two dims, batch dims broadcast: (..., M, K) @ (..., K, N). 1-D operands
 * are treated as a row (left) or column (right) vector and that dim is dropped from the result.
 *
 * @example
 * ```ts
 * matmul(randn([8, 3, 4]), randn([4, 5])).shape; // [8, 3, 5]
 * ```
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkFloatTensor(a, 'a');
  checkFloatTensor(b, 'b');
  if (a.rank === 0 || b.rank === 0) throw shapeMismatch('matmul', 'tensors of rank >= 1', a.shape, b.shape);
  if (a.rank === 1) {
    const r = matmul(a.reshape([1, a.shape[0]!]), b);
    const res = r.reshape([...r.shape.slice(0, -2), r.shape[r.rank - 1]!]);
    r.dispose();
    return res;
  }
  if (b.rank === 1) {
    const r = matmul(a, b.reshape([b.shape[0]!, 1]));
    const res = r.reshape(r.shape.slice(0, -1));
    r.dispose();
    return res;
  }
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [k2, n] = b.shape.slice(-2) as [number, number];
  if (k !== k2) throw shapeMismatch('matmul', 'the inner dimensions to agree', a.shape, b.shape);
  const batch = broadcastShape('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  return floatResult(math.matmul(a.handle, b.handle), [...batch, m, n]);
}
