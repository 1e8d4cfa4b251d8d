// Winograd F(2,3) over kernel rows for the direct convolution (see isa/conv.h): 4 FMAs where the
// direct tile needs 6, with ReLU + 2x2 max pooling fusable into its row-pair epilogue.
#pragma once
#include "isa/conv_common.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace conv {

inline int wino_kblock(int64_t K, int64_t k0) {
  const int64_t rem = K - k0;
  if (rem >= WGK) return WGK;
  if (rem >= 2) return 2;
  return 1;
}

// PP pairs of output rows (p, p+1, ...) x one column vector x KB output channels with Winograd
// F(2,3) along the kernel rows: with d0..d3 the input rows p..p+3 and g0..g2 a kernel column,
//   u = (d0 - d2, d1 + d2, d2 - d1, d1 - d3),  G = (g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2),
//   m_j = sum_{c,s} G_j * u_j,  y[p] = m0 + m1 + m2,  y[p+1] = m1 - m2 - m3:
// 4 FMAs for 6 direct ones. Output rows >= P (odd P) come from the buffer's spare zero row and are
// dropped. xb: (C,Hb,Wb) with Hb >= p + 2*PP + 2; wg: one block (C,S,4,KB) of conv_pack_weights.
template <int KB, int PP, int SF>
inline void wino_block(const DirectConv& g, const float* __restrict xb, const float* __restrict wg, const float* bias,
                       bool relu, float* y, uint8_t* bits, const PoolOut* pool, int64_t k0, int64_t p, int64_t v0) {
  const int64_t plane = g.Hb * g.Wb, Wb = g.Wb;
  const int64_t S = SF > 0 ? SF : g.S;  // SF: the kernel width fixed at compile time (3), or 0
  vf m[KB][PP][4];
#pragma GCC unroll 16
  for (int kk = 0; kk < KB; ++kk)
#pragma GCC unroll 4
    for (int t = 0; t < PP; ++t)
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) m[kk][t][j] = vf{};
  const float* x0 = xb + p * Wb + v0 * W;
  for (int64_t c = 0; c < g.C; ++c) {
    const float* xc = x0 + c * plane;
    const float* wc = wg + c * S * 4 * KB;
#pragma GCC unroll 4
    for (int64_t s = 0; s < S; ++s) {
      vf d[2 * PP + 2];
#pragma GCC unroll 8
      // Held in registers: folded into the transform as memory operands, rows 1 and 2 were loaded
      // twice, and the loads (with the weight broadcasts) are this loop's limit.
      for (int i = 0; i < 2 * PP + 2; ++i) d[i] = in_register(load(xc + i * Wb + s));
      vf u[PP][4];
#pragma GCC unroll 4
      for (int t = 0; t < PP; ++t) {
        u[t][0] = d[2 * t] - d[2 * t + 2];
        u[t][1] = d[2 * t + 1] + d[2 * t + 2];
        u[t][2] = d[2 * t + 2] - d[2 * t + 1];
        u[t][3] = d[2 * t + 1] - d[2 * t + 3];
      }
      const float* ws = wc + s * 4 * KB;
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j)
#pragma GCC unroll 16
        for (int kk = 0; kk < KB; ++kk) {
          const vf wv = broadcast(ws[j * KB + kk]);
#pragma GCC unroll 4
          for (int t = 0; t < PP; ++t) m[kk][t][j] += wv * u[t][j];
        }
    }
  }
  const int64_t pq = g.P * g.Q, bstride = relu_bits_stride(g.Q);
  const int64_t q0 = v0 * W;
#pragma GCC unroll 16
  for (int kk = 0; kk < KB; ++kk) {
    const vf b = broadcast(bias ? bias[k0 + kk] : 0.f);
#pragma GCC unroll 4
    for (int t = 0; t < PP; ++t) {
      vf out[2] = {m[kk][t][0] + m[kk][t][1] + m[kk][t][2] + b, m[kk][t][1] - m[kk][t][2] - m[kk][t][3] + b};
      if (pool) {
        // ReLU then 2x2 pooling; a last odd row has no window and is dropped
        const int64_t row = p + 2 * t;
        if (row + 1 < g.P && row / 2 < pool->Pp)
          pool_pair(*pool, k0 + kk, row / 2, q0, vrelu(out[0]), vrelu(out[1]));
        continue;
      }
#pragma GCC unroll 2
      for (int i = 0; i < 2; ++i) {
        const int64_t row = p + 2 * t + i;
        if (row >= g.P) break;
        vf v = out[i];
        if (relu) v = vrelu(v);
        if (bits) put_bits(bits + ((k0 + kk) * g.P + row) * bstride, q0, relu_pass_bits(v));
        float* yr = y + (k0 + kk) * pq + row * g.Q + q0;
        if (q0 + W <= g.Q) {
          store(yr, v);
        } else {
          store_first(yr, v, g.Q - q0);
        }
      }
    }
  }
}

template <int PP>
inline void wino_positions(const DirectConv& g, const float* xb, const float* wg, const float* bias, bool relu, float* y,
                           uint8_t* bits, const PoolOut* pool, int64_t p, int64_t v0) {
  for (int64_t k0 = 0; k0 < g.K;) {
    const int kb = wino_kblock(g.K, k0);
    const float* blk = wg + k0 * g.C * g.S * 4;
    if (g.S == 3) {
      switch (kb) {
        case WGK: wino_block<WGK, PP, 3>(g, xb, blk, bias, relu, y, bits, pool, k0, p, v0); break;
        case 1: wino_block<1, PP, 3>(g, xb, blk, bias, relu, y, bits, pool, k0, p, v0); break;
        default: wino_block<2, PP, 3>(g, xb, blk, bias, relu, y, bits, pool, k0, p, v0); break;
      }
    } else {
      switch (kb) {
        case WGK: wino_block<WGK, PP, 0>(g, xb, blk, bias, relu, y, bits, pool, k0, p, v0); break;
        case 1: wino_block<1, PP, 0>(g, xb, blk, bias, relu, y, bits, pool, k0, p, v0); break;
        default: wino_block<2, PP, 0>(g, xb, blk, bias, relu, y, bits, pool, k0, p, v0); break;
      }
    }
    k0 += kb;
  }
}


// WP row pairs per tile; the last rows in single pairs (they may read the spare zero row).
inline void wino_all(const DirectConv& g, const float* xb, const float* wp, const float* bias, bool relu, float* y,
                     uint8_t* bits, const PoolOut* pool) {
  const int64_t qv = (g.Q + W - 1) / W;
  int64_t p = 0;
  for (; p + 2 * WP <= g.P; p += 2 * WP)
    for (int64_t v = 0; v < qv; ++v) wino_positions<WP>(g, xb, wp, bias, relu, y, bits, pool, p, v);
  for (; p < g.P; p += 2)
    for (int64_t v = 0; v < qv; ++v) wino_positions<1>(g, xb, wp, bias, relu, y, bits, pool, p, v);
}
}  // namespace conv
}  // namespace dlf::DLF_ISA_NS
