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
// Bit i set when lane i of v is not <= 0 (positive or NaN).
inline uint32_t relu_pass_bits(vf v) {
#if defined(__AVX512F__)
  return _mm512_cmp_ps_mask(reinterpret_cast<__m512>(v), _mm512_setzero_ps(), _CMP_NLE_UQ);
#elif defined(__AVX2__)
  return static_cast<uint32_t>(
      _mm256_movemask_ps(_mm256_cmp_ps(reinterpret_cast<__m256>(v), _mm256_setzero_ps(), _CMP_NLE_UQ)));
#else
  return static_cast<uint32_t>(_mm_movemask_ps(_mm_cmpnle_ps(reinterpret_cast<__m128>(v), _mm_setzero_ps())));
#endif
}
// Lane i = base[idx[i]] where bit i of mask is set, else 0; masked-off lanes are never read.
#if defined(__AVX512F__)
#define DLF_SIMD_HAS_GATHER 1
#define DLF_SIMD_HAS_SCATTER 1
inline vf gather_masked(const float* base, const int32_t* idx, uint32_t mask) {
  const __m512i vi = _mm512_loadu_si512(idx);
  return reinterpret_cast<vf>(_mm512_mask_i32gather_ps(_mm512_setzero_ps(), static_cast<__mmask16>(mask), vi, base, 4));
}
// base[idx[i]] = lane i where bit i of mask is set; other places are not touched.
inline void scatter_masked(float* base, const int32_t* idx, uint32_t mask, vf v) {
  const __m512i vi = _mm512_loadu_si512(idx);
  _mm512_mask_i32scatter_ps(base, static_cast<__mmask16>(mask), vi, reinterpret_cast<__m512>(v), 4);
}
// The first n lanes of v (0 <= n <= W) to p; nothing else is written.
#define DLF_SIMD_HAS_STORE_FIRST 1
inline void store_first(float* p, vf v, int64_t n) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), reinterpret_cast<__m512>(v));
}
// The first n lanes from p (0 <= n <= W), the others 0; nothing beyond p + n is read.
#define DLF_SIMD_HAS_LOAD_FIRST 1
inline vf load_first(const float* p, int64_t n) {
  return reinterpret_cast<vf>(_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), p));
}
#elif defined(__AVX2__)
#define DLF_SIMD_HAS_GATHER 1
#define DLF_SIMD_HAS_STORE_FIRST 1
// All bits set in the lanes below n.
inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline void store_first(float* p, vf v, int64_t n) { _mm256_maskstore_ps(p, first_lanes(n), reinterpret_cast<__m256>(v)); }
#define DLF_SIMD_HAS_LOAD_FIRST 1
inline vf load_first(const float* p, int64_t n) { return reinterpret_cast<vf>(_mm256_maskload_ps(p, first_lanes(n))); }
inline vf gather_masked(const float* base, const int32_t* idx, uint32_t mask) {
  const __m256i vi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx));
  const __m256i lane_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i m = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(mask)), lane_bits), lane_bits);
  return reinterpret_cast<vf>(_mm256_mask_i32gather_ps(_mm256_setzero_ps(), base, vi, _mm256_castsi256_ps(m), 4));
}
#endif

// Forces v into a register here: stops the compiler from folding one load into several FMAs
// as separate memory operands (which multiplies the loads).
inline vf in_register(vf v) {
  __asm__("" : "+v"(v));
  return v;
}

}  // namespace dlf::simd
