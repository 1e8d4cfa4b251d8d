// Direct convolution for stride 1, dilation 1, one group and few channels (nn/conv_fast.cc drives
// these per image). The input is first copied into a zero-padded plane buffer (C,Hb,Wb), so the
// kernels never test borders: output row p, column q reads xb[c][p+r][q+s].
//
// Forward tile: KB output channels x T "positions" accumulate in vector registers, where a position
// is one vector of W consecutive output columns in one output row (rows are cut into ceil(Q/W)
// vectors; the last may be partial and is stored through a scratch tile). For each (c, r, s) a tile
// makes T unaligned loads from the padded rows, KB weight broadcasts and KB*T FMAs.
//
// With AVX-512, 3-row kernels use Winograd F(2,3) over the kernel rows instead (wino_block): pairs
// of output rows from four input rows, 4 FMAs where the direct tile needs 6 (~1.2x faster at these
// channel counts, where the broadcasts of the transformed weights are the limit). Its row pairs
// also let it fuse ReLU + 2x2 max pooling into the epilogue (conv_direct_relu_pool), whose
// gradient conv_unpool_pad scatters straight into the padded gradient buffer.
//
// The input gradient is the same kernel run on the zero-padded output gradient with the weights
// transposed (K <-> C) and flipped (r -> R-1-r, s -> S-1-s). The weight gradient keeps per-lane
// partial sums (K,C,R,S,W) that the caller reduces in a fixed order, so results are deterministic.
#pragma once
#include <algorithm>
#include <cstring>

#include "isa/conv_common.h"
#include "isa/conv_wgrad.h"
#include "isa/conv_winograd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace conv {

// acc[kk][t] = sum_{c,r,s} wp[((c*R + r)*S + s)*KB + kk] * xb[c][r][off[t] + s + lane]
// xb: (C,Hb,Wb) padded input (already offset to the tile's first row), wp: one packed block (C,R,S,KB)
template <int KB, int T>
inline void direct_tile(const DirectConv& g, const float* __restrict xb, const float* __restrict wp,
                        const int64_t (&off)[T], vf (&acc)[KB][T]) {
  const int64_t plane = g.Hb * g.Wb;
#pragma GCC unroll 16
  for (int kk = 0; kk < KB; ++kk)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[kk][t] = vf{};
  for (int64_t c = 0; c < g.C; ++c) {
    const float* xc = xb + c * plane;
    for (int64_t r = 0; r < g.R; ++r) {
      const float* xr = xc + r * g.Wb;
      const float* wr = wp + (c * g.R + r) * g.S * KB;
      for (int64_t s = 0; s < g.S; ++s) {
        vf xv[T];
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) xv[t] = load(xr + off[t] + s);
        const float* ws = wr + s * KB;
#pragma GCC unroll 16
        for (int kk = 0; kk < KB; ++kk) {
          const vf wv = broadcast(ws[kk]);
#pragma GCC unroll 4
          for (int t = 0; t < T; ++t) acc[kk][t] += wv * xv[t];
        }
      }
    }
  }
}

// One tile of outputs: channels [k0, k0+KB) x positions [pos, pos+T) of y: (K,P,Q).
template <int KB, int T>
inline void direct_block(const DirectConv& g, const float* xb, const float* wp, const float* bias, bool relu, float* y,
                         uint8_t* bits, int64_t k0, int64_t pos) {
  const int64_t qv = (g.Q + W - 1) / W;  // vectors per output row
  const int64_t pq = g.P * g.Q;
  const int64_t bstride = relu_bits_stride(g.Q);
  int64_t off[T], out[T], valid[T], brow[T], bq[T];
  for (int t = 0; t < T; ++t) {
    const int64_t p = (pos + t) / qv, v = (pos + t) % qv;
    off[t] = p * g.Wb + v * W;
    out[t] = p * g.Q + v * W;
    valid[t] = std::min<int64_t>(W, g.Q - v * W);
    brow[t] = p * bstride;
    bq[t] = v * W;
  }
  vf acc[KB][T];
  direct_tile<KB, T>(g, xb, wp + k0 * g.C * g.R * g.S, off, acc);
  for (int kk = 0; kk < KB; ++kk) {
    const vf b = broadcast(bias ? bias[k0 + kk] : 0.f);
    float* yk = y + (k0 + kk) * pq;
    for (int t = 0; t < T; ++t) {
      vf v = acc[kk][t] + b;
      if (relu) v = vrelu(v);
      if (bits) put_bits(bits + (k0 + kk) * g.P * bstride + brow[t], bq[t], relu_pass_bits(v));
      store_n(yk + out[t], v, valid[t]);
    }
  }
}

