// Lowering through an offset table (nn/conv_gemm.cc's im2col and col2im for strided, dilated and
// narrow layers): one gather per vector of outputs, where copying row by row spent its time on the
// calls and edge checks of rows of 4 to 16 values.
#pragma once
#include "isa/simd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

// src: one input plane, idx: (n rounded up to W) offsets into it, mask: bit l of mask[i / W] set when
// idx[i + l] lies in the plane (never for i + l >= n) -> dst: (n), zero where the bit is clear
inline void gather_plane(const float* src, const int32_t* idx, const uint32_t* mask, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store(dst + i, gather_masked(src, idx + i, mask[i / W]));
  if (i < n) store_first(dst + i, gather_masked(src, idx + i, mask[i / W]), n - i);
}

// src: (n), idx and mask as gather_plane, no offset twice -> dst[idx[i]] += src[i] where the bit is set
inline void scatter_add_plane(const float* src, const int32_t* idx, const uint32_t* mask, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    const uint32_t m = mask[i / W];
    scatter_masked(dst, idx + i, m, gather_masked(dst, idx + i, m) + load(src + i));
  }
  for (; i < n; ++i)
    if (mask[i / W] >> (i % W) & 1u) dst[idx[i]] += src[i];
}

}  // namespace dlf::DLF_ISA_NS
