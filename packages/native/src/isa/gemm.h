// Blocked single-precision GEMM: panels of A and B are packed into contiguous, aligned buffers and a
// register-blocked MR x NR micro-kernel accumulates in vector registers (BLIS-style loop order).
#pragma once
#include <algorithm>
#include <cstdlib>
#include <new>

#include "isa/relu.h"
#include "isa/simd.h"
#include "runtime/threadpool.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

#if defined(__AVX512F__)
constexpr int MR = 8;
constexpr int NR = 2 * W;  // 8 x 32: 16 accumulators; batch-sized M (64, 128) has no ragged tile
#elif defined(__AVX2__) || defined(DLF_SIMD_NEON)
constexpr int MR = 6;
constexpr int NR = 2 * W;  // 6 x 16 (AVX2) or 6 x 8 (NEON): 12 accumulators
#else
constexpr int MR = 4;
constexpr int NR = 2 * W;  // 4 x 8
#endif
constexpr int64_t KC = 256;
constexpr int64_t kShortK = 64;  // sums of at most this many products walk C by rows (sgemm_serial)
constexpr int64_t MC = MR * 16;
constexpr int64_t NC = NR * 64;

// Columns of B and C in segments (a batch of images side by side without copying them together):
// columns [s*cols, (s+1)*cols) of B start at B + s*b_stride, of C at C + s*c_stride; rows keep
// their ldb / ldc. cols is a multiple of NR, so no micro-panel straddles two segments. cols == 0:
// plain matrices.
struct Segments {
  int64_t cols = 0, b_stride = 0, c_stride = 0;
  // Where column j of a matrix with this segmentation starts (stride: b_stride or c_stride).
  int64_t offset(int64_t j, int64_t stride) const { return cols ? j / cols * stride + j % cols : j; }
};

struct PackBuffers {
  float* a = nullptr;
  float* b = nullptr;
  PackBuffers() {
    a = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
    b = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * KC * NC));
    if (!a || !b) {
      std::free(a);
      std::free(b);
      throw std::bad_alloc();
    }
  }
  ~PackBuffers() {
    std::free(a);
    std::free(b);
  }
};

inline PackBuffers& pack_buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

// r[0..W) <- their transpose (row i lane k <- row k lane i): log2(W) rounds of interleaving each
// vector with the one W/2 further on. The packs below use it where they read rows across k.
inline void transpose_square(vf* r) {
  vi lo, hi;
  for (int e = 0; e < W; ++e) {
    lo[e] = (e % 2 ? W : 0) + e / 2;
    hi[e] = (e % 2 ? W : 0) + W / 2 + e / 2;
  }
  for (int round = W; round > 1; round /= 2) {
    vf t[W];
#pragma GCC unroll 16
    for (int j = 0; j < W / 2; ++j) {
      t[2 * j] = __builtin_shuffle(r[j], r[j + W / 2], lo);
      t[2 * j + 1] = __builtin_shuffle(r[j], r[j + W / 2], hi);
    }
#pragma GCC unroll 16
    for (int j = 0; j < W; ++j) r[j] = t[j];
  }
}