template <int T>
inline void direct_positions(const DirectConv& g, const float* xb, const float* wp, const float* bias, bool relu,
                             float* y, uint8_t* bits, int64_t pos) {
  for (int64_t k0 = 0; k0 < g.K;) {
    const int kb = kblock(g.K, k0);
    switch (kb) {
      case KBM: direct_block<KBM, T>(g, xb, wp, bias, relu, y, bits, k0, pos); break;
      case 2: direct_block<2, T>(g, xb, wp, bias, relu, y, bits, k0, pos); break;
      case 1: direct_block<1, T>(g, xb, wp, bias, relu, y, bits, k0, pos); break;
      default: direct_block<4, T>(g, xb, wp, bias, relu, y, bits, k0, pos); break;
    }
    k0 += kb;
  }
}

}  // namespace conv


// 3-row kernels run as Winograd F(2,3) over the rows (wino_block); others as a direct convolution.
// (AVX-512 only: with 16 registers the transformed tile is too small to beat the direct one.)
inline bool conv_uses_winograd(int64_t R) { return DLF_WINO_ON && W == 16 && R == 3; }

// Floats conv_pack_weights writes: K*C*4*S for Winograd, K*C*R*S otherwise.
inline int64_t conv_packed_floats(int64_t K, int64_t C, int64_t R, int64_t S) {
  return conv_uses_winograd(R) ? K * C * 4 * S : K * C * R * S;
}

// xb: (C,Hb,Wb) zero-padded input, wp: packed (K,C,R,S) (conv_pack_weights), bias: (K) or null
//   -> y: (K,P,Q), y = conv + bias, ReLU applied when `relu`;
//   bits (or null): (K,P,relu_bits_stride(Q)) bytes, bit q of row (k,p) set when y[k][p][q] > 0
inline void conv_direct(const DirectConv& g, const float* xb, const float* wp, const float* bias, bool relu, float* y,
                        uint8_t* bits) {
  using namespace conv;
  if (conv_uses_winograd(g.R)) {
    wino_all(g, xb, wp, bias, relu, y, bits, nullptr);
    return;
  }
  const int64_t positions = g.P * ((g.Q + W - 1) / W);
  int64_t pos = 0;
  for (; pos + TM <= positions; pos += TM) direct_positions<TM>(g, xb, wp, bias, relu, y, bits, pos);
  for (; pos + 2 <= positions; pos += 2) direct_positions<2>(g, xb, wp, bias, relu, y, bits, pos);
  for (; pos < positions; ++pos) direct_positions<1>(g, xb, wp, bias, relu, y, bits, pos);
}

// xb, wp as conv_direct -> ypool: (K,P/2,Q/2) = maxpool2x2(relu(conv + bias)), code: (K,P/2,Q/2) each
// maximum's place in its window (0..3). Only the Winograd tile pools; returns false (nothing done)
// where this table does not use it for this geometry.
inline bool conv_direct_relu_pool(const DirectConv& g, const float* xb, const float* wp, const float* bias, float* ypool,
                                  uint8_t* code) {
  using namespace conv;
  if (!conv_uses_winograd(g.R) || g.P < 2 || g.Q < 2) return false;
  const PoolOut po{ypool, code, g.P / 2, g.Q / 2};
  wino_all(g, xb, wp, bias, true, nullptr, nullptr, &po);
  return true;
}

