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

// gyb: gy's pixels with zero margins (DwbGather m), wb as above -> dxb: (H*W) pixels = the input
// gradient, any stride, padding and dilation. Each dx pixel gathers its taps in registers: pixels
// whose (h + ph) % sh and (w + pw) % sw agree are reached by the same taps at the same offsets, so
// each such class is a flat tap loop over kPix pixels at a time. (Scattering each output pixel's
// taps, a load and a store of dx per tap, took 2.5x the forward at stride 2, 2.4x at stride 1.)
inline void dwb_dgrad(const DwBlocked& g, const DwbGather& m, const float* gyb, const float* wb, float* dxb) {
  int64_t toff[kDwMaxTaps], wt[kDwMaxTaps];
  for (int64_t vr = 0; vr < g.sh; ++vr)
    for (int64_t vc = 0; vc < g.sw; ++vc) {
      int64_t nt = 0;
      for (int64_t r = 0; r < g.R; ++r) {
        const int64_t dr = vr - r * g.dh;  // tap row r reads gy row (h + ph) / sh + dr / sh
        if (dr % g.sh != 0) continue;
        for (int64_t s = 0; s < g.S; ++s) {
          const int64_t dc = vc - s * g.dw;
          if (dc % g.sw != 0) continue;
          toff[nt] = ((m.top + dr / g.sh) * m.cols + m.left + dc / g.sw) * W;
          wt[nt++] = (r * g.S + s) * W;
        }
      }
      // the class: rows h0, h0 + sh, ... and columns w0, w0 + sw, ...
      const int64_t h0 = ((vr - g.ph) % g.sh + g.sh) % g.sh, w0 = ((vc - g.pw) % g.sw + g.sw) % g.sw;
      if (h0 >= g.H || w0 >= g.W) continue;
      const int64_t nh = (g.H - h0 + g.sh - 1) / g.sh, nw = (g.W - w0 + g.sw - 1) / g.sw, n = nh * nw;
      // class pixel (ci, cj) reads from gy pixel (u0 + ci, q0 + cj) on, writes dx pixel
      // (h0 + ci * sh, w0 + cj * sw); counters, not divisions (they cost what the taps did)
      const int64_t u0 = (h0 + g.ph) / g.sh, q0 = (w0 + g.pw) / g.sw;
      int64_t ci = 0, cj = 0;
      for (int64_t i0 = 0; i0 < n; i0 += dwb::kPix) {
        // A short last group repeats its last pixel (computed, not stored).
        int64_t src[dwb::kPix], dst[dwb::kPix];
        for (int j = 0; j < dwb::kPix; ++j) {
          src[j] = ((u0 + ci) * m.cols + q0 + cj) * W;
          dst[j] = ((h0 + ci * g.sh) * g.W + w0 + cj * g.sw) * W;
          if (i0 + j + 1 < n && ++cj == nw) cj = 0, ++ci;  // the last one moves to the next group's first
        }
        vf acc[dwb::kPix];
#pragma GCC unroll 8
        for (int j = 0; j < dwb::kPix; ++j) acc[j] = vf{};
        for (int64_t t = 0; t < nt; ++t) {
          const vf wv = load(wb + wt[t]);
          const float* at = gyb + toff[t];
#pragma GCC unroll 8
          for (int j = 0; j < dwb::kPix; ++j) acc[j] += wv * load(at + src[j]);
        }
        const int64_t k = std::min<int64_t>(dwb::kPix, n - i0);
        for (int64_t j = 0; j < k; ++j) store(dxb + dst[j], acc[j]);
      }
    }
}

// xb: (Hp, Wp) padded pixels, gyb: (P, Q) pixels in rows of gy_cols pixels (Q, or a margined
// buffer's width) -> dwv: (R*S) vectors += sum over output pixels of gy * x at each tap (lane =
// channel), pixels in order.
inline void dwb_wgrad(const DwBlocked& g, const float* xb, const float* gyb, int64_t gy_cols, float* dwv) {
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
    for (int64_t p = 0; p < g.P; ++p)
      for (int64_t q = 0; q < g.Q; ++q) {
        const vf gv = load(gyb + (p * gy_cols + q) * W);
        const float* src = xb + (p * g.sh * g.Wp + q * g.sw) * W;
#pragma GCC unroll 8
        for (int j = 0; j < dwb::kPix; ++j) acc[j] += gv * load(src + toff[j]);
      }
    for (int64_t j = 0; j < nt; ++j) store(dwv + (t0 + j) * W, load(dwv + (t0 + j) * W) + acc[j]);
  }
}

}  // namespace dlf::DLF_ISA_NS
