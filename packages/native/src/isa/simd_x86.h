// The x86 backend of isa/simd.h: SSE, AVX2 or AVX-512 intrinsics, by the translation unit's -m flags.
#pragma once
#include <immintrin.h>

namespace dlf::simd {

// A splat. `vf{} + x` would cost a scalar add first (0 + x is not foldable: signed zeros), and a
// lane-by-lane loop is not always recognised, so each width uses its set1 intrinsic.
inline vf broadcast(float x) {
#if defined(__AVX512F__)
  return reinterpret_cast<vf>(_mm512_set1_ps(x));
#elif defined(__AVX2__)
  return reinterpret_cast<vf>(_mm256_set1_ps(x));
#else
  return reinterpret_cast<vf>(_mm_set1_ps(x));
#endif
}
// Bit i set when lane i of v is > 0 (false for NaN).
inline uint32_t positive_bits(vf v) {
#if defined(__AVX512F__)
  return _mm512_cmp_ps_mask(reinterpret_cast<__m512>(v), _mm512_setzero_ps(), _CMP_GT_OQ);
#elif defined(__AVX2__)
  return static_cast<uint32_t>(
      _mm256_movemask_ps(_mm256_cmp_ps(reinterpret_cast<__m256>(v), _mm256_setzero_ps(), _CMP_GT_OQ)));
#else
  return static_cast<uint32_t>(_mm_movemask_ps(_mm_cmpgt_ps(reinterpret_cast<__m128>(v), _mm_setzero_ps())));
#endif
}
// Forces v into a register here: stops the compiler from folding one load into several FMAs
// as separate memory operands (which multiplies the loads).
inline vf in_register(vf v) {
  __asm__("" : "+v"(v));
  return v;
}

}  // namespace dlf::simd
