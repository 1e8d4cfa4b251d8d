// Winograd F(4x4,3x3) (Lavin & Gray 2016) for stride-1 3x3 convolutions of many channels. A 6x6
// input tile d and a 3x3 kernel g give a 4x4 output tile y = A^T [(G g G^T) . (B^T d B)] A: 36
// products per channel pair where the direct convolution needs 144, so the work becomes 36 GEMMs
// (one per transformed position e) between the transformed weights and the transformed tiles.
// Tiles are numbered across the batch (image, tile row, tile column) and handled TB at a time, one
// tile per vector lane, so the transforms are vector code and narrow planes fill every lane.
// The weight gradient uses the same transforms: dg = G^T [(A u A^T) . (B^T d B)] G for a 4x4
// output-gradient tile u, summed over tiles in the transformed domain (one GEMM per e).
#pragma once
#include <algorithm>

#include "isa/gemm.h"
#include "isa/kernels.h"
#include "isa/simd.h"
#include "isa/wino_tiles.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace wino {

#if defined(__AVX512F__)
constexpr int NV = 4;  // tile vectors per block: 64 tiles; 6 x 4 accumulators in the GEMM
constexpr int WK = 4;  // weight-gradient GEMM: 4 x 4 accumulators
constexpr int WC = 4;
#else
constexpr int NV = 2;  // 16 registers on AVX2 and SSE: 6 x 2 accumulators, 3 x 3 in the gradient GEMM
constexpr int WK = 3;
constexpr int WC = 3;
#endif
constexpr int TB = NV * W;  // tiles per block
constexpr int RK = 6;       // output channels per GEMM micro-tile

// B^T applied to 6 vectors 'stride' apart: d -> b (Lavin's F(4,3) input transform).
inline void bt6(const vf* d, int ds, vf* b, int bs) {
  const vf d0 = d[0], d1 = d[ds], d2 = d[2 * ds], d3 = d[3 * ds], d4 = d[4 * ds], d5 = d[5 * ds];
  const vf four = broadcast(4.f), five = broadcast(5.f), two = broadcast(2.f);
  b[0] = four * d0 - five * d2 + d4;
  const vf s12 = d4 - four * d2, s34 = d3 - four * d1;  // shared by rows 1 and 2
  b[bs] = s12 + s34;
  b[2 * bs] = s12 - s34;
  const vf s42 = d4 - d2, s13 = two * (d3 - d1);
  b[3 * bs] = s42 + s13;
  b[4 * bs] = s42 - s13;
  b[5 * bs] = four * d1 - five * d3 + d5;
}

// A^T applied to 6 vectors 'stride' apart: m -> 4 outputs (the output transform).
inline void at6(const vf* m, int ms, vf* o, int os) {
  const vf m0 = m[0], m1 = m[ms], m2 = m[2 * ms], m3 = m[3 * ms], m4 = m[4 * ms], m5 = m[5 * ms];
  const vf p12 = m1 + m2, d12 = m1 - m2, p34 = m3 + m4, d34 = m3 - m4;
  o[0] = m0 + p12 + p34;
  o[os] = d12 + broadcast(2.f) * d34;
  o[2 * os] = p12 + broadcast(4.f) * p34;
  o[3 * os] = d12 + broadcast(8.f) * d34 + m5;
}

// A applied to 4 vectors 'stride' apart: u -> 6 (the output-gradient transform).
inline void a4(const vf* u, int us, vf* o, int os) {
  const vf u0 = u[0], u1 = u[us], u2 = u[2 * us], u3 = u[3 * us];
  const vf p02 = u0 + u2, p13 = u1 + u3;
  const vf q02 = u0 + broadcast(4.f) * u2, q13 = broadcast(2.f) * u1 + broadcast(8.f) * u3;
  o[0] = u0;
  o[os] = p02 + p13;
  o[2 * os] = p02 - p13;
  o[3 * os] = q02 + q13;
  o[4 * os] = q02 - q13;
  o[5 * os] = u3;
}

// G applied to 3 vectors (Lavin's F(4,3) kernel transform, one channel pair per lane): g -> 6 vectors.
inline void g3(vf g0, vf g1, vf g2, vf* t, int ts) {
  const vf even = g0 + g2, q0 = g0 * broadcast(1.f / 24), q2 = g2 * broadcast(1.f / 6);
  t[0] = g0 * broadcast(0.25f);
  t[ts] = -(even + g1) * broadcast(1.f / 6);
  t[2 * ts] = -(even - g1) * broadcast(1.f / 6);
  t[3 * ts] = q0 + g1 * broadcast(1.f / 12) + q2;
  t[4 * ts] = q0 - g1 * broadcast(1.f / 12) + q2;
  t[5 * ts] = g2;
}

