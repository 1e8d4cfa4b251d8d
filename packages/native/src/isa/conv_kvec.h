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
// (constant displacements of the broadcasts), 0 to read it from g; KS the kernel width when 3, 5 or 7
// (a whole kernel row unrolled, and at stride 2 one broadcast serves two taps), 0 to read it from g.
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
      const auto taps = [&](int64_t s) {
        const vf wv = load(wr + s * W);
        const float* b = row + s;
#pragma GCC unroll 16
        for (int p = 0; p < W; ++p) acc[p] += broadcast(b[(p / QT) * rstep + (p % QT) * sw]) * wv;
      };
      if constexpr (KS != 0) {
#pragma GCC unroll 8
        for (int s = 0; s < KS; ++s) taps(s);
      } else {
#pragma GCC unroll 3
        for (int64_t s = 0; s < S; ++s) taps(s);
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
    if (relu) v = vrelu(v);
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
  // Tiles outside, blocks of output channels inside: the input rows a tile reads stay in L1 from
  // block to block (the other way round, a wide layer re-read its whole input from L2 per block).
  for (int64_t oh = 0; oh < g.P; oh += M)
    for (int64_t ow0 = 0; ow0 < g.Q; ow0 += QT)
      for (int64_t k0 = 0; k0 < g.K; k0 += W)
        tile_out<SW, M, KS>(g, xb, wp + k0 * g.C * g.R * g.S, bias, relu, k0, oh, ow0, y);
}

template <int SW, int KS>
inline void forward_sw(const KvecConv& g, const float* xb, const float* wp, const float* bias, bool relu, float* y) {
  switch (kvec_rows_per_tile(g.Q, W)) {
    case 1: forward_as<SW, 1, KS>(g, xb, wp, bias, relu, y); break;
    case 2: forward_as<SW, 2, KS>(g, xb, wp, bias, relu, y); break;
    default: forward_as<SW, 4, KS>(g, xb, wp, bias, relu, y); break;
  }
}

// Weight-gradient tile of kernel rows [rho0, rho0 + NR) (row rho = c * R + r of input channel c)
// x S taps: acc[i][s] (lane = output channel k0 + lane) += sum over images and output pixels of
// gyT[pixel][k0 + lane] * xb[c][oh*sh + r][ow*sw + s]. Rows from rho1 on repeat the last one and
// are not stored (the tile keeps its register count; only the layer's last tile has them).
template <int S>
inline void wgrad_tile(const KvecConv& g, const float* xb, int64_t xstride, const float* gyT, int64_t gstride,
                       int64_t kp, int64_t nimg, int64_t k0, int64_t rho0, int64_t rho1, bool accumulate, float* dwv) {
  constexpr int NR = kvec_wgrad_rows_per_tile(S, W);
  const int64_t plane = g.Hb * g.Wb;
  int64_t off[NR];
  for (int i = 0; i < NR; ++i) {
    const int64_t rho = std::min(rho0 + i, rho1 - 1);
    off[i] = rho / g.R * plane + rho % g.R * g.Wb;
  }
  const int nr = static_cast<int>(std::min<int64_t>(NR, rho1 - rho0));
  float* out = dwv + (k0 / W * g.C * g.R + rho0) * S * W;  // (C, R, S, W) of block k0 / W
  vf acc[NR][S];
#pragma GCC unroll 24
  for (int i = 0; i < NR; ++i)
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s) acc[i][s] = accumulate && i < nr ? load(out + (i * S + s) * W) : vf{};
  for (int64_t n = 0; n < nimg; ++n) {
    const float* xn = xb + n * xstride;
    const float* gn = gyT + n * gstride + k0;
    for (int64_t oh = 0; oh < g.P; ++oh)
      for (int64_t ow = 0; ow < g.Q; ++ow) {
        const vf gv = load(gn + (oh * g.Q + ow) * kp);
        const float* pix = xn + oh * g.sh * g.Wb + ow * g.sw;
#pragma GCC unroll 24
        for (int i = 0; i < NR; ++i)
#pragma GCC unroll 8
          for (int s = 0; s < S; ++s) acc[i][s] += broadcast(pix[off[i] + s]) * gv;
      }
  }
#pragma GCC unroll 24
  for (int i = 0; i < NR; ++i)
    if (i < nr)
#pragma GCC unroll 8
      for (int s = 0; s < S; ++s) store(out + (i * S + s) * W, acc[i][s]);
}

template <int S>
inline void wgrad_rows(const KvecConv& g, const float* xb, int64_t xstride, const float* gyT, int64_t gstride,
                       int64_t nimg, int64_t k0, int64_t rho0, int64_t rho1, bool accumulate, float* dwv) {
  const int64_t kp = (g.K + W - 1) / W * W;
  for (int64_t rho = rho0; rho < rho1; rho += kvec_wgrad_rows_per_tile(S, W))
    wgrad_tile<S>(g, xb, xstride, gyT, gstride, kp, nimg, k0, rho, rho1, accumulate, dwv);
}

