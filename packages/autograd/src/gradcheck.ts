import { autograd as native } from '@dlf/native/autograd';
import { Generator, type Tensor, invalidParam, rand, tidy } from '@dlf/tensor-core';

/** Options for {@link gradcheck}. */
export interface GradcheckOptions {
  /** Perturbation for central differences (float32 arithmetic: keep it around 1e-3). */
  eps?: number;
  /** Absolute tolerance. */
  atol?: number;
  /** Relative tolerance. */
  rtol?: number;
  /** Seed for the random projection of non-scalar outputs. */
  seed?: number;
}

/** The outcome of {@link gradcheck}. */
export interface GradcheckResult {
  /**
   * True when every analytic gradient matched its numeric estimate. A NaN or infinity in the output
   * or in either gradient is a failure, never a match.
   */
  ok: boolean;
  /** The largest absolute difference seen (Infinity once a value is not finite). */
  maxAbsError: number;
  /** Where the first gradient mismatch was, if any: input index, flat element index, both values. */
  firstMismatch?: { input: number; index: number; analytic: number; numeric: number };
  /** Why the check failed, naming the output element or the input and element; absent when ok. */
  message?: string;
}

function projected(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], v: Float32Array): number {
  return tidy(() => {
    const out = fn(...inputs).toTypedArray() as Float32Array;
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i]! * v[i]!;
    return s;
  });
}

/** The flat index of the first NaN or infinity in `values`, or -1. */
function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

/**
 * Compares the analytic gradients of `fn` at `inputs` (those that require grad) with central
 * differences. Non-scalar outputs are reduced with a fixed random projection, so every output
 * element is checked. Inputs must be contiguous float32 tensors; they are perturbed in place and
 * restored. A NaN or infinity in the output, the analytic or the numeric gradient fails the check
 * (`ok: false` with a `message` naming where), so a broken op cannot pass by producing NaN.
 *
 * @example
 * ```ts
 * const x = randn([3, 4]).requiresGrad_();
 * const { ok } = gradcheck((a) => tanh(a), [x]);
 * ```
 */
export function gradcheck(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  options: GradcheckOptions = {},
): GradcheckResult {
  if (typeof fn !== 'function') throw invalidParam('fn', 'a function', fn, 'type');
  if (!Array.isArray(inputs)) throw invalidParam('inputs', 'an array of tensors', inputs, 'type');
  const eps = options.eps ?? 1e-3;
  const atol = options.atol ?? 1e-3;
  const rtol = options.rtol ?? 1e-2;
  const probe = fn(...inputs);
  const outShape = probe.shape;
  const outValues = probe.toTypedArray();
  const badOutput = firstNonFinite(outValues);
  if (badOutput >= 0) {
    const value = outValues[badOutput];
    probe.dispose();
    return { ok: false, maxAbsError: Infinity, message: `output element ${badOutput} is ${value}` };
  }
  const vTensor = rand(outShape, -1, 1, { generator: new Generator(options.seed ?? 1234) });
  const v = vTensor.toTypedArray() as Float32Array;
  for (const x of inputs) native.setGrad(x.handle, null);
  probe.backward({ grad: vTensor });
  probe.dispose();
  vTensor.dispose();
  const analytic = inputs.map((x) => {
    if (!x.requiresGrad) return null;
    const g = x.grad;
    const values = g ? (g.toTypedArray() as Float32Array) : new Float32Array(x.size);
    g?.dispose();
    return values;
  });
  let maxAbsError = 0;
  let firstMismatch: GradcheckResult['firstMismatch'];
  const previous = native.setGradEnabled(false);
  try {
    inputs.forEach((x, i) => {
      const a = analytic[i];
      if (!a) return;
      if (x.dtype !== 'float32') throw invalidParam(`inputs[${i}]`, 'a float32 tensor', x.dtype, 'type');
      const data = x.data() as Float32Array;
      for (let j = 0; j < data.length; j++) {
        const orig = data[j]!;
        data[j] = orig + eps;
        const fp = projected(fn, inputs, v);
        data[j] = orig - eps;
        const fm = projected(fn, inputs, v);
        data[j] = orig;
        const numeric = (fp - fm) / (2 * eps);
        // NaN compares false with everything: test for agreement, so a NaN on either side fails.
        const err = Number.isFinite(a[j]!) && Number.isFinite(numeric) ? Math.abs(a[j]! - numeric) : Infinity;
        maxAbsError = Math.max(maxAbsError, err);
        if (!(err <= atol + rtol * Math.abs(numeric)) && !firstMismatch) {
          firstMismatch = { input: i, index: j, analytic: a[j]!, numeric };
        }
      }
    });
  } finally {
    native.setGradEnabled(previous);
  }
  for (const x of inputs) if (x.requiresGrad) native.setGrad(x.handle, null);
  if (!firstMismatch) return { ok: true, maxAbsError };
  const { input, index, analytic: got, numeric } = firstMismatch;
  const message =
    `gradient of input ${input} at element ${index}: analytic ${got}, numeric ${numeric} ` +
    `(atol ${atol}, rtol ${rtol})`;
  return { ok: false, maxAbsError, firstMismatch, message };
}