// Packs op(A)[i0:i0+mc, k0:k0+kc] into MR-row panels, k-major, zero-padded.
inline void pack_a(bool ta, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t k0, int64_t kc,
                   float* out) {
  int64_t ip = 0;
  // Rows along k: W rows (W / MR whole panels) x W values of k transposed in registers at a time.
  if (!ta && W % MR == 0) {
    const vi down = [] {
      vi m;
      for (int e = 0; e < W; ++e) m[e] = (e + MR) % W;
      return m;
    }();
    for (; ip + W <= mc; ip += W) {
      const float* src = A + (i0 + ip) * lda + k0;
      int64_t k = 0;
      for (; k + W <= kc; k += W) {
        vf r[W];
#pragma GCC unroll 16
        for (int i = 0; i < W; ++i) r[i] = load(src + i * lda + k);
        transpose_square(r);
        for (int j = 0; j < W; ++j) {
          vf v = r[j];  // k + j: rows ip .. ip + W - 1, MR of them per panel
          for (int q = 0; q < W / MR; ++q, v = __builtin_shuffle(v, v, down))
            store_first(out + (ip + q * MR) * kc + (k + j) * MR, v, MR);
        }
      }
      for (; k < kc; ++k)
        for (int i = 0; i < W; ++i) out[(ip + i / MR * MR) * kc + k * MR + i % MR] = src[i * lda + k];
    }
  }
  for (; ip < mc; ip += MR) {
    const int64_t rows = std::min<int64_t>(MR, mc - ip);
    float* panel = out + ip * kc;
    if (!ta) {
      for (int64_t r = 0; r < MR; ++r) {
        if (r < rows) {
          const float* src = A + (i0 + ip + r) * lda + k0;
          for (int64_t k = 0; k < kc; ++k) panel[k * MR + r] = src[k];
        } else {
          for (int64_t k = 0; k < kc; ++k) panel[k * MR + r] = 0.f;
        }
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = A + (k0 + k) * lda + i0 + ip;
        float* dst = panel + k * MR;
        int64_t r = 0;
        for (; r < rows; ++r) dst[r] = src[r];
        for (; r < MR; ++r) dst[r] = 0.f;
      }
    }
  }
}

// Packs op(B)[k0:k0+kc, j0:j0+nc] into NR-column panels, k-major, zero-padded.
inline void pack_b(bool tb, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                   float* out, const Segments& seg = Segments{}) {
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - jp);
    float* panel = out + jp * kc;
    if (!tb) {
      const float* col0 = B + seg.offset(j0 + jp, seg.b_stride);
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = col0 + (k0 + k) * ldb;
        float* dst = panel + k * NR;
        if (cols == NR) {
          for (int v = 0; v < NR / W; ++v) store(dst + v * W, load(src + v * W));
        } else {
          int64_t c = 0;
          for (; c < cols; ++c) dst[c] = src[c];
          for (; c < NR; ++c) dst[c] = 0.f;
        }
      }
    } else if (cols % W == 0) {
      // Transposed: W source rows x W values of k transposed in registers at a time (a ragged panel
      // of whole vectors too, its other columns zero: 144 output channels are 4.5 panels, and the
      // element loop below took a seventh of a 1x1 layer's weight gradient).
      const float* src = B + (j0 + jp) * ldb + k0;
      int64_t kb = 0;
      for (; kb + W <= kc; kb += W)
        for (int c0 = 0; c0 < NR; c0 += W) {
          if (c0 >= cols) {
            for (int k = 0; k < W; ++k) store(panel + (kb + k) * NR + c0, vf{});
            continue;
          }
          vf r[W];
#pragma GCC unroll 16
          for (int i = 0; i < W; ++i) r[i] = load(src + (c0 + i) * ldb + kb);
          transpose_square(r);
#pragma GCC unroll 16
          for (int k = 0; k < W; ++k) store(panel + (kb + k) * NR + c0, r[k]);
        }
      for (; kb < kc; ++kb)
        for (int64_t c = 0; c < NR; ++c) panel[kb * NR + c] = c < cols ? src[c * ldb + kb] : 0.f;
    } else {
      // Transposed, a ragged panel: NR source rows are read side by side in blocks of 8 k, so every
      // write fills a whole panel row and every source line is used while it is in L1.
      const float* src = B + (j0 + jp) * ldb + k0;
      for (int64_t kb = 0; kb < kc; kb += 8) {
        const int64_t kn = std::min<int64_t>(8, kc - kb);
        for (int64_t c = 0; c < NR; ++c) {
          if (c < cols) {
            const float* s = src + c * ldb + kb;
            for (int64_t k = 0; k < kn; ++k) panel[(kb + k) * NR + c] = s[k];
          } else {
            for (int64_t k = 0; k < kn; ++k) panel[(kb + k) * NR + c] = 0.f;
          }
        }
      }
    }
  }
}

