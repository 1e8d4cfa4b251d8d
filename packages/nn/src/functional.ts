/**
 * Differentiable ops. Each validates its arguments and resolves shapes here, then makes one native
 * call that runs the forward kernel and records the backward node.
 */
import '@dlf/autograd';
import { native } from '@dlf/native';
import {
  checkInt,
  checkNumber,
  defaultGenerator,
  type Generator,
  invalidParam,
  isTensor,
  shapeMismatch,
  Tensor,
} from '@dlf/tensor-core';

function t(x: unknown, name: string): Tensor {
  if (!isTensor(x)) throw invalidParam(name, 'a Tensor', x, 'type');
  if (x.dtype !== 'float32') throw invalidParam(name, 'a float32 tensor', `a ${x.dtype} tensor`, 'type');
  return x;
}

function out(handle: Parameters<typeof native.release>[0], shape: readonly number[]): Tensor {
  return new Tensor(handle, shape, 'float32');
}

/** Resolves a possibly negative axis against a rank. */
export function normalizeAxis(axis: number, rank: number, name = 'axis'): number {
  checkInt(name, axis, -Math.max(rank, 1), Math.max(rank - 1, 0));
  return axis < 0 ? axis + rank : axis;
}

function broadcastShape(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const result: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw shapeMismatch(op, 'shapes that broadcast together', a, b);
    result.push(da === 1 ? db : da);
  }
  return result;
}

function binaryOp(code: 0 | 1 | 2 | 3, op: string, a: Tensor, b: Tensor): Tensor {
  t(a, 'a');
  t(b, 'b');
  const shape = broadcastShape(op, a.shape, b.shape);
  return out(native.binary(code, a.handle, b.handle), shape);
}

function affine(x: Tensor, scale: number, shift: number): Tensor {
  return out(native.affine(x.handle, scale, shift), x.shape);
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
  if (typeof b === 'number') return affine(t(a, 'a'), 1, checkNumber('b', b));
  if (typeof a === 'number') return affine(t(b, 'b'), 1, checkNumber('a', a));
  return binaryOp(0, 'add', a, b);
}

/** a - b with broadcasting; either side may be a number. @example `sub(x, 1)` */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(t(a, 'a'), 1, -checkNumber('b', b));
  if (typeof a === 'number') return affine(t(b, 'b'), -1, checkNumber('a', a));
  return binaryOp(1, 'sub', a, b);
}

/** a * b with broadcasting; either side may be a number. @example `mul(x, 0.5)` */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(t(a, 'a'), checkNumber('b', b), 0);
  if (typeof a === 'number') return affine(t(b, 'b'), checkNumber('a', a), 0);
  return binaryOp(2, 'mul', a, b);
}

/** a / b with broadcasting; `b` may be a number. @example `div(x, 255)` */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(t(a, 'a'), 1 / checkNumber('b', b), 0);
  if (typeof a === 'number') {
    checkNumber('a', a);
    return mul(pow(t(b, 'b'), -1), a);
  }
  return binaryOp(3, 'div', a, b);
}

function unaryOp(code: number, x: Tensor, param = 0): Tensor {
  t(x, 'x');
  return out(native.unary(code, x.handle, param), x.shape);
}

/** -x. @example `neg(x)` */
export const neg = (x: Tensor): Tensor => unaryOp(0, x);
/** e^x. @example `exp(x)` */
export const exp = (x: Tensor): Tensor => unaryOp(1, x);
/** Natural logarithm. @example `log(x)` */
export const log = (x: Tensor): Tensor => unaryOp(2, x);
/** Square root. @example `sqrt(x)` */
export const sqrt = (x: Tensor): Tensor => unaryOp(3, x);
/** max(x, 0). @example `relu(x)` */
export const relu = (x: Tensor): Tensor => unaryOp(4, x);
/** 1 / (1 + e^-x), computed stably. @example `sigmoid(x)` */
export const sigmoid = (x: Tensor): Tensor => unaryOp(5, x);
/** Hyperbolic tangent. @example `tanh(x)` */
export const tanh = (x: Tensor): Tensor => unaryOp(6, x);
/** |x|. @example `abs(x)` */
export const abs = (x: Tensor): Tensor => unaryOp(9, x);

