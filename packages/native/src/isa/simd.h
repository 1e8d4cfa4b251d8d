// A thin portable vector type over GCC vector extensions. The same kernel source compiles to
// 16-wide AVX-512, 8-wide AVX2, 4-wide SSE or NEON code, or 4-wide generic code, depending on the
// target and the translation unit's flags. The few operations vector extensions cannot express
// well come from one backend header per architecture; only those headers use intrinsics.
#pragma once
#include <cstdint>
#include <cstring>

namespace dlf::simd {

#if defined(__AVX512F__)
constexpr int W = 16;
#elif defined(__AVX2__)
constexpr int W = 8;
#else
constexpr int W = 4;  // SSE, NEON and the generic fallback
#endif

typedef float vf __attribute__((vector_size(W * sizeof(float))));
// Lane indices and masks of the same width (__builtin_shuffle patterns, compares).
typedef int32_t vi __attribute__((vector_size(W * sizeof(int32_t))));
typedef float vf_unaligned __attribute__((vector_size(W * sizeof(float)), aligned(4)));

inline vf load(const float* p) { return *reinterpret_cast<const vf_unaligned*>(p); }
inline void store(float* p, vf v) { *reinterpret_cast<vf_unaligned*>(p) = v; }
inline vf load_aligned(const float* p) { return *reinterpret_cast<const vf*>(p); }

}  // namespace dlf::simd

// Each backend defines broadcast(x) (a splat), relu_pass_bits(v) (bit i set when lane i is not <= 0:
// positive or NaN, where a ReLU's backward passes the gradient) and in_register(v) (an optimisation
// barrier that keeps v in a register).
#if (defined(__x86_64__) || defined(__i386__)) && !defined(DLF_SIMD_GENERIC)
#include "isa/simd_x86.h"
#elif defined(__ARM_NEON) && defined(__aarch64__) && !defined(DLF_SIMD_GENERIC)
#include "isa/simd_neon.h"
#else
#include "isa/simd_generic.h"
#endif

namespace dlf::simd {

#ifndef DLF_SIMD_HAS_GATHER
// Lane i = base[idx[i]] where bit i of mask is set, else 0; masked-off lanes are never read.
inline vf gather_masked(const float* base, const int32_t* idx, uint32_t mask) {
  vf v = vf{};
  for (int i = 0; i < W; ++i)
    if (mask >> i & 1u) v[i] = base[idx[i]];
  return v;
}
#endif
#ifndef DLF_SIMD_HAS_SCATTER
// base[idx[i]] = lane i where bit i of mask is set; other places are not touched.
inline void scatter_masked(float* base, const int32_t* idx, uint32_t mask, vf v) {
  for (int i = 0; i < W; ++i)
    if (mask >> i & 1u) base[idx[i]] = v[i];
}
#endif

#ifndef DLF_SIMD_HAS_STORE_FIRST
// The first n lanes of v (0 <= n <= W) to p; nothing else is written.
inline void store_first(float* p, vf v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = v[i];
}
#endif
#ifndef DLF_SIMD_HAS_LOAD_FIRST
// The first n lanes from p (0 <= n <= W), the others 0; nothing beyond p + n is read.
inline vf load_first(const float* p, int64_t n) {
  vf v = vf{};
  for (int64_t i = 0; i < n; ++i) v[i] = p[i];
  return v;
}
#endif
// n (1 <= n <= W) floats from p, or to p: a whole vector, or a row's masked last one.
inline vf load_n(const float* p, int64_t n) { return n == W ? load(p) : load_first(p, n); }
inline void store_n(float* p, vf v, int64_t n) {
  if (n == W) {
    store(p, v);
  } else {
    store_first(p, v, n);
  }
}
// Lane i holds step * i + add (shuffle patterns, lane masks).
inline vi lane_iota(int32_t step, int32_t add) {
  vi m;
  for (int i = 0; i < W; ++i) m[i] = step * i + add;
  return m;
}

inline vf vmax(vf a, vf b) { return a > b ? a : b; }
inline vf vmin(vf a, vf b) { return a < b ? a : b; }
// PyTorch's ReLU, lane by lane: v < 0 ? 0 : v, so NaN and -0 pass through (max(v, 0) would turn a
// NaN into 0 and hide it). One MAXPS with zero first on x86. The scalar form is relu_value (isa/relu.h).
inline vf vrelu(vf v) { return vmax(vf{}, v); }
// A max pool's update, lane by lane: c replaces the running maximum when c > best, or when c is the
// first NaN (NaN wins over everything, and the first maximum stays): as max_pool2d. Any vector width.
template <typename V>
inline auto takes_max(V c, V best) {
  return (best == best) & ~(c <= best);
}
inline float hsum(vf v) {
  float s = 0.f;
  for (int i = 0; i < W; ++i) s += v[i];
  return s;
}

}  // namespace dlf::simd
