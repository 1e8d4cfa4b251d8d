// Weight-gradient tiles of the direct convolution (see isa/conv.h for the layouts): per-lane partial
// sums that the caller reduces in a fixed order, so results are deterministic.
#pragma once
#include "isa/conv_common.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace conv {

// acc[kk][ss] += sum_{p,q} gb[kk][p][q] * xb[p + r][q + s0 + ss] over one channel pair block
// xb: one input plane (Hb,Wb); gb: KB gradient planes (gHb,gWb), already offset to (top,left).
// QV > 0 fixes the vectors per output row at compile time (no inner loop for narrow rows).
// Images of one weight-gradient call: buffers of image i at xb + i * xstride and gb + i * gstride.
struct ImageBatch {
  int64_t n, xstride, gstride;
};

template <int KB, int SB, int QV>
inline void wgrad_tile(const DirectConv& g, const float* __restrict xb, const float* __restrict gb, int64_t gplane,
                       int64_t gWb, const ImageBatch& ib, int64_t r, int64_t s0, int64_t p0, int64_t p1,
                       bool accumulate, float* __restrict dwv) {
  const int64_t qv = QV > 0 ? QV : (g.Q + W - 1) / W;
  vf acc[KB][SB];
#pragma GCC unroll 16
  for (int kk = 0; kk < KB; ++kk)
#pragma GCC unroll 4
    for (int ss = 0; ss < SB; ++ss) acc[kk][ss] = vf{};
  for (int64_t i = 0; i < ib.n; ++i) {
    const float* xr = xb + i * ib.xstride + (p0 + r) * g.Wb + s0;
    const float* gr = gb + i * ib.gstride + p0 * gWb;
    for (int64_t p = p0; p < p1; ++p, xr += g.Wb, gr += gWb) {
#pragma GCC unroll 4
      for (int64_t v = 0; v < qv; ++v) {
        vf xv[SB];
#pragma GCC unroll 4
        for (int ss = 0; ss < SB; ++ss) xv[ss] = load(xr + v * W + ss);
#pragma GCC unroll 16
        for (int kk = 0; kk < KB; ++kk) {
          const vf gv = in_register(load(gr + kk * gplane + v * W));
#pragma GCC unroll 4
          for (int ss = 0; ss < SB; ++ss) acc[kk][ss] += gv * xv[ss];
        }
      }
    }
  }
  // dwv rows for (kk, c, r, s0 + ss) are g.C * g.R * g.S vectors apart per kk.
  const int64_t kstride = g.C * g.R * g.S * W;
  for (int kk = 0; kk < KB; ++kk)
    for (int ss = 0; ss < SB; ++ss) {
      float* d = dwv + kk * kstride + ss * W;
      store(d, accumulate ? load(d) + acc[kk][ss] : acc[kk][ss]);
    }
}

template <int KB, int QV>
inline void wgrad_kblock(const DirectConv& g, const float* xb, const float* gb, int64_t gplane, int64_t gWb,
                         const ImageBatch& ib, int64_t k0, int64_t p0, int64_t p1, bool accumulate, float* dwv) {
  const int64_t plane = g.Hb * g.Wb;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s0 = 0; s0 < g.S;) {
        float* d = dwv + (((k0 * g.C + c) * g.R + r) * g.S + s0) * W;
        const int64_t sb = std::min<int64_t>(SBM, g.S - s0);
        const float* xc = xb + c * plane;
        const float* gk = gb + k0 * gplane;
        if (sb == 3) {
          wgrad_tile<KB, 3, QV>(g, xc, gk, gplane, gWb, ib, r, s0, p0, p1, accumulate, d);
        } else if (sb == 2) {
          wgrad_tile<KB, 2, QV>(g, xc, gk, gplane, gWb, ib, r, s0, p0, p1, accumulate, d);
        } else {
          wgrad_tile<KB, 1, QV>(g, xc, gk, gplane, gWb, ib, r, s0, p0, p1, accumulate, d);
        }
        s0 += sb;
      }
}

template <int QV>
inline void wgrad_rows(const DirectConv& g, const float* xb, const float* g0, int64_t gplane, int64_t gWb,
                       const ImageBatch& ib, int64_t p0, int64_t p1, bool accumulate, float* dwv) {
  for (int64_t k0 = 0; k0 < g.K;) {
    const int kb = wblock(g.K, k0);
    switch (kb) {
      case WKB: wgrad_kblock<WKB, QV>(g, xb, g0, gplane, gWb, ib, k0, p0, p1, accumulate, dwv); break;
      case 2: wgrad_kblock<2, QV>(g, xb, g0, gplane, gWb, ib, k0, p0, p1, accumulate, dwv); break;
      case 1: wgrad_kblock<1, QV>(g, xb, g0, gplane, gWb, ib, k0, p0, p1, accumulate, dwv); break;
      default: wgrad_kblock<4, QV>(g, xb, g0, gplane, gWb, ib, k0, p0, p1, accumulate, dwv); break;
    }
    k0 += kb;
  }
}

}  // namespace conv
}  // namespace dlf::DLF_ISA_NS