// Input-gradient tile of a 3x3 stride-2 layer: W input channels (lanes, block cb) x W input pixels
// of one phase: M padded rows a + 2(i + m) by W/M padded columns b + 2j, j in [j0, j0 + W/M);
// acc[p] = sum over output channels k and the phase's taps (r = a or a + 2, s = b or b + 2) of
// wT[cb][k][r][s][lane] * gp[k][i + p/(W/M) - (r - a)/2 + 1][j0 + p%(W/M) - (s - b)/2 + 1].
template <int A, int B, int M>
inline void dgrad_tile(const KvecDgrad& d, const float* __restrict gp, const float* __restrict wc, int64_t i, int64_t j0,
                       vf (&acc)[W]) {
  constexpr int QT = W / M;
  const int64_t plane = d.Pg * d.Qg;
#pragma GCC unroll 16
  for (int p = 0; p < W; ++p) acc[p] = vf{};
  // Taps outside, output channels inside: one tap's broadcasts at a time (with the taps inside, the
  // compiler kept the overlapping rows of two taps loaded at once and spilled the accumulators).
#pragma GCC unroll 2
  for (int r = A; r < 3; r += 2)
#pragma GCC unroll 2
    for (int s = B; s < 3; s += 2) {
      const float* gk = gp + (i + 1 - (r - A) / 2) * d.Qg + j0 + 1 - (s - B) / 2;
      const float* wk = wc + (r * 3 + s) * W;
      for (int64_t k = 0; k < d.K; ++k, gk += plane, wk += 9 * W) {
        const vf wv = load(wk);
#pragma GCC unroll 16
        for (int p = 0; p < W; ++p) acc[p] += broadcast(gk[(p / QT) * d.Qg + p % QT]) * wv;
      }
    }
}

// Input-gradient columns [x0, x0 + 2W/M) (clipped to the plane) of padded rows a + 2(i + m), m < M,
// for the input channels of block cb: padded column x0 + pw + e is phase (x0 + pw + e) mod 2, so
// the even and the odd e are two phase tiles, transposed and interleaved into the rows.
template <int A, int M>
inline void dgrad_rows(const KvecDgrad& d, const float* gp, const float* wc, int64_t cb, int64_t i, int64_t x0,
                       float* dx) {
  constexpr int QT = W / M;
  vf even[W], odd[W];
  const int64_t X0 = x0 + d.pw, jA = X0 / 2;
  if (X0 % 2 == 0) {
    dgrad_tile<A, 0, M>(d, gp, wc, i, jA, even);
    dgrad_tile<A, 1, M>(d, gp, wc, i, jA, odd);
  } else {
    dgrad_tile<A, 1, M>(d, gp, wc, i, jA, even);
    dgrad_tile<A, 0, M>(d, gp, wc, i, jA + 1, odd);
  }
  transpose_square(even);  // even[c]: the block's channel c at columns x0, x0 + 2, ... (row by row)
  transpose_square(odd);   // ... at x0 + 1, x0 + 3, ...
  const vi lane = lane_iota(1, 0);
  const vi zip_lo = (lane & 1) * W + (lane >> 1), zip_hi = zip_lo + W / 2;
  const int64_t cn = std::min<int64_t>(W, d.C - cb * W), n = std::min<int64_t>(2 * QT, d.W - x0);
  for (int64_t c = 0; c < cn; ++c) {
    const vf v0 = __builtin_shuffle(even[c], odd[c], zip_lo), v1 = __builtin_shuffle(even[c], odd[c], zip_hi);
    float* plane = dx + (cb * W + c) * d.H * d.W;
    const int64_t ih = A + 2 * i - d.ph;
    if constexpr (M == 1) {
      float* row = plane + ih * d.W + x0;
      store_n(row, v0, std::min<int64_t>(W, n));
      if (n > W) store_n(row + W, v1, n - W);
    } else {  // M == 2: v0 is row i, v1 row i + 1 (2 * QT = W columns each)
      if (ih >= 0 && ih < d.H) store_n(plane + ih * d.W + x0, v0, n);
      if (ih + 2 >= 0 && ih + 2 < d.H) store_n(plane + (ih + 2) * d.W + x0, v1, n);
    }
  }
}

}  // namespace kvec

// Input gradient of a 3x3 stride-2 layer, one image: gp: (K, Pg, Qg) zero-padded output gradient
// (gy (oh, ow) at (oh + 1, ow + 1); rows past (H + ph) / 2 + 2, columns past (last x0 + pw) / 2 +
// W + 1), wT: (ceil(C/W), K, 3, 3, W) (lane = input channel, zero past C) -> dx: (C, H, W),
// overwritten, in runs of 2W columns of a row, or pairs of rows when W columns hold a row. Each
// input pixel sums its phase's taps: padded row a + 2i reads kernel rows a and a + 2 (a = 0) or 1
// (a = 1), and likewise for columns.
inline void kvec_dgrad3s2(const KvecDgrad& d, const float* gp, const float* wT, float* dx) {
  // two padded rows to a tile when a row of input columns fits in one vector
  const bool pairs = d.W <= W;
  for (int64_t cb = 0; cb * W < d.C; ++cb) {
    const float* wc = wT + cb * d.K * 9 * W;
    for (int64_t a = 0; a < 2; ++a) {
      // padded rows a + 2i inside the plane: input rows a + 2i - ph in [0, H)
      const int64_t i0 = std::max<int64_t>(0, (d.ph - a + 1) / 2), i1 = (d.H + d.ph - a + 1) / 2;
      for (int64_t i = i0; i < i1; i += pairs ? 2 : 1) {
        if (pairs) {
          if (a == 0) kvec::dgrad_rows<0, 2>(d, gp, wc, cb, i, 0, dx);
          else kvec::dgrad_rows<1, 2>(d, gp, wc, cb, i, 0, dx);
          continue;
        }
        for (int64_t x0 = 0; x0 < d.W; x0 += 2 * W) {
          if (a == 0) kvec::dgrad_rows<0, 1>(d, gp, wc, cb, i, x0, dx);
          else kvec::dgrad_rows<1, 1>(d, gp, wc, cb, i, x0, dx);
        }
      }
    }
  }
}

