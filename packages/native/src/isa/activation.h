// Vector activations (math/elementwise.cc drives them over chunks of a tensor). The scalar loops
// they replace called expf, tanhf and erff per element, or branched on the sign of random data:
// 6-21 ns an element against PyTorch's vector kernels, so a CNN with LeakyReLU or SiLU spent more
// time in its activations than in its convolutions. NaN passes through every one, as in PyTorch.
#pragma once
#include <cstdint>

#include "isa/kernels.h"
#include "isa/simd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace act {

typedef uint32_t vu __attribute__((vector_size(W * sizeof(uint32_t))));

// Nearest integer of v (|v| < 2^22), as a float.
inline vf round_near(vf v) {
  const vf magic = broadcast(12582912.f);  // 1.5 * 2^23
  return (v + magic) - magic;
}
// 2^n for integer-valued n in [-126, 127] (a float of exponent n).
inline vf pow2(vf n) {
  const vu e = reinterpret_cast<vu>(__builtin_convertvector(n, vi)) + 127u;  // via int32: n may be negative
  return reinterpret_cast<vf>(e << 23);
}

// exp(x): 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in two parts (Cody and Waite), exp(r) by
// Cephes' degree-5 polynomial (within 2 ulp). x is clamped to [-104, 89], where float exp is 0 and
// +inf, and 2^n is applied in two halves so that results down to the subnormals stay exact.
inline vf vexp(vf x) {
  x = x > broadcast(89.f) ? broadcast(89.f) : x;  // comparisons that let NaN through
  x = x < broadcast(-104.f) ? broadcast(-104.f) : x;
  const vf n = round_near(x * broadcast(1.44269504088896341f));
  const vf r = (x - n * broadcast(0.693359375f)) - n * broadcast(-2.12194440e-4f);
  vf p = broadcast(1.9875691500e-4f);
  p = p * r + broadcast(1.3981999507e-3f);
  p = p * r + broadcast(8.3334519073e-3f);
  p = p * r + broadcast(4.1665795894e-2f);
  p = p * r + broadcast(1.6666665459e-1f);
  p = p * r + broadcast(5.0000001201e-1f);
  p = p * (r * r) + r + broadcast(1.f);
  const vf half = round_near(n * broadcast(0.5f) - broadcast(0.25f));  // floor(n / 2)
  return p * pow2(half) * pow2(n - half);
}

inline vf vabs(vf v) { return reinterpret_cast<vf>(reinterpret_cast<vu>(v) & vu{} + 0x7fffffffu); }

// 1 / (1 + exp(-x))
inline vf vsigmoid(vf x) { return broadcast(1.f) / (broadcast(1.f) + vexp(-x)); }

// tanh as Cephes' tanhf: an odd polynomial below |x| = 0.625, else 1 - 2 / (exp(2|x|) + 1) with x's sign.
inline vf vtanh(vf x) {
  const vf z = vabs(x), z2 = x * x;
  vf p = broadcast(-5.70498872745e-3f);
  p = p * z2 + broadcast(2.06390887954e-2f);
  p = p * z2 + broadcast(-5.37397155531e-2f);
  p = p * z2 + broadcast(1.33314422036e-1f);
  p = p * z2 + broadcast(-3.33332819422e-1f);
  const vf small = p * z2 * x + x;
  const vf big = broadcast(1.f) - broadcast(2.f) / (vexp(z + z) + broadcast(1.f));
  const vf signed_big = x < vf{} ? -big : big;
  return z > broadcast(0.625f) ? signed_big : small;
}

// Phi(x) = (1 + erf(x / sqrt 2)) / 2, the normal CDF (GELU's gate), through erfc(|u|), u = x / sqrt 2,
// by the Chebyshev fit of Numerical Recipes' erfcc (relative error below 1.2e-7 everywhere), so the
// left tail keeps its relative accuracy where 1 + erf(u) cancels.
inline vf vnormal_cdf(vf x) {
  const vf u = x * broadcast(0.70710678118654752f), z = vabs(u);
  const vf t = broadcast(1.f) / (broadcast(1.f) + broadcast(0.5f) * z);
  vf p = broadcast(0.17087277f);
  p = p * t + broadcast(-0.82215223f);
  p = p * t + broadcast(1.48851587f);
  p = p * t + broadcast(-1.13520398f);
  p = p * t + broadcast(0.27886807f);
  p = p * t + broadcast(-0.18628806f);
  p = p * t + broadcast(0.09678418f);
  p = p * t + broadcast(0.37409196f);
  p = p * t + broadcast(1.00002368f);
  p = p * t + broadcast(-1.26551223f);
  const vf half_erfc = broadcast(0.5f) * t * vexp(p - z * z);
  return u < vf{} ? half_erfc : broadcast(1.f) - half_erfc;
}