// w: (K,C,3,3) -> U: (36, Kp/rk, C, rk) = G g G^T for the output-channel blocks [kb0, kb1) (in
// channels, multiples of rk), zero for output channels >= K; positions estride floats apart. With
// `flip`, the input gradient's kernel: output channels C, input channels K, each rotated 180 degrees.
// A block's (input, output) pairs are W to a vector: 9 gathers, the transform in vector code and 36
// whole-vector stores (one value at a time it was a sixth of a small-batch ResNet-20 inference).
inline void wino_weights(const float* w, int64_t K, int64_t C, bool flip, int64_t rk, int64_t kb0, int64_t kb1,
                         int64_t estride, float* U) {
  const int64_t outs = flip ? C : K, ins = flip ? K : C, pairs = rk * ins;
  vf g[9], gg[18], u[36];
  alignas(64) int32_t base[W];
  for (int64_t kb = kb0; kb < kb1; kb += rk) {
    float* dst = U + kb * ins;
    int64_t i = 0, r = 0;  // the input channel and block row of pair p0 + l, p = i * rk + r
    for (int64_t p0 = 0; p0 < pairs; p0 += W) {
      uint32_t mask = 0;
      for (int l = 0; l < W; ++l) {
        const int64_t o = kb + r;
        const bool valid = p0 + l < pairs && o < outs;
        base[l] = valid ? static_cast<int32_t>((flip ? i * C + o : o * C + i) * 9) : 0;
        if (valid) mask |= 1u << l;
        if (++r == rk) r = 0, ++i;
      }
      for (int t = 0; t < 9; ++t) g[t] = gather_masked(w + (flip ? 8 - t : t), base, mask);
      for (int b = 0; b < 3; ++b) g3(g[b], g[3 + b], g[6 + b], gg + b, 3);                  // G g: (6,3)
      for (int e = 0; e < 6; ++e) g3(gg[e * 3], gg[e * 3 + 1], gg[e * 3 + 2], u + e * 6, 1);  // (G g) G^T
      const int64_t n = std::min<int64_t>(W, pairs - p0);
      for (int e = 0; e < 36; ++e) store_n(dst + e * estride + p0, u[e], n);
    }
  }
}

// The SxS patches of a row group's tiles in one channel through a 2-D transform to 6x6: each patch
// row through tf as it is gathered, then each column through tf as it is stored (out: 36 positions
// estride floats apart). tf(in, in_stride, out, out_stride) maps S vectors to 6 (bt6: the input
// transform, a4: the output-gradient one). Row by row, fewer values are live than with the whole
// patch and a whole first pass (those spilled to the stack).
template <int R, int S, typename Transform>
inline void transform_rows_then_columns(const RowGroup& rg, const float* plane, int64_t image_stride, int64_t rows,
                                        int64_t width, int64_t pad, Transform tf, float* out, int64_t estride) {
  vf t[S * 6];
#pragma GCC unroll 6
  for (int i = 0; i < S; ++i) {
    vf row[S];
    patch_row<R, S>(rg, plane, image_stride, rows, width, pad, i, row);
    tf(row, 1, t + i * 6, 1);
  }
#pragma GCC unroll 6
  for (int j = 0; j < 6; ++j) {
    vf col[6];
    tf(t + j, 6, col, 1);
#pragma GCC unroll 6
    for (int r = 0; r < 6; ++r) store(out + (r * 6 + j) * estride, col[r]);
  }
}

// The input transforms of a row group's tiles in every channel -> V (lane l of each vector: tile l).
// One function per R, apart from the gather path: each keeps a small stack frame of its own.
template <int R>
__attribute__((noinline)) void input_rows(const WinoGeom& g, const RowGroup& rg, const float* x, int64_t estride,
                                          int64_t cstride, float* V) {
  const int64_t plane = g.H * g.W;
  for (int64_t c = 0; c < g.C; ++c) {
    if (c + kPrefetchChannels < g.C)
      prefetch_group(rg, x + (c + kPrefetchChannels) * plane, g.C * plane, g.H, g.W, g.pad_h, 6);
    transform_rows_then_columns<R, 6>(rg, x + c * plane, g.C * plane, g.H, g.W, g.pad_h,
                                      [](const vf* d, int ds, vf* b, int bs) { bt6(d, ds, b, bs); }, V + c * cstride,
                                      estride);
  }
}

