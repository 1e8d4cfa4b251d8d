import { nn as native } from '@dlf/native/nn';
import {
  checkFloatTensor,
  checkNumber,
  checkOptions,
  defaultGenerator,
  type Generator,
  type Tensor,
} from '@dlf/tensor-core';
import { floatResult } from './common.js';

/** Options for {@link dropout}. */
export interface DropoutOptions {
  /** When false the input passes through unchanged. Default true. */
  training?: boolean;
  /** The random stream for the mask (default: the global generator). */
  generator?: Generator;
}

/**
 * Inverted dropout: zeroes each element with probability `p` and scales the rest by 1/(1-p). Seeded:
 * the mask comes from the generator's stream.
 *
 * @example
 * ```ts
 * dropout(x, 0.5, { generator: new Generator(1) });
 * ```
 */
export function dropout(x: Tensor, p = 0.5, options: DropoutOptions = {}): Tensor {
  checkFloatTensor(x, 'input');
  checkNumber('p', p, 0, 1);
  checkOptions('dropout options', options, ['training', 'generator']);
  if (options.training === false || p === 0) return x.clone();
  const gen = options.generator ?? defaultGenerator;
  const offset = gen.reserve(x.size);
  return floatResult(native.dropout(x.handle, p, gen.seed, offset), x.shape);
}
