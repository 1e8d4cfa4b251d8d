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

// The first `valid` lanes of v (+ReLU) to dst: a whole vector, or lane by lane at a row's end.
inline void dw_put(float* dst, vf v, int64_t valid, bool relu) {
  if (relu) v = vrelu(v);
  if (valid == W) {
    store(dst, v);
  } else {
    store_first(dst, v, valid);
  }
}

// buf (phase layout), w: (R*S), bias -> y: (P,Q) (+ReLU)
// Four output rows at a time: four independent FMA chains (one chain of R*S dependent FMAs per
// vector left the kernel waiting on FMA latency, ~4x slower).
inline void conv_dw_forward(const DwPlane& g, const float* buf, const float* w, float bias, bool relu, float* y) {
  const int64_t taps = g.R * g.S, rs = g.sh * g.Wph;
  int64_t off[kDwMaxTaps];
  for (int64_t r = 0; r < g.R; ++r)
    for (int64_t s = 0; s < g.S; ++s) off[r * g.S + s] = dw_tap_offset(g, r, s);
  const vf vb = broadcast(bias);
  for (int64_t q = 0; q < g.Q; q += W) {
    const int64_t valid = std::min<int64_t>(W, g.Q - q);
    int64_t p = 0;
    for (; p + 4 <= g.P; p += 4) {
      const float* row = buf + p * rs + q;
      vf a0 = vb, a1 = vb, a2 = vb, a3 = vb;
      for (int64_t t = 0; t < taps; ++t) {
        const vf wv = broadcast(w[t]);
        const float* src = row + off[t];
        a0 += wv * load(src);
        a1 += wv * load(src + rs);
        a2 += wv * load(src + 2 * rs);
        a3 += wv * load(src + 3 * rs);
      }
      float* yr = y + p * g.Q + q;
      dw_put(yr, a0, valid, relu);
      dw_put(yr + g.Q, a1, valid, relu);
      dw_put(yr + 2 * g.Q, a2, valid, relu);
      dw_put(yr + 3 * g.Q, a3, valid, relu);
    }
    for (; p < g.P; ++p) {
      const float* row = buf + p * rs + q;
      vf a0 = vb;
      for (int64_t t = 0; t < taps; ++t) a0 += broadcast(w[t]) * load(row + off[t]);
      dw_put(y + p * g.Q + q, a0, valid, relu);
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

// buf (phase layout), gy: (P, Q) rows gs floats apart (gs >= Qv = ceil(Q/W)*W; columns Q..Qv read
// and unused) -> dwv: (R*S, W) += per-lane partial sums of dw
// All taps in one pass over the plane, one accumulator each (gy is loaded once per vector, not once
// per tap); up to kDwRegTaps taps, in chunks beyond.
constexpr int64_t kDwRegTaps = 9;
inline void conv_dw_wgrad(const DwPlane& g, const float* buf, const float* gy, int64_t gs, float* dwv) {
  const int64_t taps = g.R * g.S, rs = g.sh * g.Wph;
  int64_t off[kDwMaxTaps];
  for (int64_t r = 0; r < g.R; ++r)
    for (int64_t s = 0; s < g.S; ++s) off[r * g.S + s] = dw_tap_offset(g, r, s);
  for (int64_t t0 = 0; t0 < taps; t0 += kDwRegTaps) {
    const int64_t nt = std::min(kDwRegTaps, taps - t0);
    vf acc[kDwRegTaps];
    for (int64_t t = 0; t < kDwRegTaps; ++t) acc[t] = vf{};
    for (int64_t p = 0; p < g.P; ++p) {
      const float* row = buf + p * rs;
      const float* gr = gy + p * gs;
      for (int64_t q = 0; q < g.Q; q += W) {
        const vf gv = load(gr + q);
        if (q + W <= g.Q) {
#pragma GCC unroll 9
          for (int64_t t = 0; t < kDwRegTaps; ++t)
            if (t < nt) acc[t] += gv * load(row + off[t0 + t] + q);
        } else {
          // Tail lanes past Q read real input columns: zero them (0 * Inf must not reach dw).
#pragma GCC unroll 9
          for (int64_t t = 0; t < kDwRegTaps; ++t)
            if (t < nt) acc[t] += gv * first_lanes(load(row + off[t0 + t] + q), g.Q - q);
        }
      }
    }
    for (int64_t t = 0; t < nt; ++t) {
      float* d = dwv + (t0 + t) * W;
      store(d, load(d) + acc[t]);
    }
  }
}

}  // namespace dlf::DLF_ISA_NS