// gpool, ypool, code: (K,Pp,Qp) from conv_direct_relu_pool -> interior of dst: (K,Hb,Wb) at (top,left)
// holding the (P,Q) conv-output gradient: gpool (where ypool > 0: the ReLU) at its window's code,
// zero elsewhere, rows / columns past 2Pp / 2Qp too. sums: (K) += plane sums (or null).
inline void conv_unpool_pad(const float* gpool, const float* ypool, const uint8_t* code, int64_t K, int64_t P, int64_t Q,
                            int64_t Pp, int64_t Qp, int64_t top, int64_t left, int64_t Hb, int64_t Wb, float* dst,
                            float* sums) {
  using namespace conv;
  const vi z0 = (lane_iota(1, 0) >> 1) + ((lane_iota(1, 0) & 1) * W);  // e0 o0 e1 o1 ... (low halves)
  const vi z1 = z0 + W / 2;                                               // (high halves)
  for (int64_t k = 0; k < K; ++k) {
    vf vs{};
    for (int64_t i = 0; i < Pp; ++i) {
      const int64_t o = (k * Pp + i) * Qp;
      float* d0 = dst + (k * Hb + top + 2 * i) * Wb + left;
      float* d1 = d0 + Wb;
      // W pooled columns at a time; the last n < W through masked loads and stores.
      for (int64_t j = 0; j < Qp; j += W) {
        const int64_t n = std::min<int64_t>(W, Qp - j);
        const vf gp = load_n(gpool + o + j, n), yp = load_n(ypool + o + j, n);
        vb cb{};
        std::memcpy(&cb, code + o + j, static_cast<size_t>(n));
        const vf gv = yp <= vf{} ? vf{} : gp;
        const vi c = __builtin_convertvector(cb, vi);
        const vf c00 = c == 0 ? gv : vf{}, c01 = c == 1 ? gv : vf{};
        const vf c10 = c == 2 ? gv : vf{}, c11 = c == 3 ? gv : vf{};
        const vf r00 = __builtin_shuffle(c00, c01, z0), r01 = __builtin_shuffle(c00, c01, z1);
        const vf r10 = __builtin_shuffle(c10, c11, z0), r11 = __builtin_shuffle(c10, c11, z1);
        // 2n output columns: the first vector's min(2n, W), the second's the rest
        const int64_t lo = std::min<int64_t>(2 * n, W), hi = 2 * n - lo;
        store_n(d0 + 2 * j, r00, lo);
        store_n(d1 + 2 * j, r10, lo);
        if (hi > 0) {
          store_n(d0 + 2 * j + W, r01, hi);
          store_n(d1 + 2 * j + W, r11, hi);
        }
        vs += gv;
      }
      for (int64_t q = 2 * Qp; q < Q; ++q) d0[q] = d1[q] = 0.f;
    }
    for (int64_t r = 2 * Pp; r < P; ++r) std::memset(dst + (k * Hb + top + r) * Wb + left, 0, sizeof(float) * Q);
    if (sums) sums[k] += hsum(vs);
  }
}

// w: (K,C,R,S) -> wp: blocks of kblock() output channels, each (C,R,S,kb).
// flip: w is read as the input-gradient weights w'[c][k][r][s] = w[k][c][R-1-r][S-1-s], so the
// packed tensor has K' = C output channels and C' = K input channels (pass the forward K, C).
inline void conv_pack_weights(const float* w, int64_t K, int64_t C, int64_t R, int64_t S, bool flip, float* wp) {
  using namespace conv;
  const int64_t Ko = flip ? C : K, Ci = flip ? K : C;
  auto at = [&](int64_t ko, int64_t c, int64_t r, int64_t s) {
    return flip ? w[((c * C + ko) * R + (R - 1 - r)) * S + (S - 1 - s)] : w[((ko * C + c) * R + r) * S + s];
  };
  if (conv_uses_winograd(R)) {
    // Blocks of wino_kblock() channels, each (C,S,4,kb): the F(2,3) transform of each kernel column.
    for (int64_t k0 = 0; k0 < Ko;) {
      const int kb = wino_kblock(Ko, k0);
      float* blk = wp + k0 * Ci * S * 4;
      for (int64_t c = 0; c < Ci; ++c)
        for (int64_t s = 0; s < S; ++s)
          for (int kk = 0; kk < kb; ++kk) {
            const float g0 = at(k0 + kk, c, 0, s), g1 = at(k0 + kk, c, 1, s), g2 = at(k0 + kk, c, 2, s);
            float* d = blk + (c * S + s) * 4 * kb + kk;
            d[0 * kb] = g0;
            d[1 * kb] = 0.5f * (g0 + g1 + g2);
            d[2 * kb] = 0.5f * (g0 - g1 + g2);
            d[3 * kb] = g2;
          }
      k0 += kb;
    }
    return;
  }
  for (int64_t k0 = 0; k0 < Ko;) {
    const int kb = kblock(Ko, k0);
    float* blk = wp + k0 * Ci * R * S;
    for (int64_t c = 0; c < Ci; ++c)
      for (int64_t r = 0; r < R; ++r)
        for (int64_t s = 0; s < S; ++s)
          for (int kk = 0; kk < kb; ++kk) {
            const int64_t ko = k0 + kk;
            blk[((c * R + r) * S + s) * kb + kk] = at(ko, c, r, s);
          }
    k0 += kb;
  }
}

