// Depthwise convolution on small planes with channels in the vector lanes (nn/conv_depthwise.cc drives
// it per image and block of W channels). The plane kernels (isa/conv_depthwise.h) vectorise along a
// plane's rows: on 8x8 and 7x7 outputs a vector is half or less used and each plane pays a copy and
// a call (a 7x7 MobileNet layer ran at 6% of peak). Here W channels' planes are transposed into a
// zero-padded pixel-major buffer (Hp x Wp pixels of W floats), every tap is then one full-vector FMA
// per output pixel, and the results are transposed back into the NCHW planes: the channel-blocked
// layout, kept within the op.
#pragma once
#include <algorithm>

#include "isa/gemm.h"
#include "isa/kernels.h"
#include "isa/simd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace dwb {

// Offsets, in floats, of tap t in a padded pixel buffer and of output pixel i's top-left input pixel.
inline int64_t tap_offset(const DwBlocked& g, int64_t t) { return ((t / g.S) * g.dh * g.Wp + (t % g.S) * g.dw) * W; }
inline int64_t pixel_offset(const DwBlocked& g, int64_t i) { return ((i / g.Q) * g.sh * g.Wp + (i % g.Q) * g.sw) * W; }

constexpr int kPix = 8;  // output pixels in registers at a time: independent FMA chains

}  // namespace dwb

// planes: nch (<= W) planes (rows x cols, `stride` floats apart) -> buf: pixel (h, w) of plane l at
// lane l of buf[(origin + h * row_pixels + w) * W]; lanes from nch on are zero.
inline void dwb_pack(const float* planes, int64_t stride, int64_t nch, int64_t rows, int64_t cols, float* buf,
                     int64_t origin, int64_t row_pixels) {
  const int64_t n = rows * cols;
  for (int64_t i0 = 0; i0 < n; i0 += W) {
    const int64_t m = std::min<int64_t>(W, n - i0);
    vf r[W];
#pragma GCC unroll 16
    for (int l = 0; l < W; ++l) r[l] = l < nch ? load_n(planes + l * stride + i0, m) : vf{};
    transpose_square(r);  // r[j]: pixel i0 + j of every plane
    int64_t h = i0 / cols, w = i0 % cols;
    for (int64_t j = 0; j < m; ++j) {
      store(buf + (origin + h * row_pixels + w) * W, r[j]);
      if (++w == cols) w = 0, ++h;
    }
  }
}

// The inverse of dwb_pack for the first nch lanes: buf (pixels as placed by dwb_pack) -> planes.
inline void dwb_unpack(const float* buf, int64_t origin, int64_t row_pixels, int64_t nch, int64_t rows, int64_t cols,
                       float* planes, int64_t stride) {
  const int64_t n = rows * cols;
  for (int64_t i0 = 0; i0 < n; i0 += W) {
    const int64_t m = std::min<int64_t>(W, n - i0);
    vf r[W];
    int64_t h = i0 / cols, w = i0 % cols;
    for (int64_t j = 0; j < W; ++j) {  // lanes from m on repeat pixel m - 1 (not stored)
      r[j] = load(buf + (origin + h * row_pixels + w) * W);
      if (j + 1 < m && ++w == cols) w = 0, ++h;
    }
    transpose_square(r);  // r[l]: plane l's pixels i0 ..
    for (int64_t l = 0; l < nch; ++l) store_n(planes + l * stride + i0, r[l], m);
  }
}

// xb: (Hp, Wp) padded pixels of W channels, wb: (R*S) tap vectors, bias vector -> yb: (P*Q) pixels
// (+ReLU when `relu`)
inline void dwb_forward(const DwBlocked& g, const float* xb, const float* wb, const float* bias, bool relu, float* yb) {
  const int64_t taps = g.R * g.S, n = g.P * g.Q;
  int64_t toff[kDwMaxTaps];
  for (int64_t t = 0; t < taps; ++t) toff[t] = dwb::tap_offset(g, t);
  const vf bv = load(bias);
  for (int64_t i0 = 0; i0 < n; i0 += dwb::kPix) {
    // A short last group repeats its last pixel (computed, not stored).
    int64_t base[dwb::kPix];
#pragma GCC unroll 8
    for (int j = 0; j < dwb::kPix; ++j) base[j] = dwb::pixel_offset(g, std::min<int64_t>(i0 + j, n - 1));
    vf acc[dwb::kPix];
#pragma GCC unroll 8
    for (int j = 0; j < dwb::kPix; ++j) acc[j] = bv;
    for (int64_t t = 0; t < taps; ++t) {
      const vf wv = load(wb + t * W);
      const float* src = xb + toff[t];
#pragma GCC unroll 8
      for (int j = 0; j < dwb::kPix; ++j) acc[j] += wv * load(src + base[j]);
    }
    const int64_t m = std::min<int64_t>(dwb::kPix, n - i0);
    for (int64_t j = 0; j < m; ++j) store(yb + (i0 + j) * W, relu ? vrelu(acc[j]) : acc[j]);
  }
}

// gyb: (P*Q) pixels, wb as above -> dxb: (Hp, Wp) padded pixels += the input gradient (each output
// pixel's taps added where the forward read them; any stride, padding and dilation)
inline void dwb_backward_data(const DwBlocked& g, const float* gyb, const float* wb, float* dxb) {
  const int64_t taps = g.R * g.S;
  int64_t toff[kDwMaxTaps];
  for (int64_t t = 0; t < taps; ++t) toff[t] = dwb::tap_offset(g, t);
  for (int64_t p = 0, i = 0; p < g.P; ++p)
    for (int64_t q = 0; q < g.Q; ++q, ++i) {
      const vf gv = load(gyb + i * W);
      float* dst = dxb + (p * g.sh * g.Wp + q * g.sw) * W;
      for (int64_t t = 0; t < taps; ++t) store(dst + toff[t], load(dst + toff[t]) + load(wb + t * W) * gv);
    }
}

// xb: (Hp, Wp) padded pixels, gyb: (P*Q) pixels -> dwv: (R*S) vectors += sum over output pixels of
// gy * x at each tap (lane = channel), pixels in order.
inline void dwb_wgrad(const DwBlocked& g, const float* xb, const float* gyb, float* dwv) {
  const int64_t taps = g.R * g.S;
  for (int64_t t0 = 0; t0 < taps; t0 += dwb::kPix) {
    const int64_t nt = std::min<int64_t>(dwb::kPix, taps - t0);
    int64_t toff[dwb::kPix];
    vf acc[dwb::kPix];
#pragma GCC unroll 8
    for (int j = 0; j < dwb::kPix; ++j) {
      toff[j] = dwb::tap_offset(g, t0 + std::min<int64_t>(j, nt - 1));
      acc[j] = vf{};
    }
    for (int64_t p = 0, i = 0; p < g.P; ++p)
      for (int64_t q = 0; q < g.Q; ++q, ++i) {
        const vf gv = load(gyb + i * W);
        const float* src = xb + (p * g.sh * g.Wp + q * g.sw) * W;
#pragma GCC unroll 8
        for (int j = 0; j < dwb::kPix; ++j) acc[j] += gv * load(src + toff[j]);
      }
    for (int64_t j = 0; j < nt; ++j) store(dwv + (t0 + j) * W, load(dwv + (t0 + j) * W) + acc[j]);
  }
}

}  // namespace dlf::DLF_ISA_NS
