// Direct convolution vectorised over output channels (nn/conv_kvec.cc drives it per image), for
// strided layers: a tile is W output pixels x W output channels, one accumulator vector per pixel
// (lane = output channel). For each input channel and kernel tap it loads one vector of weights and
// broadcasts each pixel's input value, so a stride only changes the addresses of the broadcasts:
// no phase split, no im2col matrix, no packing of the input. The tile is transposed in registers
// at the end (lane = pixel) and stored as rows of the NCHW output. Stride-2 3x3 layers on CIFAR
// planes ran at ~45% of peak as im2col + GEMM (the lowering and the packing cost as much as the
// products); here at 60-70%.
//
// Pixels of a tile: M output rows of W / M columns (M = 1 for rows of W outputs or more, cut into
// runs of W; 2 or 4 for narrower rows, so 8x8 outputs still fill a vector). The input is a
// zero-padded copy (C, Hb, Wb) whose rows and columns cover every pixel a tile reads, including
// the pixels past P and Q of the last tiles (computed and dropped).
#pragma once
#include <algorithm>

#include "isa/gemm.h"
#include "isa/kernels.h"
#include "isa/simd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace kvec {

// acc[p] = sum over c, r, s of wk[((c*R + r)*S + s)*W + lane] * xb[c][(oh + p/QT)*sh + r][(ow0 + p%QT)*sw + s]
// (QT = W / M): pixel p of the tile, lane = output channel. SW is the column stride when 1 or 2
// (constant displacements of the broadcasts), 0 to read it from g; KS the kernel width when 3 (a
// whole kernel row unrolled, and at stride 2 one broadcast serves two taps), 0 to read it from g.
// (With S a loop count the compiler carried loaded values from one tap to the next in rotating
// registers, more moves than loads saved: ~1.6x slower.)
template <int SW, int M, int KS>
inline void tile(const KvecConv& g, const float* __restrict xb, const float* __restrict wk, int64_t oh, int64_t ow0,
                 vf (&acc)[W]) {
  constexpr int QT = W / M;
  const int64_t sw = SW ? SW : g.sw, S = KS ? KS : g.S, plane = g.Hb * g.Wb, rstep = g.sh * g.Wb;
#pragma GCC unroll 16
  for (int p = 0; p < W; ++p) acc[p] = vf{};
  for (int64_t c = 0; c < g.C; ++c) {
    for (int64_t r = 0; r < g.R; ++r) {
      const float* row = xb + c * plane + (oh * g.sh + r) * g.Wb + ow0 * sw;
      const float* wr = wk + (c * g.R + r) * S * W;
#pragma GCC unroll 3
      for (int64_t s = 0; s < S; ++s) {
        const vf wv = load(wr + s * W);
        const float* b = row + s;
#pragma GCC unroll 16
        for (int p = 0; p < W; ++p) acc[p] += broadcast(b[(p / QT) * rstep + (p % QT) * sw]) * wv;
      }
    }
  }
}

// Output channels [k0, k0 + W) (those below K) of the tile at (oh, ow0) -> y: (K,P,Q), + bias, ReLU.
template <int SW, int M, int KS>
inline void tile_out(const KvecConv& g, const float* xb, const float* wk, const float* bias, bool relu, int64_t k0,
                     int64_t oh, int64_t ow0, float* y) {
  constexpr int QT = W / M;
  vf acc[W];
  tile<SW, M, KS>(g, xb, wk, oh, ow0, acc);
  transpose_square(acc);  // acc[k]: the tile's pixels of output channel k0 + k
  const int64_t kn = std::min<int64_t>(W, g.K - k0), plane = g.P * g.Q;
  for (int64_t k = 0; k < kn; ++k) {
    vf v = acc[k] + broadcast(bias ? bias[k0 + k] : 0.f);
    if (relu) v = vmax(v, vf{});
    float* yk = y + (k0 + k) * plane;
    if constexpr (M == 1) {
      store_n(yk + oh * g.Q + ow0, v, std::min<int64_t>(W, g.Q - ow0));
    } else {
      // row j of the tile is lanes [j*QT, j*QT + Q): shifted down, then its first Q lanes
#pragma GCC unroll 4
      for (int j = 0; j < M; ++j) {
        if (oh + j >= g.P) break;
        const vf rowv = j ? __builtin_shuffle(v, v, lane_iota(1, j * QT) & (W - 1)) : v;
        store_first(yk + (oh + j) * g.Q, rowv, g.Q);
      }
    }
  }
}

template <int SW, int M, int KS>
inline void forward_as(const KvecConv& g, const float* xb, const float* wp, const float* bias, bool relu, float* y) {
  constexpr int QT = W / M;
  for (int64_t k0 = 0; k0 < g.K; k0 += W) {
    const float* wk = wp + k0 * g.C * g.R * g.S;  // block k0 / W: (C, R, S, W)
    for (int64_t oh = 0; oh < g.P; oh += M)
      for (int64_t ow0 = 0; ow0 < g.Q; ow0 += QT) tile_out<SW, M, KS>(g, xb, wk, bias, relu, k0, oh, ow0, y);
  }
}

template <int SW, int KS>
inline void forward_sw(const KvecConv& g, const float* xb, const float* wp, const float* bias, bool relu, float* y) {
  switch (kvec_rows_per_tile(g.Q, W)) {
    case 1: forward_as<SW, 1, KS>(g, xb, wp, bias, relu, y); break;
    case 2: forward_as<SW, 2, KS>(g, xb, wp, bias, relu, y); break;
    default: forward_as<SW, 4, KS>(g, xb, wp, bias, relu, y); break;
  }
}

}  // namespace kvec

// xb: (C, Hb, Wb) zero-padded input (the view the kernel reads: output (p, q) tap (r, s) at row
// p*sh + r, column q*sw + s), wp: (ceil(K/W), C, R, S, W) weights (zero past K), bias: (K) or
// null -> y: (K,P,Q) (+ReLU).
inline void kvec_forward(const KvecConv& g, const float* xb, const float* wp, const float* bias, bool relu, float* y) {
  if (g.sw == 2 && g.S == 3) {
    kvec::forward_sw<2, 3>(g, xb, wp, bias, relu, y);
  } else if (g.sw == 2) {
    kvec::forward_sw<2, 0>(g, xb, wp, bias, relu, y);
  } else if (g.sw == 1 && g.S == 3) {
    kvec::forward_sw<1, 3>(g, xb, wp, bias, relu, y);
  } else {
    kvec::forward_sw<0, 0>(g, xb, wp, bias, relu, y);
  }
}

}  // namespace dlf::DLF_ISA_NS
