import {
  type BinaryOp,
  BinaryOpCode,
  type MathUnaryOp,
  type UnaryOpAttributes,
  UnaryOpCode,
} from '@dlf/native';
import { math } from '@dlf/native/math';
import { checkNumber } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { broadcastShape, floatResult, checkFloatTensor } from './common.js';

function binaryOp(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  checkFloatTensor(a, 'a');
  checkFloatTensor(b, 'b');
  const shape = broadcastShape(op, a.shape, b.shape);
  return floatResult(math.binary(BinaryOpCode[op], a.handle, b.handle), shape);
}

function affine(x: Tensor, scale: number, shift: number): Tensor {
  return floatResult(math.affine(x.handle, scale, shift), x.shape);
}

function unaryOp<Op extends MathUnaryOp>(op: Op, x: Tensor, attributes: UnaryOpAttributes[Op]): Tensor {
  checkFloatTensor(x, 'x');
  return floatResult(math.unary(UnaryOpCode[op], x.handle, attributes), x.shape);
}

/**
 * a + b with NumPy broadcasting; either side may be a number.
 *
 * @example
 * ```ts
 * add(tensor([[1, 2], [3, 4]]), tensor([10, 20])).toArray(); // [[11, 22], [13, 24]]
 * ```
 */
export function add(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(checkFloatTensor(a, 'a'), 1, checkNumber('b', b));
  if (typeof a === 'number') return affine(checkFloatTensor(b, 'b'), 1, checkNumber('a', a));
  return binaryOp('add', a, b);
}

/** a - b with broadcasting; either side may be a number. @example `sub(x, 1)` */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(checkFloatTensor(a, 'a'), 1, -checkNumber('b', b));
  if (typeof a === 'number') return affine(checkFloatTensor(b, 'b'), -1, checkNumber('a', a));
  return binaryOp('sub', a, b);
}

/** a * b with broadcasting; either side may be a number. @example `mul(x, 0.5)` */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(checkFloatTensor(a, 'a'), checkNumber('b', b), 0);
  if (typeof a === 'number') return affine(checkFloatTensor(b, 'b'), checkNumber('a', a), 0);
  return binaryOp('mul', a, b);
}

/** a / b with broadcasting; either side may be a number. @example `div(x, 255)` */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(checkFloatTensor(a, 'a'), 1 / checkNumber('b', b), 0);
  if (typeof a === 'number') {
    checkNumber('a', a);
    return mul(pow(checkFloatTensor(b, 'b'), -1), a);
  }
  return binaryOp('div', a, b);
}

/** -x. @example `neg(x)` */
export const neg = (x: Tensor): Tensor => unaryOp('neg', x, {});
/** e^x. @example `exp(x)` */
export const exp = (x: Tensor): Tensor => unaryOp('exp', x, {});
/** Natural logarithm. @example `log(x)` */
export const log = (x: Tensor): Tensor => unaryOp('log', x, {});
/** Square root. @example `sqrt(x)` */
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x, {});
/** |x|. @example `abs(x)` */
export const abs = (x: Tensor): Tensor => unaryOp('abs', x, {});

/** x ** exponent for a number exponent. @example `pow(x, 2)` */
export function pow(x: Tensor, exponent: number): Tensor {
  return unaryOp('pow', x, { exponent: checkNumber('exponent', exponent) });
}