// x: (N,C,H,W) -> V: (36,C,TB) with positions estride and channels cstride floats apart, tiles
// t0..t0+count in lanes 0..count-1, zero beyond.
inline void wino_input(const WinoGeom& g, const float* x, int64_t t0, int64_t count, int64_t estride, int64_t cstride,
                       float* V) {
  vf d[36], rows[36];
  const int64_t plane = g.H * g.W;
  for (int v = 0; v < NV; ++v) {
    RowGroup rg;
    if (row_group(g, t0, count, v, g.W, g.pad_w, rg)) {
      with_rows(rg.rows, [&](auto R) { input_rows<R>(g, rg, x, estride, cstride, V + v * W); });
      continue;
    }
    Lanes ln;
    make_lanes(g, t0, count, v, g.C, 0, ln);
    uint32_t mask[36];
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 6; ++j) mask[i * 6 + j] = ln.in_rows[i] & ln.in_cols[j];
    for (int64_t c = 0; c < g.C; ++c) {
      const float* base = x + c * plane;
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) d[i * 6 + j] = gather_masked(base + i * g.W + j, ln.in, mask[i * 6 + j]);
      for (int j = 0; j < 6; ++j) bt6(d + j, 6, rows + j, 6);          // columns: B^T d
      for (int i = 0; i < 6; ++i) bt6(rows + i * 6, 1, d + i * 6, 1);  // rows: (B^T d) B
      for (int e = 0; e < 36; ++e) store(V + e * estride + c * cstride + v * W, d[e]);
    }
  }
}

// U: (36, Kp/RK, C, RK), V: (36,C,TB) -> M: (36,Kp,TB), positions us, vs and ms floats apart
inline void wino_gemm(const float* U, int64_t us, const float* V, int64_t vs, int64_t C, int64_t Kp, float* M,
                      int64_t ms) {
  for (int e = 0; e < 36; ++e) {
    const float* Ve = V + e * vs;
    for (int64_t kb = 0; kb < Kp; kb += RK) {
      const float* u = U + e * us + kb * C;
      vf acc[RK][NV];
#pragma GCC unroll 8
      for (int r = 0; r < RK; ++r)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[r][j] = vf{};
      for (int64_t c = 0; c < C; ++c) {
        vf b[NV];
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) b[j] = load_aligned(Ve + c * TB + j * W);
#pragma GCC unroll 8
        for (int r = 0; r < RK; ++r) {
          const vf a = broadcast(u[c * RK + r]);
#pragma GCC unroll 4
          for (int j = 0; j < NV; ++j) acc[r][j] += a * b[j];
        }
      }
      float* out = M + e * ms + kb * TB;
#pragma GCC unroll 8
      for (int r = 0; r < RK; ++r)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) store(out + r * TB + j * W, acc[r][j]);
    }
  }
}

// M: (36,K,TB), positions ms floats apart -> y: (N,K,P,Q) for tiles t0..t0+count and channels
// [k0,k1), + bias (or null), + residual (y's shape, or null; rounded as a separate add), then ReLU
// when `relu`. The residual is read as the outputs are stored, not in a second pass over y.
inline void wino_output(const WinoGeom& g, const float* M, int64_t ms, int64_t K, int64_t k0, int64_t k1, int64_t t0,
                        int64_t count, const float* bias, const float* residual, bool relu, float* y) {
  vf t[24], o[16];
  const int64_t plane = g.P * g.Q;
  for (int v = 0; v < NV; ++v) {
    Lanes ln;
    make_lanes(g, t0, count, v, 0, K, ln);
    if (ln.any == 0) break;
    const RowStores rs = plan_row_stores(ln);
    uint32_t mask[16];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) mask[i * 4 + j] = ln.out_rows[i] & ln.out_cols[j];
    for (int64_t k = k0; k < k1; ++k) {
      // Column by column, each loaded just before its transform: all 36 loaded first (and t, o
      // beside them) did not fit the registers, and the spills were a large part of the pass.
      const float* Mk = M + k * TB + v * W;
#pragma GCC unroll 6
      for (int j = 0; j < 6; ++j) {
        vf col[6];
#pragma GCC unroll 6
        for (int r = 0; r < 6; ++r) col[r] = load_aligned(Mk + (r * 6 + j) * ms);
        at6(col, 1, t + j, 6);  // columns: A^T m -> t: (4,6)
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) at6(t + i * 6, 1, o + i * 4, 1);  // rows: (A^T m) A -> (4,4)
      const vf bv = broadcast(bias ? bias[k] : 0.f);
      for (int e = 0; e < 16; ++e) {
        o[e] += bv;
        if (relu && !residual) o[e] = vrelu(o[e]);
      }
      float* base = y + k * plane;
      const float* rbase = residual ? residual + k * plane : nullptr;
      if (rs.ok) {
        store_tile_rows(rs, o, g.Q, base, OutputJoin{rbase, relu});
      } else {
        if (rbase)
          for (int e = 0; e < 16; ++e) {
            o[e] += gather_masked(rbase + e / 4 * g.Q + e % 4, ln.out, mask[e]);
            if (relu) o[e] = vrelu(o[e]);
          }
        for (int e = 0; e < 16; ++e) scatter_masked(base + e / 4 * g.Q + e % 4, ln.out, mask[e], o[e]);
      }
    }
  }
}