// C[0:mr, 0:nr] += alpha * Ap(MR x kc) * Bp(kc x NR, rows bs floats apart: NR when packed), or = when
// `overwrite` (C's contents unread); then + bias[i] on row i (bias null: none) and ReLU when `relu`
// (the last block of sums)
inline void micro_kernel(int64_t kc, const float* __restrict Ap, const float* __restrict Bp, int64_t bs, float* C,
                         int64_t ldc, int64_t mr, int64_t nr, float alpha, bool overwrite, const float* bias,
                         bool relu) {
  constexpr int NV = NR / W;
  vf acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = vf{};
  for (int64_t k = 0; k < kc; ++k) {
    vf b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = load(Bp + k * bs + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const vf a = broadcast(Ap[k * MR + i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += a * b[v];
    }
  }
  const vf va = broadcast(alpha);
  if (mr == MR && nr == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const vf bv = broadcast(bias ? bias[i] : 0.f);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* c = C + i * ldc + v * W;
        vf r = overwrite ? va * acc[i][v] : load(c) + va * acc[i][v];
        if (bias) r += bv;
        store(c, relu ? vrelu(r) : r);
      }
    }
  } else {
    alignas(64) float tile[MR * NR];
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < NV; ++v) store(tile + i * NR + v * W, acc[i][v]);
    for (int64_t i = 0; i < mr; ++i)
      for (int64_t j = 0; j < nr; ++j) {
        float r = (overwrite ? 0.f : C[i * ldc + j]) + alpha * tile[i * NR + j];
        if (bias) r += bias[i];
        C[i * ldc + j] = relu ? relu_value(r) : r;
      }
  }
}

inline void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  if (beta == 1.f) return;
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.f) {
      std::fill(row, row + N, 0.f);
    } else {
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
    }
  }
}

// Single-threaded GEMM on a sub-problem.
inline void sgemm_serial(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                         int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                         const Segments& seg = Segments{}, GemmEpilogue ep = {}) {
  const int64_t step = seg.cols ? seg.cols : N;  // segment by segment (plain matrices: one segment)
  if (K == 0 || alpha == 0.f || beta != 0.f)
    for (int64_t j = 0; j < N; j += step) scale_c(M, std::min(step, N - j), beta, C + seg.offset(j, seg.c_stride), ldc);
  if (K == 0 || alpha == 0.f) {  // no products: the epilogue on C as scaled
    if (!ep.bias && !ep.relu) return;
    for (int64_t j = 0; j < N; j += step)
      for (int64_t i = 0; i < M; ++i) {
        float* row = C + i * ldc + seg.offset(j, seg.c_stride);
        for (int64_t c = 0; c < std::min(step, N - j); ++c) {
          const float r = row[c] + (ep.bias ? ep.bias[i] : 0.f);
          row[c] = ep.relu ? relu_value(r) : r;
        }
      }
    return;
  }
  // beta == 0: the first k-block overwrites C (no zero fill); otherwise C was scaled above.
  const bool zero_c = beta == 0.f;
  PackBuffers& buf = pack_buffers();
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    // Short sums over rows of B that already hold whole micro-panels side by side (B not transposed,
    // full panels): the micro-kernel reads them in place instead of a packed copy of all of B.
    const bool direct = !tb && nc % NR == 0 && K <= kShortK;
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      if (!direct) pack_b(tb, B, ldb, pc, kc, jc, nc, buf.b, seg);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        pack_a(ta, A, lda, ic, mc, pc, kc, buf.a);
        const auto tile = [&](int64_t ir, int64_t jr) {
          const int64_t mr = std::min<int64_t>(MR, mc - ir), nr = std::min<int64_t>(NR, nc - jr);
          const float* bp = direct ? B + pc * ldb + seg.offset(jc + jr, seg.b_stride) : buf.b + jr * kc;
          const bool last = pc + kc >= K;
          micro_kernel(kc, buf.a + ir * kc, bp, direct ? ldb : NR,
                       C + (ic + ir) * ldc + seg.offset(jc + jr, seg.c_stride), ldc, mr, nr, alpha, zero_c && pc == 0,
                       last && ep.bias ? ep.bias + ic + ir : nullptr, last && ep.relu);
        };
        if (kc <= kShortK) {
          // Short sums: writing C costs more than the products, so tiles go along C's rows, where
          // the hardware prefetcher follows the writes (down the columns, each tile's rows were
          // lines of new pages: a 1x1 layer's input gradient, 144 <- 24 channels on 32x32 planes,
          // ran at 16% of peak).
          for (int64_t ir = 0; ir < mc; ir += MR)
            for (int64_t jr = 0; jr < nc; jr += NR) tile(ir, jr);
        } else {
          // B's micro-panel stays in L1 while A's panels pass.
          for (int64_t jr = 0; jr < nc; jr += NR)
            for (int64_t ir = 0; ir < mc; ir += MR) tile(ir, jr);
        }
      }
    }
  }
}

