/**
 * `@dlf/native/math`: tensor arithmetic (elementwise, reductions, matmul, softmax), wrapped by `@dlf/tensor-core`.
 *
 * @packageDocumentation
 */
import type { Handle } from './binding.js';
import type {
  BinaryOpCode as BinaryOpCodes,
  MathUnaryOp,
  UnaryOpAttributes,
  UnaryOpCode,
} from './generated/ops.js';
import { loadNative } from './load.js';

type BinaryOpCode = (typeof BinaryOpCodes)[keyof typeof BinaryOpCodes];

/** The math slice's entry points. */
export interface MathSlice {
  /** Elementwise `op` of the op table (src/ops.def) with NumPy broadcasting. */
  binary(op: BinaryOpCode, a: Handle, b: Handle): Handle;
  /** Unary tensor arithmetic of the op table (src/ops.def). */
  unary<Op extends MathUnaryOp>(
    op: (typeof UnaryOpCode)[Op],
    x: Handle,
    attributes: UnaryOpAttributes[Op],
  ): Handle;
  /** x * scale + shift. */
  affine(x: Handle, scale: number, shift: number): Handle;
  /** Sum (or mean) over sorted unique axes. */
  sum(x: Handle, axes: readonly number[], keepDims: boolean, mean: boolean): Handle;
  /** Max over one axis. */
  max(x: Handle, axis: number, keepDims: boolean): Handle;
  /** Softmax or log-softmax over one axis. */
  softmax(x: Handle, axis: number, log: boolean): Handle;
  /** Concatenation along one axis. */
  concat(xs: readonly Handle[], axis: number): Handle;
  /** (..., M, K) @ (..., K, N) with broadcast batch dims. */
  matmul(a: Handle, b: Handle): Handle;
}

/** The math slice of the loaded addon. */
export const math: MathSlice = loadNative().math;