// x * clamp(x + 3, 0, 6) / 6 in the scalar op's steps; NaN passes both compares. (Also fused into
// batch norm, isa/norm.h.)
inline vf vhardswish(vf v) {
  const vf t = v + broadcast(3.f), lo = vf{} > t ? vf{} : t;
  return v * (lo > broadcast(6.f) ? broadcast(6.f) : lo) / broadcast(6.f);
}
// g times hardswish's derivative at v: 0 below -3, v / 3 + 1/2 up to 3, 1 above (and at NaN)
inline vf vhardswish_grad(vf g, vf v) {
  const vf mid = v <= broadcast(3.f) ? g * (v / broadcast(3.f) + broadcast(0.5f)) : g;
  return v < broadcast(-3.f) ? vf{} : mid;
}

// Each vector of n floats from the inputs through f, the last one masked.
template <typename F>
inline void map_n(int64_t n, float* out, F f) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store(out + i, f(i, W));
  if (i < n) store_first(out + i, f(i, n - i), n - i);
}

}  // namespace act

// x: (n) -> y = f(x) for activation a, p its parameter (LeakyReLU's negative slope)
inline void activation_forward(ActivationKind a, const float* x, float* y, int64_t n, float p) {
  const vf pv = broadcast(p);
  const auto over = [&](auto f) { act::map_n(n, y, [&](int64_t i, int64_t c) { return f(load_n(x + i, c)); }); };
  switch (a) {
    case ActivationKind::LeakyRelu: over([&](vf v) { return v > vf{} ? v : v * pv; }); break;
    case ActivationKind::Sigmoid: over([](vf v) { return act::vsigmoid(v); }); break;
    case ActivationKind::Tanh: over([](vf v) { return act::vtanh(v); }); break;
    case ActivationKind::Silu: over([](vf v) { return v / (broadcast(1.f) + act::vexp(-v)); }); break;
    case ActivationKind::Gelu: over([](vf v) { return v * act::vnormal_cdf(v); }); break;
    case ActivationKind::Hardswish: over([](vf v) { return act::vhardswish(v); }); break;
    // As ops.def's scalar forms: a NaN passes both bounds.
    case ActivationKind::Relu: over([](vf v) { return vrelu(v); }); break;
    case ActivationKind::Relu6:
      over([](vf v) {
        const vf m = v < vf{} ? vf{} : v, six = broadcast(6.f);
        return six < m ? six : m;
      });
      break;
  }
}

// g and the saved x (LeakyReLU, SiLU, GELU, hardswish, ReLU6) or y (sigmoid, tanh, ReLU) -> dx
inline void activation_backward(ActivationKind a, const float* g, const float* x, const float* y, float* dx, int64_t n,
                                float p) {
  const vf pv = broadcast(p), one = broadcast(1.f);
  const auto over = [&](const float* saved, auto f) {
    act::map_n(n, dx, [&](int64_t i, int64_t c) { return f(load_n(g + i, c), load_n(saved + i, c)); });
  };
  switch (a) {
    case ActivationKind::LeakyRelu: over(x, [&](vf gv, vf v) { return v > vf{} ? gv : gv * pv; }); break;
    case ActivationKind::Sigmoid: over(y, [&](vf gv, vf s) { return gv * s * (one - s); }); break;
    case ActivationKind::Tanh: over(y, [&](vf gv, vf t) { return gv * (one - t * t); }); break;
    case ActivationKind::Silu:
      over(x, [&](vf gv, vf v) {
        const vf s = act::vsigmoid(v);
        return gv * s * (one + v * (one - s));
      });
      break;
    case ActivationKind::Gelu:
      over(x, [&](vf gv, vf v) {
        const vf density = broadcast(0.39894228040143268f) * act::vexp(broadcast(-0.5f) * v * v);
        return gv * (act::vnormal_cdf(v) + v * density);
      });
      break;
    case ActivationKind::Hardswish: over(x, [](vf gv, vf v) { return act::vhardswish_grad(gv, v); }); break;
    case ActivationKind::Relu: over(y, [](vf gv, vf v) { return v <= vf{} ? vf{} : gv; }); break;
    case ActivationKind::Relu6:
      over(x, [](vf gv, vf v) { return (v <= vf{}) | (v >= broadcast(6.f)) ? vf{} : gv; });
      break;
  }
}

}  // namespace dlf::DLF_ISA_NS