// C_s = op(A) * B_s for segments s < count of `cols` columns each (Segments above; B not transposed),
// as one serial GEMM of count * cols columns when cols is a multiple of NR, else one per segment.
// beta = 0.
inline void sgemm_segments(bool ta, int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                           int64_t b_stride, float* C, int64_t ldc, int64_t c_stride, int64_t count, int64_t cols,
                           GemmEpilogue ep) {
  if (M <= 0 || count <= 0 || cols <= 0) return;
  if (cols % NR != 0) {
    for (int64_t s = 0; s < count; ++s)
      sgemm_serial(ta, false, M, cols, K, 1.f, A, lda, B + s * b_stride, ldb, 0.f, C + s * c_stride, ldc, Segments{},
                   ep);
    return;
  }
  sgemm_serial(ta, false, M, count * cols, K, 1.f, A, lda, B, ldb, 0.f, C, ldc, Segments{cols, b_stride, c_stride}, ep);
}

inline void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc, GemmEpilogue ep) {
  if (M <= 0 || N <= 0) return;
  const double work = static_cast<double>(M) * N * std::max<int64_t>(K, 1);
  const int threads = dlf::num_threads();
  if (threads <= 1 || work < 64.0 * 64 * 64) {
    sgemm_serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, Segments{}, ep);
    return;
  }
  // Split along the longer side of C, in whole micro-tiles, one slice per thread.
  if (N / NR >= M / MR) {
    const int64_t tiles = (N + NR - 1) / NR;
    dlf::parallel_for(tiles, 1, [&](int64_t t0, int64_t t1) {
      const int64_t j0 = t0 * NR, j1 = std::min(N, t1 * NR);
      const float* Bj = tb ? B + j0 * ldb : B + j0;
      sgemm_serial(ta, tb, M, j1 - j0, K, alpha, A, lda, Bj, ldb, beta, C + j0, ldc, Segments{}, ep);
    });
  } else {
    const int64_t tiles = (M + MR - 1) / MR;
    dlf::parallel_for(tiles, 1, [&](int64_t t0, int64_t t1) {
      const int64_t i0 = t0 * MR, i1 = std::min(M, t1 * MR);
      const float* Ai = ta ? A + i0 : A + i0 * lda;
      sgemm_serial(ta, tb, i1 - i0, N, K, alpha, Ai, lda, B, ldb, beta, C + i0 * ldc, ldc, Segments{},
                   GemmEpilogue{ep.bias ? ep.bias + i0 : nullptr, ep.relu});
    });
  }
}

}  // namespace dlf::DLF_ISA_NS