// The output-gradient transforms of a row group's tiles in every channel -> Gt (lane l: tile l).
template <int R>
__attribute__((noinline)) void grad_tile_rows(const WinoGeom& g, const RowGroup& rg, const float* gy, int64_t K,
                                              int64_t estride, int64_t kstride, float* Gt) {
  const int64_t plane = g.P * g.Q;
  for (int64_t k = 0; k < K; ++k) {
    if (k + kPrefetchChannels < K) prefetch_group(rg, gy + (k + kPrefetchChannels) * plane, K * plane, g.P, g.Q, 0, 4);
    transform_rows_then_columns<R, 4>(rg, gy + k * plane, K * plane, g.P, g.Q, 0,
                                      [](const vf* u, int us, vf* o, int os) { a4(u, us, o, os); }, Gt + k * kstride,
                                      estride);
  }
}

// gy: (N,K,P,Q) -> Gt: (36,K,TB) with positions estride and channels kstride floats apart = A u A^T
// of the 4x4 tiles t0..t0+count (zero past P, Q and count).
inline void wino_grad_tiles(const WinoGeom& g, const float* gy, int64_t K, int64_t t0, int64_t count, int64_t estride,
                            int64_t kstride, float* Gt) {
  vf u[16], t[24], o[36];
  const int64_t plane = g.P * g.Q;
  for (int v = 0; v < NV; ++v) {
    RowGroup rg;
    if (row_group(g, t0, count, v, g.Q, 0, rg)) {
      with_rows(rg.rows, [&](auto R) { grad_tile_rows<R>(g, rg, gy, K, estride, kstride, Gt + v * W); });
      continue;
    }
    Lanes ln;
    make_lanes(g, t0, count, v, 0, K, ln);
    uint32_t mask[16];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) mask[i * 4 + j] = ln.out_rows[i] & ln.out_cols[j];
    for (int64_t k = 0; k < K; ++k) {
      const float* base = gy + k * plane;
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) u[i * 4 + j] = gather_masked(base + i * g.Q + j, ln.out, mask[i * 4 + j]);
      for (int j = 0; j < 4; ++j) a4(u + j, 4, t + j, 4);          // columns: A u -> t: (6,4)
      for (int i = 0; i < 6; ++i) a4(t + i * 4, 1, o + i * 6, 1);  // rows: (A u) A^T -> (6,6)
      for (int e = 0; e < 36; ++e) store(Gt + e * estride + k * kstride + v * W, o[e]);
    }
  }
}

// Tiles the weight-gradient GEMM sums at a time: a 4-row panel of them is 16 KB, so a panel stays
// in L1 while the other operand's panels stream past it.
constexpr int64_t kWgradTiles = 1024;

// dWv[k0.., c0.., lane] += (= when !accumulate: dWv not read) sum over tiles [l0, l1) with
// l % W == lane of Gt[k][l] * V[c][l], for a BK x BC block (rows L apart). The sums stay per lane
// across calls (no horizontal sum per call), so a chunk of tiles may be short, and each lane adds its
// tiles in order of l however they are chunked.
template <int BK, int BC>
inline void wgrad_block(const float* Gt, const float* V, int64_t L, int64_t C, int64_t k0, int64_t c0, int64_t l0,
                        int64_t l1, bool accumulate, float* dWv) {
  vf acc[BK][BC];
#pragma GCC unroll 4
  for (int i = 0; i < BK; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < BC; ++j) acc[i][j] = accumulate ? load_aligned(dWv + ((k0 + i) * C + c0 + j) * W) : vf{};
  const float* gk = Gt + k0 * L;
  const float* vc = V + c0 * L;
  for (int64_t l = l0; l < l1; l += W) {
    vf gv[BK], xv[BC];
#pragma GCC unroll 4
    for (int i = 0; i < BK; ++i) gv[i] = load_aligned(gk + i * L + l);
#pragma GCC unroll 4
    for (int j = 0; j < BC; ++j) xv[j] = load_aligned(vc + j * L + l);
#pragma GCC unroll 4
    for (int i = 0; i < BK; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < BC; ++j) acc[i][j] += gv[i] * xv[j];
  }
#pragma GCC unroll 4
  for (int i = 0; i < BK; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < BC; ++j) store(dWv + ((k0 + i) * C + c0 + j) * W, acc[i][j]);
}