/** x for x > 0, `negativeSlope * x` otherwise. @example `leakyRelu(x, 0.1)` */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return unaryOp(7, x, checkNumber('negativeSlope', negativeSlope));
}

/** x ** exponent for a number exponent. @example `pow(x, 2)` */
export function pow(x: Tensor, exponent: number): Tensor {
  return unaryOp(8, x, checkNumber('exponent', exponent));
}

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
  t(a, 'a');
  t(b, 'b');
  if (a.rank === 0 || b.rank === 0) throw shapeMismatch('matmul', 'tensors of rank >= 1', a.shape, b.shape);
  if (a.rank === 1) {
    const r = matmul(reshape(a, [1, a.shape[0]!]), b);
    const shape = [...r.shape.slice(0, -2), r.shape[r.rank - 1]!];
    const res = reshape(r, shape);
    r.dispose();
    return res;
  }
  if (b.rank === 1) {
    const r = matmul(a, reshape(b, [b.shape[0]!, 1]));
    const res = reshape(r, r.shape.slice(0, -1));
    r.dispose();
    return res;
  }
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [k2, n] = b.shape.slice(-2) as [number, number];
  if (k !== k2) throw shapeMismatch('matmul', 'the inner dimensions to agree', a.shape, b.shape);
  const batch = broadcastShape('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  return out(native.matmul(a.handle, b.handle), [...batch, m, n]);
}

function resolveAxes(axis: number | readonly number[] | null | undefined, rank: number): number[] {
  if (axis === null || axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const resolved = list.map((a, i) =>
    normalizeAxis(a, rank, typeof axis === 'number' ? 'axis' : `axis[${i}]`),
  );
  const sorted = [...new Set(resolved)].sort((x, y) => x - y);
  if (sorted.length !== resolved.length) throw invalidParam('axis', 'distinct axes', axis);
  return sorted;
}

function reducedShape(shape: readonly number[], axes: number[], keepDims: boolean): number[] {
  return keepDims
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}

/**
 * Sum over `axis` (a number, a list, or null for all axes).
 *
 * @example
 * ```ts
 * sum(tensor([[1, 2], [3, 4]]), 1).toArray(); // [3, 7]
 * ```
 */
export function sum(x: Tensor, axis: number | readonly number[] | null = null, keepDims = false): Tensor {
  t(x, 'x');
  const axes = resolveAxes(axis, x.rank);
  return out(native.sum(x.handle, axes, keepDims, false), reducedShape(x.shape, axes, keepDims));
}

/** Mean over `axis` (a number, a list, or null for all axes). @example `mean(x, [0, 2, 3], true)` */
export function mean(x: Tensor, axis: number | readonly number[] | null = null, keepDims = false): Tensor {
  t(x, 'x');
  const axes = resolveAxes(axis, x.rank);
  return out(native.sum(x.handle, axes, keepDims, true), reducedShape(x.shape, axes, keepDims));
}

/**
 * Maximum over one axis, or over everything with `axis` null. The gradient flows to the first
 * maximal element.
 *
 * @example
 * ```ts
 * max(tensor([[1, 5], [7, 2]]), 1).toArray(); // [5, 7]
 * ```
 */
export function max(x: Tensor, axis: number | null = null, keepDims = false): Tensor {
  t(x, 'x');
  if (x.size === 0) throw invalidParam('x', 'a non-empty tensor', `shape [${x.shape.join(', ')}]`);
  if (axis === null) {
    const flat = reshape(x, [x.size]);
    const m = out(native.max(flat.handle, 0, false), []);
    flat.dispose();
    if (!keepDims) return m;
    const r = reshape(
      m,
      x.shape.map(() => 1),
    );
    m.dispose();
    return r;
  }
  const a = normalizeAxis(axis, x.rank);
  return out(native.max(x.handle, a, keepDims), reducedShape(x.shape, [a], keepDims));
}

/** Differentiable reshape (one dim may be -1). @example `reshape(x, [2, -1])` */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return x.reshape(shape);
}

/**
 * Flattens dims `startDim..endDim` into one.
 *
 * @example
 * ```ts
 * flatten(zeros([64, 16, 8, 8])).shape; // [64, 1024]
 * ```
 */
