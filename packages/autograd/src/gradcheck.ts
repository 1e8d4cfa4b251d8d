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
  /** True when every analytic gradient matched its numeric estimate. */
  ok: boolean;
  /** The largest absolute difference seen. */
  maxAbsError: number;
  /** Where the first mismatch was, if any: input index, flat element index, both values. */
  firstMismatch?: { input: number; index: number; analytic: number; numeric: number };
}

function projected(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], v: Float32Array): number {
  return tidy(() => {
    const out = fn(...inputs).toTypedArray() as Float32Array;
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i]! * v[i]!;
    return s;
  });
}

/**
 * Compares the analytic gradients of `fn` at `inputs` (those that require grad) with central
 * differences. Non-scalar outputs are reduced with a fixed random projection, so every output
 * element is checked. Inputs must be contiguous float32 tensors; they are perturbed in place and
 * restored.
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
        const err = Math.abs(a[j]! - numeric);
        maxAbsError = Math.max(maxAbsError, err);
        if (err > atol + rtol * Math.abs(numeric) && !firstMismatch) {
          firstMismatch = { input: i, index: j, analytic: a[j]!, numeric };
        }
      }
    });
  } finally {
    native.setGradEnabled(previous);
  }
  for (const x of inputs) if (x.requiresGrad) native.setGrad(x.handle, null);
  return firstMismatch ? { ok: false, maxAbsError, firstMismatch } : { ok: true, maxAbsError };
}
