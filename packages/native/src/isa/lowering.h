// Lowering through an offset table (nn/conv_gemm.cc's im2col and col2im for strided, dilated and
// narrow layers): one gather per vector of outputs, where copying row by row spent its time on the
// calls and edge checks of rows of 4 to 16 values. And the column phases of stride-2 depthwise layers
// (nn/conv_depthwise.cc) split and joined by shuffles, where a scalar loop cost most of the layer.
#pragma once
#include <algorithm>

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

// src: (rows, cols), rows src_stride floats apart -> dst: rows dst_stride apart, dst[r][c] = src[r][c]
// for c < cols and 0 for cols <= c < width (width >= cols). A row's last vector is read and written
// masked: rows of 4 to 32 values (depthwise planes) cost a memcpy call each, most of the copy.
inline void copy_rows(const float* src, int64_t src_stride, int64_t rows, int64_t cols, int64_t width, float* dst,
                      int64_t dst_stride) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * src_stride;
    float* d = dst + r * dst_stride;
    int64_t j = 0;
    for (; j + W <= cols; j += W) store(d + j, load(s + j));
    for (; j < width; j += W) {
      const vf v = j < cols ? load_first(s + j, cols - j) : vf{};  // cols - j < W here
      store_n(d + j, v, std::min<int64_t>(W, width - j));
    }
  }
}

// src: (n) -> even: (n - n/2) = src[0], src[2], ...; odd: (n/2) = src[1], src[3], ...
inline void deinterleave2(const float* src, int64_t n, float* even, float* odd) {
  const vi me = lane_iota(2, 0), mo = lane_iota(2, 1);
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const vf a = load(src + i), b = load(src + i + W);
    store(even + i / 2, __builtin_shuffle(a, b, me));
    store(odd + i / 2, __builtin_shuffle(a, b, mo));
  }
  // The last m < 2W values through masked loads and stores (a scalar loop was all of a 28-wide row).
  const int64_t m = n - i;
  if (m > 0) {
    const vf a = load_n(src + i, std::min<int64_t>(W, m));
    const vf b = m > W ? load_n(src + i + W, m - W) : vf{};
    store_n(even + i / 2, __builtin_shuffle(a, b, me), (m + 1) / 2);
    if (m > 1) store_n(odd + i / 2, __builtin_shuffle(a, b, mo), m / 2);
  }
}

// even, odd as deinterleave2 -> dst: (n), their elements in turn
inline void interleave2(const float* even, const float* odd, int64_t n, float* dst) {
  const vi lane = lane_iota(1, 0);
  const vi zip_lo = (lane & 1) * W + (lane >> 1), zip_hi = zip_lo + W / 2;
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const vf a = load(even + i / 2), b = load(odd + i / 2);
    store(dst + i, __builtin_shuffle(a, b, zip_lo));
    store(dst + i + W, __builtin_shuffle(a, b, zip_hi));
  }
  const int64_t m = n - i;  // the last m < 2W values, masked as in deinterleave2
  if (m > 0) {
    const vf a = load_n(even + i / 2, (m + 1) / 2);
    const vf b = m > 1 ? load_n(odd + i / 2, m / 2) : vf{};
    store_n(dst + i, __builtin_shuffle(a, b, zip_lo), std::min<int64_t>(W, m));
    if (m > W) store_n(dst + i + W, __builtin_shuffle(a, b, zip_hi), m - W);
  }
}

}  // namespace dlf::DLF_ISA_NS
