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

// gy: (P, Q) with margins (DwGatherRows; gy points at its first row), w: (R*S) -> dx: (H, W) (+= with
// accumulate), column stride 2, any row stride: each dx pixel gathers the taps that reach it in
// registers. dx column 2j + f takes tap column s when f + pw - s*dw is even, from gy column
// j + (f + pw - s*dw)/2, so each column phase is a run of loads; the two phases are zipped into the
// row. Rows with the same (h + ph) % sh share one flat list of taps per phase, four rows at a time.
// (Scattering into a zeroed phase buffer, then interleaving it out, took 3x the forward.)
struct DwGatherTap {
  int64_t offset;  // from the start of gy row (h + ph) / sh
  float w;
};

// even, odd: the two column phases of dx columns 2j.. -> dx row d (+= with accumulate)
inline void dw_zip_store(float* d, int64_t cols, int64_t j, vf even, vf odd, bool accumulate) {
  const vi lane = lane_iota(1, 0);
  const vi zip_lo = (lane & 1) * W + (lane >> 1), zip_hi = zip_lo + W / 2;
  vf lo = __builtin_shuffle(even, odd, zip_lo), hi = __builtin_shuffle(even, odd, zip_hi);
  const int64_t m = std::min<int64_t>(2 * W, cols - 2 * j), m_lo = std::min<int64_t>(W, m);
  if (accumulate) {
    lo += load_n(d + 2 * j, m_lo);
    if (m > W) hi += load_n(d + 2 * j + W, m - W);
  }
  store_n(d + 2 * j, lo, m_lo);
  if (m > W) store_n(d + 2 * j + W, hi, m - W);
}

inline void conv_dw_dgrad_s2(const DwPlane& g, const float* gy, const DwGatherRows& rows, const float* w,
                             bool accumulate, float* dx) {
  const int64_t phase_cols = (g.W + 1) / 2, gs = rows.stride;
  DwGatherTap taps[2][kDwMaxTaps];
  for (int64_t v = 0; v < g.sh; ++v) {
    int64_t n[2] = {0, 0};
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t num = v - r * g.dh;  // tap row r reaches gy row (h + ph) / sh + num / sh
      if (num % g.sh != 0) continue;
      for (int64_t f = 0; f < 2; ++f)
        for (int64_t s = 0; s < g.S; ++s) {
          const int64_t d = f + g.pw - s * g.dw;
          if ((d & 1) == 0) taps[f][n[f]++] = {num / g.sh * gs + rows.left + (d >> 1), w[r * g.S + s]};
        }
    }
    const int64_t h0 = ((v - g.ph) % g.sh + g.sh) % g.sh, dr = g.sh * g.W;
    int64_t h = h0;
    // Four rows at a time: one weight broadcast feeds eight accumulators (a row at a time spent
    // most of its time on loop control).
    for (; h + 3 * g.sh < g.H; h += 4 * g.sh) {
      const float* base = gy + (h + g.ph) / g.sh * gs;
      float* d = dx + h * g.W;
      for (int64_t j = 0; j < phase_cols; j += W) {
        vf e0{}, e1{}, e2{}, e3{}, o0{}, o1{}, o2{}, o3{};
        for (int64_t t = 0; t < n[0]; ++t) {
          const vf wv = broadcast(taps[0][t].w);
          const float* p = base + taps[0][t].offset + j;
          e0 += wv * load(p), e1 += wv * load(p + gs), e2 += wv * load(p + 2 * gs), e3 += wv * load(p + 3 * gs);
        }
        for (int64_t t = 0; t < n[1]; ++t) {
          const vf wv = broadcast(taps[1][t].w);
          const float* p = base + taps[1][t].offset + j;
          o0 += wv * load(p), o1 += wv * load(p + gs), o2 += wv * load(p + 2 * gs), o3 += wv * load(p + 3 * gs);
        }
        dw_zip_store(d, g.W, j, e0, o0, accumulate);
        dw_zip_store(d + dr, g.W, j, e1, o1, accumulate);
        dw_zip_store(d + 2 * dr, g.W, j, e2, o2, accumulate);
        dw_zip_store(d + 3 * dr, g.W, j, e3, o3, accumulate);
      }
    }
    for (; h < g.H; h += g.sh) {
      const float* base = gy + (h + g.ph) / g.sh * gs;
      for (int64_t j = 0; j < phase_cols; j += W) {
        vf even{}, odd{};
        for (int64_t t = 0; t < n[0]; ++t) even += broadcast(taps[0][t].w) * load(base + taps[0][t].offset + j);
        for (int64_t t = 0; t < n[1]; ++t) odd += broadcast(taps[1][t].w) * load(base + taps[1][t].offset + j);
        dw_zip_store(dx + h * g.W, g.W, j, even, odd, accumulate);
      }
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