// src: (C,H,W) -> dst: (C,Hb,Wb) interior, dst[c][i+top][j+left] = src[c][i][j], masked (set to 0)
// where mask[c][i][j] <= 0 (mask given) or where bit j of row (c,i) of mask_bits is clear (bits given:
// (C,H,relu_bits_stride(W)) bytes). Only the interior is written: the caller zeroes the border once
// per buffer. sums: (C) += plane sums of the written values, or null.
inline void conv_pad(const float* src, const float* mask, const uint8_t* mask_bits, int64_t C, int64_t H, int64_t Wd,
                     int64_t top, int64_t left, int64_t Hb, int64_t Wb, float* dst, float* sums) {
  using namespace conv;
  vi lane_bit;
  for (int i = 0; i < W; ++i) lane_bit[i] = 1 << i;
  const int64_t bstride = relu_bits_stride(Wd);
  for (int64_t c = 0; c < C; ++c) {
    const float* sp = src + c * H * Wd;
    const float* mp = mask ? mask + c * H * Wd : nullptr;
    const uint8_t* bp = mask_bits ? mask_bits + c * H * bstride : nullptr;
    float* dp = dst + (c * Hb + top) * Wb + left;
    vf vs{};
    for (int64_t i = 0; i < H; ++i) {
      const float* s = sp + i * Wd;
      float* d = dp + i * Wb;
      // W columns at a time, a row's last n < W through masked loads and stores (lanes past n are
      // 0): a scalar tail was most of the copy on 28-wide rows.
      for (int64_t j = 0; j < Wd; j += W) {
        const int64_t n = std::min<int64_t>(W, Wd - j);
        vf v = load_n(s + j, n);
        if (bp) {
          const vi on = ((vi{} + static_cast<int32_t>(get_bits(bp + i * bstride, j))) & lane_bit) != 0;
          v = on ? v : vf{};
        } else if (mp) {
          v = load_n(mp + i * Wd + j, n) <= vf{} ? vf{} : v;
        }
        store_n(d + j, v, n);
        vs += v;
      }
    }
    if (sums) sums[c] += hsum(vs);
  }
}

// xb: (C,Hb,Wb) zero-padded inputs, gb: (K,gHb,gWb) zero-padded output gradients holding gy[k][p][q]
// at gb[k][p+top][q+left] (zero for q >= Q up to the next vector) ->
// dwv: (K,C,R,S,W) += per-lane partial sums of dw[k][c][r][s] = sum_{i,p,q} gy_i[k][p][q] * xb_i[c][p+r][q+s]
// over `nimg` images (buffers xstride / gstride floats apart); = when !accumulate (dwv not read).
inline void conv_wgrad(const DirectConv& g, const float* xb, const float* gb, int64_t top, int64_t left, int64_t gHb,
                       int64_t gWb, int64_t nimg, int64_t xstride, int64_t gstride, bool accumulate, float* dwv) {
  using namespace conv;
  const ImageBatch ib{nimg, xstride, gstride};
  const int64_t gplane = gHb * gWb;
  const float* g0 = gb + top * gWb + left;
  constexpr int64_t PB = DLF_WGRAD_PB;  // rows per pass: long passes amortise the tile set-up
  const int64_t qv = (g.Q + W - 1) / W;
  for (int64_t p0 = 0; p0 < g.P; p0 += PB) {
    const int64_t p1 = std::min(g.P, p0 + PB);
    if (qv == 1) {
      wgrad_rows<1>(g, xb, g0, gplane, gWb, ib, p0, p1, accumulate || p0 > 0, dwv);
    } else if (qv == 2) {
      wgrad_rows<2>(g, xb, g0, gplane, gWb, ib, p0, p1, accumulate || p0 > 0, dwv);
    } else {
      wgrad_rows<0>(g, xb, g0, gplane, gWb, ib, p0, p1, accumulate || p0 > 0, dwv);
    }
  }
}

}  // namespace dlf::DLF_ISA_NS