// Gt: (36,K,L), V: (36,C,L), positions gs and vs floats apart, L a multiple of TB
//   -> dWt += Gt_e V_e^T (= when !accumulate: dWt not read), for e in [e0,e1): dWt (36,K,C) from
//   kWinoWgradGemmPairs channel pairs (the packed GEMM, isa/gemm.h, which packs both operands once
//   per KC tiles), else per-lane partial sums (36,K,C,W) (wgrad_block: fewer pairs than that leave
//   the GEMM's packing unpaid).
inline void wino_wgrad_gemm(const float* Gt, int64_t gs, const float* V, int64_t vs, int64_t L, int64_t K, int64_t C,
                            int64_t e0, int64_t e1, bool accumulate, float* dWt) {
  const bool lanes = K * C < kWinoWgradGemmPairs;
  for (int64_t e = e0; e < e1; ++e) {
    const float* Ge = Gt + e * gs;
    const float* Ve = V + e * vs;
    if (!lanes) {
      sgemm_serial(false, true, K, C, L, 1.f, Ge, L, Ve, L, accumulate ? 1.f : 0.f, dWt + e * K * C, C);
      continue;
    }
    float* dW = dWt + e * K * C * W;
    for (int64_t l0 = 0; l0 < L; l0 += kWgradTiles) {
      const int64_t l1 = std::min(L, l0 + kWgradTiles);
      const bool acc = accumulate || l0 > 0;
      int64_t k = 0;
      for (; k + WK <= K; k += WK) {
        int64_t c = 0;
        for (; c + WC <= C; c += WC) wgrad_block<WK, WC>(Ge, Ve, L, C, k, c, l0, l1, acc, dW);
        for (; c < C; ++c) wgrad_block<WK, 1>(Ge, Ve, L, C, k, c, l0, l1, acc, dW);
      }
      for (; k < K; ++k) {
        int64_t c = 0;
        for (; c + WC <= C; c += WC) wgrad_block<1, WC>(Ge, Ve, L, C, k, c, l0, l1, acc, dW);
        for (; c < C; ++c) wgrad_block<1, 1>(Ge, Ve, L, C, k, c, l0, l1, acc, dW);
      }
    }
  }
}

// dWt: (36, pairs), positions `pairs` floats apart -> dw: (pairs, 3, 3) = G^T dWt G for the pairs
// [q0, q1), W pairs a vector, in double (each pair's sums in the same order of terms, so any split
// of the pairs gives the same bits).
inline void wino_wgrad_out(const float* dWt, int64_t pairs, int64_t q0, int64_t q1, float* dw) {
  typedef double vd __attribute__((vector_size(W * sizeof(double))));
  static const double GT[3][6] = {{0.25, -1.0 / 6, -1.0 / 6, 1.0 / 24, 1.0 / 24, 0},
                                  {0, -1.0 / 6, 1.0 / 6, 1.0 / 12, -1.0 / 12, 0},
                                  {0, -1.0 / 6, -1.0 / 6, 1.0 / 6, 1.0 / 6, 1}};
  for (int64_t q = q0; q < q1; q += W) {
    const int64_t n = std::min<int64_t>(W, q1 - q);
    vd t[3][6];
    for (int f = 0; f < 6; ++f) {
      vd d[6];
      for (int e = 0; e < 6; ++e) d[e] = __builtin_convertvector(load_n(dWt + (e * 6 + f) * pairs + q, n), vd);
      for (int r = 0; r < 3; ++r) {
        vd acc = vd{};
        for (int e = 0; e < 6; ++e) acc += GT[r][e] * d[e];
        t[r][f] = acc;
      }
    }
    alignas(64) float out[9][W];
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) {
        vd acc = vd{};
        for (int f = 0; f < 6; ++f) acc += t[r][f] * GT[c][f];
        store(out[r * 3 + c], __builtin_convertvector(acc, vf));
      }
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < 9; ++j) dw[(q + i) * 9 + j] = out[j][i];
  }
}

}  // namespace wino

using wino::wino_gemm;
using wino::wino_weights;
using wino::wino_grad_tiles;
using wino::wino_input;
using wino::wino_output;
using wino::wino_wgrad_gemm;
using wino::wino_wgrad_out;

}  // namespace dlf::DLF_ISA_NS
