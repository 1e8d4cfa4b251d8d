// Depthwise convolution kernels (groups == input channels), one plane at a time, any stride,
// padding and dilation. The driver (nn/conv_depthwise.cc) copies each input plane into a zero-padded
// "phase" buffer that splits the columns by their remainder modulo the column stride:
//   buf[f][row][j] = xpad[row][j * sw + f],   f < sw,
// so every kernel tap reads (and the input gradient writes) a contiguous run of a buffer row, and
// the same vector code serves stride 1 and 2. Rows are DwPlane::Wph floats, with room for whole
// vectors past the last output column. Output-gradient rows (gy) are Qv = ceil(Q/W)*W floats apart
// (their tails are read, never used).
#pragma once
#include <algorithm>

#include "isa/kernels.h"
#include "isa/simd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

// v with the lanes from `valid` on set to zero: tail lanes past Q read real input columns, and a
// 0 * Inf there must not reach a gradient.
inline vf first_lanes(vf v, int64_t valid) {
  // A compare and a blend (a lane-by-lane loop cost ~W scalar inserts, most of an 8x8 plane's time).
  vf lane;
  for (int i = 0; i < W; ++i) lane[i] = static_cast<float>(i);
  return lane < broadcast(static_cast<float>(valid)) ? v : vf{};
}

// Where tap (r, s) of output (p, q) reads: buf + tap_offset(r, s) + p * sh * Wph + q.
inline int64_t dw_tap_offset(const DwPlane& g, int64_t r, int64_t s) {
  const int64_t col = s * g.dw;
  return ((col % g.sw) * g.Hp + r * g.dh) * g.Wph + col / g.sw;
}

// buf (phase layout), w: (R*S), bias -> y: (P,Q) (+ReLU)
inline void conv_dw_forward(const DwPlane& g, const float* buf, const float* w, float bias, bool relu, float* y) {
  const int64_t taps = g.R * g.S;
  int64_t off[kDwMaxTaps];
  vf wv[kDwMaxTaps];
  for (int64_t r = 0; r < g.R; ++r)
    for (int64_t s = 0; s < g.S; ++s) {
      off[r * g.S + s] = dw_tap_offset(g, r, s);
      wv[r * g.S + s] = broadcast(w[r * g.S + s]);
    }
  const vf vb = broadcast(bias);
  for (int64_t p = 0; p < g.P; ++p) {
    const float* row = buf + p * g.sh * g.Wph;
    float* yr = y + p * g.Q;
    for (int64_t q = 0; q < g.Q; q += W) {
      vf acc = vb;
      for (int64_t t = 0; t < taps; ++t) acc += wv[t] * load(row + off[t] + q);
      if (relu) acc = vmax(acc, vf{});
      if (q + W <= g.Q) {
        store(yr + q, acc);
      } else {
        for (int64_t i = 0; q + i < g.Q; ++i) yr[q + i] = acc[i];
      }
    }
  }
}

// gy: (P,Qv), w: (R*S) -> dbuf (phase layout) += the input gradient's contribution
inline void conv_dw_backward_data(const DwPlane& g, const float* gy, const float* w, float* dbuf) {
  const int64_t Qv = (g.Q + W - 1) / W * W;
  for (int64_t r = 0; r < g.R; ++r)
    for (int64_t s = 0; s < g.S; ++s) {
      const int64_t o = dw_tap_offset(g, r, s);
      const vf wv = broadcast(w[r * g.S + s]);
      for (int64_t p = 0; p < g.P; ++p) {
        float* row = dbuf + p * g.sh * g.Wph + o;
        const float* gr = gy + p * Qv;
        int64_t q = 0;
        for (; q + W <= g.Q; q += W) store(row + q, load(row + q) + wv * load(gr + q));
        if (q < g.Q) store(row + q, load(row + q) + first_lanes(wv * load(gr + q), g.Q - q));
      }
    }
}

// buf (phase layout), gy: (P,Qv) -> dwv: (R*S, W) += per-lane partial sums of dw
inline void conv_dw_wgrad(const DwPlane& g, const float* buf, const float* gy, float* dwv) {
  const int64_t Qv = (g.Q + W - 1) / W * W;
  for (int64_t r = 0; r < g.R; ++r)
    for (int64_t s = 0; s < g.S; ++s) {
      const int64_t o = dw_tap_offset(g, r, s);
      vf acc0 = vf{}, acc1 = vf{};
      for (int64_t p = 0; p < g.P; ++p) {
        const float* row = buf + p * g.sh * g.Wph + o;
        const float* gr = gy + p * Qv;
        int64_t q = 0;
        for (; q + 2 * W <= g.Q; q += 2 * W) {
          acc0 += load(gr + q) * load(row + q);
          acc1 += load(gr + q + W) * load(row + q + W);
        }
        for (; q + W <= g.Q; q += W) acc0 += load(gr + q) * load(row + q);
        if (q < g.Q) acc1 += first_lanes(load(gr + q) * load(row + q), g.Q - q);
      }
      float* d = dwv + (r * g.S + s) * W;
      store(d, load(d) + acc0 + acc1);
    }
}

}  // namespace dlf::DLF_ISA_NS