// gy: (K, PQ) -> gyT: (PQ, kp), kp = K rounded up to W, zero past K: one image's output gradient
// with the output channels of a pixel side by side (the weight gradient's vectors).
inline void kvec_transpose(const float* gy, int64_t K, int64_t PQ, float* gyT) {
  const int64_t kp = (K + W - 1) / W * W;
  for (int64_t p0 = 0; p0 < PQ; p0 += W) {
    const int64_t pn = std::min<int64_t>(W, PQ - p0);
    for (int64_t k0 = 0; k0 < kp; k0 += W) {
      vf r[W];
      for (int k = 0; k < W; ++k) r[k] = k0 + k < K ? load_n(gy + (k0 + k) * PQ + p0, pn) : vf{};
      transpose_square(r);  // r[p]: pixel p0 + p's channels k0 ..
      for (int64_t p = 0; p < pn; ++p) store(gyT + (p0 + p) * kp + k0, r[p]);
    }
  }
}

// Weight-gradient sums for output-channel block k0 (a multiple of W) and kernel rows [rho0, rho1)
// (row c * R + r, kernel widths 2 to 8): xb: nimg zero-padded inputs as kvec_forward reads them
// (xstride floats apart), gyT: nimg kvec_transpose'd output gradients (gstride apart)
//   -> dwv: (ceil(K/W), C, R, S, W) (+= when `accumulate`; lane = output channel).
inline void kvec_wgrad(const KvecConv& g, const float* xb, int64_t xstride, const float* gyT, int64_t gstride,
                       int64_t nimg, int64_t k0, int64_t rho0, int64_t rho1, bool accumulate, float* dwv) {
  switch (g.S) {
    case 2: kvec::wgrad_rows<2>(g, xb, xstride, gyT, gstride, nimg, k0, rho0, rho1, accumulate, dwv); break;
    case 3: kvec::wgrad_rows<3>(g, xb, xstride, gyT, gstride, nimg, k0, rho0, rho1, accumulate, dwv); break;
    case 4: kvec::wgrad_rows<4>(g, xb, xstride, gyT, gstride, nimg, k0, rho0, rho1, accumulate, dwv); break;
    case 5: kvec::wgrad_rows<5>(g, xb, xstride, gyT, gstride, nimg, k0, rho0, rho1, accumulate, dwv); break;
    case 6: kvec::wgrad_rows<6>(g, xb, xstride, gyT, gstride, nimg, k0, rho0, rho1, accumulate, dwv); break;
    case 7: kvec::wgrad_rows<7>(g, xb, xstride, gyT, gstride, nimg, k0, rho0, rho1, accumulate, dwv); break;
    case 8: kvec::wgrad_rows<8>(g, xb, xstride, gyT, gstride, nimg, k0, rho0, rho1, accumulate, dwv); break;
    default: break;  // refused by conv_kvec_wgrad_applies
  }
}

// xb: (C, Hb, Wb) zero-padded input (the view the kernel reads: output (p, q) tap (r, s) at row
// p*sh + r, column q*sw + s), wp: (ceil(K/W), C, R, S, W) weights (zero past K), bias: (K) or
// null -> y: (K,P,Q) (+ReLU).
inline void kvec_forward(const KvecConv& g, const float* xb, const float* wp, const float* bias, bool relu, float* y) {
  if (g.sw == 2 && g.S == 3) {
    kvec::forward_sw<2, 3>(g, xb, wp, bias, relu, y);
  } else if (g.sw == 2 && g.S == 5) {
    kvec::forward_sw<2, 5>(g, xb, wp, bias, relu, y);
  } else if (g.sw == 2 && g.S == 7) {
    kvec::forward_sw<2, 7>(g, xb, wp, bias, relu, y);
  } else if (g.sw == 2) {
    kvec::forward_sw<2, 0>(g, xb, wp, bias, relu, y);
  } else if (g.sw == 1 && g.S == 3) {
    kvec::forward_sw<1, 3>(g, xb, wp, bias, relu, y);
  } else {
    kvec::forward_sw<0, 0>(g, xb, wp, bias, relu, y);
  }
}

}  // namespace dlf::DLF_ISA_NS
