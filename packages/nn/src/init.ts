/**
 * Initialisers. Each fills a tensor in place from a seeded {@link Generator} stream, so a model built
 * with the same seed always starts from the same weights.
 */
import { defaultGenerator, type Generator, invalidParam, type Tensor } from '@dlf/tensor-core';

/** Fan-in and fan-out of a weight: (out, in) for linear, (K, C, R, S) for convolution. */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.rank < 2)
    throw invalidParam('tensor', 'a tensor with at least 2 dimensions', `shape [${t.shape.join(', ')}]`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

function fill(t: Tensor, kind: 0 | 1, a: number, b: number, generator?: Generator): Tensor {
  if (t.dtype !== 'float32') throw invalidParam('tensor', 'a float32 tensor', t.dtype, 'type');
  (generator ?? defaultGenerator).fill(t.handle, t.size, kind, a, b);
  return t;
}

/** Fills with U(low, high). @example `uniform_(w, -0.1, 0.1)` */
export function uniform_(t: Tensor, low = 0, high = 1, generator?: Generator): Tensor {
  return fill(t, 0, low, high, generator);
}

/** Fills with N(mean, std²). @example `normal_(w, 0, 0.02)` */
export function normal_(t: Tensor, mean = 0, std = 1, generator?: Generator): Tensor {
  return fill(t, 1, mean, std, generator);
}

/** Fills with one value. @example `constant_(b, 0.1)` */
export function constant_(t: Tensor, value: number): Tensor {
  t.write(new Float32Array(t.size).fill(value));
  return t;
}

/** Fills with zeros. @example `zeros_(bias)` */
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
/** Fills with ones. @example `ones_(gamma)` */
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

/** Options for the Kaiming initialisers. */
export interface KaimingOptions {
  /** Negative slope of the following leaky ReLU (PyTorch's default layers use sqrt(5)). */
  a?: number;
  /** Preserve the variance of the forward pass (`'fanIn'`, default) or of the backward pass (`'fanOut'`). */
  mode?: 'fanIn' | 'fanOut';
  /** The activation that follows, for the gain (default `'leakyRelu'` with `a`). */
  nonlinearity?: 'relu' | 'leakyRelu' | 'linear';
  /** Where the random values come from (default: the global generator). */
  generator?: Generator;
}

function gain(nonlinearity: KaimingOptions['nonlinearity'], a: number): number {
  if (nonlinearity === 'relu') return Math.SQRT2;
  if (nonlinearity === 'linear') return 1;
  return Math.sqrt(2 / (1 + a * a));
}

/**
 * He/Kaiming uniform: U(-b, b) with b = gain × sqrt(3 / fan). With `a = sqrt(5)` this is PyTorch's
 * default for Linear and Conv2d weights.
 *
 * @example
 * ```ts
 * kaimingUniform_(conv.weight, { nonlinearity: 'relu' });
 * ```
 */
export function kaimingUniform_(t: Tensor, options: KaimingOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const fan = options.mode === 'fanOut' ? fanOut : fanIn;
  const bound = gain(options.nonlinearity ?? 'leakyRelu', options.a ?? 0) * Math.sqrt(3 / fan);
  return uniform_(t, -bound, bound, options.generator);
}

/** He/Kaiming normal: N(0, (gain / sqrt(fan))²). @example `kaimingNormal_(w, { nonlinearity: 'relu' })` */
export function kaimingNormal_(t: Tensor, options: KaimingOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const fan = options.mode === 'fanOut' ? fanOut : fanIn;
  return normal_(
    t,
    0,
    gain(options.nonlinearity ?? 'leakyRelu', options.a ?? 0) / Math.sqrt(fan),
    options.generator,
  );
}

/** Glorot/Xavier uniform: U(-b, b), b = gain × sqrt(6 / (fanIn + fanOut)). @example `xavierUniform_(w)` */
export function xavierUniform_(t: Tensor, gainValue = 1, generator?: Generator): Tensor {
  const { fanIn, fanOut } = fans(t);
  const bound = gainValue * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound, generator);
}

/** Glorot/Xavier normal: N(0, gain² × 2 / (fanIn + fanOut)). @example `xavierNormal_(w)` */
export function xavierNormal_(t: Tensor, gainValue = 1, generator?: Generator): Tensor {
  const { fanIn, fanOut } = fans(t);
  return normal_(t, 0, gainValue * Math.sqrt(2 / (fanIn + fanOut)), generator);
}

/**
 * Makes the first min(out, in) kernels of a convolution weight (out, in, kH, kW) pass their own
 * input channel through unchanged: 1 at the centre tap of channel i for kernel i, 0 elsewhere in
 * that kernel. The other kernels keep their values. At initialisation the layer then carries an
 * implicit residual connection (airbench's partial Dirac initialisation). Needs odd kernel sides
 * and groups 1.
 *
 * @example
 * ```ts
 * identityKernels_(conv.weight); // after the default initialisation
 * ```
 */
export function identityKernels_(t: Tensor): Tensor {
  const [out, inC, kh, kw] = t.shape as [number, number, number, number];
  if (t.rank !== 4 || kh % 2 === 0 || kw % 2 === 0) {
    throw new RangeError(
      `identityKernels_ needs a (out, in, kH, kW) weight with odd kernel sides, got [${t.shape.join(', ')}]`,
    );
  }
  const values = Float32Array.from(t.toTypedArray() as Float32Array);
  const per = inC * kh * kw;
  for (let k = 0; k < Math.min(out, inC); k++) {
    values.fill(0, k * per, (k + 1) * per);
    values[k * per + k * kh * kw + ((kh - 1) / 2) * kw + (kw - 1) / 2] = 1;
  }
  t.write(values);
  return t;
}