export function flatten(x: Tensor, startDim = 1, endDim = -1): Tensor {
  t(x, 'x');
  if (x.rank === 0) return x.reshape([1]);
  const s = normalizeAxis(startDim, x.rank, 'startDim');
  const e = normalizeAxis(endDim, x.rank, 'endDim');
  if (e < s) throw invalidParam('endDim', `an axis >= startDim (${s})`, endDim);
  const merged = x.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
  return x.reshape([...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/** Axes reordered (a view). @example `permute(x, [0, 2, 3, 1])` */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (!Array.isArray(dims) || dims.length !== x.rank) {
    throw invalidParam('dims', `a permutation of ${x.rank} axes`, dims);
  }
  const resolved = (dims as readonly number[]).map((d: number, i: number) =>
    normalizeAxis(d, x.rank, `dims[${i}]`),
  );
  if (new Set(resolved).size !== resolved.length)
    throw invalidParam('dims', 'a permutation (no repeats)', dims);
  return new Tensor(
    native.permute(x.handle, resolved),
    resolved.map((d) => x.shape[d]!),
    x.dtype,
  );
}

/** Swaps two axes (a view). @example `transpose(x, 0, 1)` */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normalizeAxis(dim0, x.rank, 'dim0');
  const b = normalizeAxis(dim1, x.rank, 'dim1');
  const dims = Array.from({ length: x.rank }, (_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/**
 * Joins tensors along an existing axis.
 *
 * @example
 * ```ts
 * concat([ones([2, 3]), zeros([1, 3])], 0).shape; // [3, 3]
 * ```
 */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw invalidParam('xs', 'a non-empty array of tensors', xs);
  xs.forEach((x, i) => t(x, `xs[${i}]`));
  const first = xs[0]!;
  const a = normalizeAxis(axis, first.rank);
  let total = 0;
  for (const x of xs) {
    if (x.rank !== first.rank || x.shape.some((d: number, i: number) => i !== a && d !== first.shape[i])) {
      throw shapeMismatch('concat', `equal shapes outside axis ${a}`, first.shape, x.shape);
    }
    total += x.shape[a]!;
  }
  const shape = [...first.shape];
  shape[a] = total;
  return out(
    native.concat(
      xs.map((x) => x.handle),
      a,
    ),
    shape,
  );
}

/** Softmax over `axis`, computed stably. @example `softmax(logits, -1)` */
export function softmax(x: Tensor, axis = -1): Tensor {
  t(x, 'x');
  return out(native.softmax(x.handle, normalizeAxis(axis, x.rank), false), x.shape);
}

/** Log-softmax over `axis`, computed stably. @example `logSoftmax(logits)` */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  t(x, 'x');
  return out(native.softmax(x.handle, normalizeAxis(axis, x.rank), true), x.shape);
}

/** Options for {@link linear}. */
export interface LinearOptions {
  /** Fuse a ReLU into the op (one pass over memory). */
  relu?: boolean;
}

/**
 * x @ weight^T + bias, fused. weight is (out, in) as in PyTorch.
 *
 * @example
 * ```ts
 * linear(randn([64, 1024]), w, b).shape; // [64, 128] for w of shape [128, 1024]
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, options: LinearOptions = {}): Tensor {
  t(x, 'input');
  t(weight, 'weight');
  if (weight.rank !== 2)
    throw invalidParam('weight', 'a 2-D tensor (out, in)', `shape [${weight.shape.join(', ')}]`);
  if (x.rank < 1 || x.shape[x.rank - 1] !== weight.shape[1]) {
    throw shapeMismatch('linear', 'input (..., in) and weight (out, in)', x.shape, weight.shape);
  }
  if (bias) {
    t(bias, 'bias');
    if (bias.rank !== 1 || bias.shape[0] !== weight.shape[0]) {
      throw shapeMismatch('linear', 'bias (out) to match weight (out, in)', bias.shape, weight.shape);
    }
  }
  const shape = [...x.shape.slice(0, -1), weight.shape[0]!];
  return out(native.linear(x.handle, weight.handle, bias ? bias.handle : null, options.relu === true), shape);
}

/** A size given as one number for both spatial dims, or as [height, width]. */
export type Size2 = number | readonly [number, number];

/** Resolves a {@link Size2} argument to a pair, validating it. */
export function pair(name: string, v: Size2, min: number): [number, number] {
  if (typeof v === 'number') {
    checkInt(name, v, min);
    return [v, v];
  }
  if (!Array.isArray(v) || v.length !== 2) throw invalidParam(name, 'a number or a pair [h, w]', v, 'type');
  checkInt(`${name}[0]`, v[0], min);
  checkInt(`${name}[1]`, v[1], min);
  return [v[0], v[1]];
}

/** Options for {@link conv2d}. */
export interface Conv2dOptions {
  stride?: Size2;
  padding?: Size2;
  dilation?: Size2;
  groups?: number;
  /** Fuse a ReLU into the op. */
  relu?: boolean;
  /**
   * Also fuse a 2×2 max pooling with stride 2 after the ReLU (needs `relu`): the result is
   * `maxPool2d(relu(conv2d(...)), { kernelSize: 2 })`, computed without the full-size activation.
   */
  maxPool2x2?: boolean;
}

/** The output size of a convolution or pooling window along one dim. */
export function convOutputSize(
  input: number,
  kernel: number,
  stride: number,
  padding: number,
  dilation = 1,
): number {
  return Math.floor((input + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/**
 * 2-D convolution (cross-correlation, as in PyTorch). x: (N, C, H, W), weight: (K, C/groups, R, S),
 * bias: (K) -> (N, K, P, Q).
 *
 * @example
 * ```ts
 * conv2d(randn([64, 3, 32, 32]), w, b, { padding: 1 }).shape; // [64, 8, 32, 32] for w [8, 3, 3, 3]
 * ```
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  t(x, 'input');
  t(weight, 'weight');
  if (x.rank !== 4) throw invalidParam('input', 'a 4-D tensor (N, C, H, W)', `shape [${x.shape.join(', ')}]`);
  if (weight.rank !== 4)
    throw invalidParam('weight', 'a 4-D tensor (K, C/groups, R, S)', `shape [${weight.shape.join(', ')}]`);
  const [sh, sw] = pair('stride', options.stride ?? 1, 1);
  const [ph, pw] = pair('padding', options.padding ?? 0, 0);
  const [dh, dw] = pair('dilation', options.dilation ?? 1, 1);
  const groups = checkInt('groups', options.groups ?? 1, 1);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [k, cg, r, s] = weight.shape as [number, number, number, number];
  if (c % groups !== 0 || k % groups !== 0 || cg * groups !== c) {
    throw shapeMismatch(
      'conv2d',
      `input channels = weight.shape[1] × groups (${groups})`,
      x.shape,
      weight.shape,
    );
  }
  if (bias) {
    t(bias, 'bias');
    if (bias.rank !== 1 || bias.shape[0] !== k)
      throw shapeMismatch('conv2d', 'bias (K) to match weight (K, ...)', bias.shape, weight.shape);
  }
  const p = convOutputSize(h, r, sh, ph, dh);
  const q = convOutputSize(w, s, sw, pw, dw);
  if (p < 1 || q < 1)
    throw shapeMismatch(
      'conv2d',
      'an input at least as large as the (dilated) kernel',
      x.shape,
      weight.shape,
    );
  if (options.maxPool2x2 === true) {
    if (options.relu !== true)
      throw invalidParam('options.maxPool2x2', 'to come with relu: true', options.maxPool2x2);
    if (p < 2 || q < 2) {
      throw shapeMismatch('conv2d', 'an output of at least 2×2 to pool', x.shape, weight.shape);
    }
    return out(
      native.conv2dReluMaxPool(x.handle, weight.handle, bias ? bias.handle : null, [
        sh,
        sw,
        ph,
        pw,
        dh,
        dw,
        groups,
      ]),
      [n, k, Math.floor(p / 2), Math.floor(q / 2)],
    );
  }
  return out(
    native.conv2d(
      x.handle,
      weight.handle,
      bias ? bias.handle : null,
      [sh, sw, ph, pw, dh, dw, groups],
      options.relu === true,
    ),
    [n, k, p, q],
  );
}

/** Options for {@link maxPool2d} and {@link avgPool2d}. */
export interface Pool2dOptions {
  kernelSize: Size2;
  /** Defaults to the kernel size. */
  stride?: Size2;
  padding?: Size2;
}

function poolParams(x: Tensor, options: Pool2dOptions, op: string): { params: number[]; shape: number[] } {
  t(x, 'input');
  if (x.rank !== 4)
    throw invalidParam('input', `a 4-D tensor (N, C, H, W) for ${op}`, `shape [${x.shape.join(', ')}]`);
  if (typeof options !== 'object' || options === null)
    throw invalidParam('options', 'an object with kernelSize', options, 'type');
  const [kh, kw] = pair('kernelSize', options.kernelSize, 1);
  const [sh, sw] = pair('stride', options.stride ?? [kh, kw], 1);
  const [ph, pw] = pair('padding', options.padding ?? 0, 0);
  if (ph * 2 > kh || pw * 2 > kw)
    throw invalidParam('padding', 'at most half the kernel size', options.padding);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const p = convOutputSize(h, kh, sh, ph);
  const q = convOutputSize(w, kw, sw, pw);
  if (p < 1 || q < 1)
    throw invalidParam(
      'input',
      `spatial size at least the kernel size for ${op}`,
      `shape [${x.shape.join(', ')}]`,
    );
  return { params: [kh, kw, sh, sw, ph, pw], shape: [n, c, p, q] };
}

/**
 * 2-D max pooling; the gradient is routed through the saved argmax.
 *
 * @example
 * ```ts
 * maxPool2d(x, { kernelSize: 2 }).shape; // halves H and W
 * ```
 */
export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const { params, shape } = poolParams(x, options, 'maxPool2d');
  return out(native.maxPool2d(x.handle, params), shape);
}

/** 2-D average pooling (padding counts as zeros in the average, as PyTorch's default). @example `avgPool2d(x, { kernelSize: 2 })` */
export function avgPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const { params, shape } = poolParams(x, options, 'avgPool2d');
  return out(native.avgPool2d(x.handle, params), shape);
}

/** Adaptive average pooling to a fixed output size (1 for global average pooling). @example `adaptiveAvgPool2d(x, 1)` */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Size2 = 1): Tensor {
  t(x, 'input');
  if (x.rank !== 4) throw invalidParam('input', 'a 4-D tensor (N, C, H, W)', `shape [${x.shape.join(', ')}]`);
  const [oh, ow] = pair('outputSize', outputSize, 1);
  return out(native.adaptiveAvgPool2d(x.handle, oh, ow), [x.shape[0]!, x.shape[1]!, oh, ow]);
}

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
  t(x, 'input');
  checkNumber('p', p, 0, 1);
  if (options.training === false || p === 0) return x.clone();
  const gen = options.generator ?? defaultGenerator;
  const offset = gen.reserve(x.size);
  return out(native.dropout(x.handle, p, gen.seed, offset), x.shape);
}

/** Options for {@link batchNorm2d}. */
export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  /** Batch statistics (and running-stat updates) when true; running statistics when false. */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * Batch normalisation over (N, H, W) per channel. In training, running statistics (if given) are
 * updated in place with the unbiased batch variance, as in PyTorch.
 *
 * @example
 * ```ts
 * batchNorm2d(x, { weight: gamma, bias: beta, runningMean: rm, runningVar: rv, training: true });
 * ```
 */
export function batchNorm2d(x: Tensor, options: BatchNormOptions = {}): Tensor {
  t(x, 'input');
  if (x.rank !== 4) throw invalidParam('input', 'a 4-D tensor (N, C, H, W)', `shape [${x.shape.join(', ')}]`);
  const c = x.shape[1]!;
  const check = (name: string, v: Tensor | null | undefined): Tensor | null => {
    if (v === undefined || v === null) return null;
    t(v, name);
    if (v.rank !== 1 || v.shape[0] !== c)
      throw shapeMismatch('batchNorm2d', `${name} of shape [${c}]`, x.shape, v.shape);
    return v;
  };
  const weight = check('weight', options.weight);
  const bias = check('bias', options.bias);
  const rm = check('runningMean', options.runningMean);
  const rv = check('runningVar', options.runningVar);
  const training = options.training ?? true;
  if (!training && (!rm || !rv))
    throw invalidParam('runningMean', 'running statistics in evaluation mode', null);
  const momentum = checkNumber('momentum', options.momentum ?? 0.1, 0, 1);
  const eps = checkNumber('eps', options.eps ?? 1e-5, 0);
  return out(
    native.batchNorm2d(
      x.handle,
      weight?.handle ?? null,
      bias?.handle ?? null,
      rm?.handle ?? null,
      rv?.handle ?? null,
      training,
      momentum,
      eps,
    ),
    x.shape,
  );
}
