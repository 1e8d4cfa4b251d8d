// 2x2 max and average pooling with stride 2 and no padding, the pooling of small vision models. W output
// columns at a time: two vectors of each of the two input rows are split into even and odd
// columns with shuffles, so each output vector takes the maximum of four candidate vectors.
// Ties and NaN follow the general path in nn/pool.cc exactly: the first maximal element of the
// window in row-major order wins, and the first NaN wins over everything.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "isa/gemm.h"
#include "isa/kernels.h"
#include "isa/simd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace pool {

// Vectors of N floats / int32 (N = W, W/2 or W/4: narrow planes use narrower vectors).
// (GCC ignores vector_size on a typedef that depends on a template parameter, hence the table.)
typedef float f4 __attribute__((vector_size(16)));
typedef float f8 __attribute__((vector_size(32)));
typedef float f16 __attribute__((vector_size(64)));
typedef float f4u __attribute__((vector_size(16), aligned(4)));
typedef float f8u __attribute__((vector_size(32), aligned(4)));
typedef float f16u __attribute__((vector_size(64), aligned(4)));
typedef int32_t i4 __attribute__((vector_size(16)));
typedef int32_t i8 __attribute__((vector_size(32)));
typedef int32_t i16 __attribute__((vector_size(64)));
typedef int32_t i4u __attribute__((vector_size(16), aligned(4)));
typedef int32_t i8u __attribute__((vector_size(32), aligned(4)));
typedef int32_t i16u __attribute__((vector_size(64), aligned(4)));
template <int N>
struct VT;
template <>
struct VT<4> {
  typedef f4 f;
  typedef f4u fu;
  typedef i4 i;
  typedef i4u iu;
};
template <>
struct VT<8> {
  typedef f8 f;
  typedef f8u fu;
  typedef i8 i;
  typedef i8u iu;
};
template <>
struct VT<16> {
  typedef f16 f;
  typedef f16u fu;
  typedef i16 i;
  typedef i16u iu;
};

template <int N>
struct V {
  typedef typename VT<N>::f f;
  typedef typename VT<N>::fu fu;
  typedef typename VT<N>::i i;
  typedef typename VT<N>::iu iu;
  static f load(const float* p) { return *reinterpret_cast<const fu*>(p); }
  static void store(float* p, f v) { *reinterpret_cast<fu*>(p) = v; }
  static i loadi(const int32_t* p) { return *reinterpret_cast<const iu*>(p); }
  static void storei(int32_t* p, i v) { *reinterpret_cast<iu*>(p) = v; }
  static i iota(int32_t step, int32_t add) {
    i m;
    for (int j = 0; j < N; ++j) m[j] = step * j + add;
    return m;
  }
  // Interleaves (e0 o0 e1 o1 ...) from the low (half 0) or high (half 1) halves of e and o.
  static i zip(int half) {
    i m;
    for (int j = 0; j < N; ++j) m[j] = (j % 2 == 0 ? 0 : N) + half * (N / 2) + j / 2;
    return m;
  }
};

// Zeroes what no 2x2 window reaches: a pair of rows' columns from 2Q on (width Win).
inline void clear_past_windows(float* r0, float* r1, int64_t Q, int64_t Win) {
  if (2 * Q >= Win) return;
  std::memset(r0 + 2 * Q, 0, sizeof(float) * static_cast<size_t>(Win - 2 * Q));
  std::memset(r1 + 2 * Q, 0, sizeof(float) * static_cast<size_t>(Win - 2 * Q));
}

// One output (scalar), same rules as the vector code.
inline void window1(const float* r0, const float* r1, int64_t base, int64_t Win, float* y, int32_t* am) {
  const float c[4] = {r0[0], r0[1], r1[0], r1[1]};
  const int64_t idx[4] = {base, base + 1, base + Win, base + Win + 1};
  float best = c[0];
  int64_t bi = idx[0];
  for (int j = 1; j < 4; ++j) {
    if (c[j] > best || (std::isnan(c[j]) && !std::isnan(best))) {
      best = c[j];
      bi = idx[j];
    }
  }
  *y = best;
  if (am) *am = static_cast<int32_t>(bi);
}

template <int N>
void maxpool_fwd(const float* x, int64_t planes, int64_t H, int64_t Win, int64_t P, int64_t Q, float* y,
                 int32_t* argmax, int64_t xs, int64_t ys) {
  using v = V<N>;
  using vf = typename v::f;
  using vi = typename v::i;
  const vi em = v::iota(2, 0), om = v::iota(2, 1), lane2 = v::iota(2, 0);
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * xs;
    float* yp = y + pl * ys;
    int32_t* ap = argmax ? argmax + pl * ys : nullptr;
    for (int64_t oh = 0; oh < P; ++oh) {
      const float* r0 = xp + 2 * oh * Win;
      const float* r1 = r0 + Win;
      float* yr = yp + oh * Q;
      int32_t* ar = ap ? ap + oh * Q : nullptr;
      // Whole vectors; a ragged end as one more vector over the last N outputs (rewriting some with
      // the same values: its reads end at 2Q <= Win), scalar only for rows narrower than a vector.
      for (int64_t next = 0; next < Q;) {
        const int64_t ow = next + N <= Q ? next : Q - N;
        if (ow < 0) {
          for (int64_t o = next; o < Q; ++o)
            window1(r0 + 2 * o, r1 + 2 * o, 2 * oh * Win + 2 * o, Win, yr + o, ar ? ar + o : nullptr);
          break;
        }
        next = ow + N;
        const vf a0 = v::load(r0 + 2 * ow), a1 = v::load(r0 + 2 * ow + N);
        const vf b0 = v::load(r1 + 2 * ow), b1 = v::load(r1 + 2 * ow + N);
        const vf c[4] = {__builtin_shuffle(a0, a1, em), __builtin_shuffle(a0, a1, om), __builtin_shuffle(b0, b1, em),
                         __builtin_shuffle(b0, b1, om)};
        vf best = c[0];
        vi which = vi{};
#pragma GCC unroll 4
        for (int j = 1; j < 4; ++j) {
          const vi upd = takes_max(c[j], best);
          best = upd ? c[j] : best;
          which = upd ? vi{} + j : which;
        }
        v::store(yr + ow, best);
        if (ar) {
          // candidate j sits at base + (j & 1) + (j >> 1) * Win
          const vi base = static_cast<int32_t>(2 * oh * Win + 2 * ow) + lane2;
          v::storei(ar + ow, base + (which & 1) + (which >> 1) * static_cast<int32_t>(Win));
        }
      }
    }
  }
}

template <int N>
void maxpool_bwd(const float* gy, const int32_t* argmax, int64_t planes, int64_t H, int64_t Win, int64_t P, int64_t Q,
                 float* dx, int64_t gs, int64_t ds) {
  using v = V<N>;
  using vf = typename v::f;
  using vi = typename v::i;
  const vi z0 = v::zip(0), z1 = v::zip(1), lane2 = v::iota(2, 0);
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* gp = gy + pl * gs;
    const int32_t* ap = argmax + pl * gs;
    float* dp = dx + pl * ds;
    for (int64_t oh = 0; oh < P; ++oh) {
      float* r0 = dp + 2 * oh * Win;
      float* r1 = r0 + Win;
      const float* gr = gp + oh * Q;
      const int32_t* ar = ap + oh * Q;
      int64_t next = 0;  // as in maxpool_fwd: a ragged end as one more (overlapping) vector
      for (; next < Q && Q >= N;) {
        const int64_t ow = next + N <= Q ? next : Q - N;
        next = ow + N;
        const vf g = v::load(gr + ow);
        const vi base = static_cast<int32_t>(2 * oh * Win + 2 * ow) + lane2;
        const vi a = v::loadi(ar + ow);
        const vf c00 = a == base ? g : vf{};
        const vf c01 = a == base + 1 ? g : vf{};
        const vf c10 = a == base + static_cast<int32_t>(Win) ? g : vf{};
        const vf c11 = a == base + static_cast<int32_t>(Win + 1) ? g : vf{};
        v::store(r0 + 2 * ow, __builtin_shuffle(c00, c01, z0));
        v::store(r0 + 2 * ow + N, __builtin_shuffle(c00, c01, z1));
        v::store(r1 + 2 * ow, __builtin_shuffle(c10, c11, z0));
        v::store(r1 + 2 * ow + N, __builtin_shuffle(c10, c11, z1));
      }
      for (int64_t ow = next; ow < Q; ++ow) {
        const int64_t base = 2 * oh * Win + 2 * ow;
        const float g = gr[ow];
        const int32_t a = ar[ow];
        r0[2 * ow] = a == base ? g : 0.f;
        r0[2 * ow + 1] = a == base + 1 ? g : 0.f;
        r1[2 * ow] = a == base + Win ? g : 0.f;
        r1[2 * ow + 1] = a == base + Win + 1 ? g : 0.f;
      }
      clear_past_windows(r0, r1, Q, Win);
    }
    if (2 * P < H) std::memset(dp + 2 * P * Win, 0, sizeof(float) * static_cast<size_t>((H - 2 * P) * Win));
  }
}

// 2x2 average pooling, same tiling as maxpool_fwd: each output sums its window from +0 in row-major
// order, then scales by 1/4, so the bits match the general path in nn/pool.cc.
template <int N>
void avgpool_fwd(const float* x, int64_t planes, int64_t Win, int64_t P, int64_t Q, float* y, int64_t xs, int64_t ys) {
  using v = V<N>;
  using vf = typename v::f;
  const typename v::i em = v::iota(2, 0), om = v::iota(2, 1);
  const vf quarter = vf{} + 0.25f;
  for (int64_t pl = 0; pl < planes; ++pl) {
    for (int64_t oh = 0; oh < P; ++oh) {
      const float* r0 = x + pl * xs + 2 * oh * Win;
      const float* r1 = r0 + Win;
      float* yr = y + pl * ys + oh * Q;
      for (int64_t next = 0; next < Q;) {
        const int64_t ow = next + N <= Q ? next : Q - N;
        if (ow < 0) {
          for (int64_t o = next; o < Q; ++o) yr[o] = (0.f + r0[2 * o] + r0[2 * o + 1] + r1[2 * o] + r1[2 * o + 1]) * 0.25f;
          break;
        }
        next = ow + N;
        const vf a0 = v::load(r0 + 2 * ow), a1 = v::load(r0 + 2 * ow + N);
        const vf b0 = v::load(r1 + 2 * ow), b1 = v::load(r1 + 2 * ow + N);
        const vf sum = vf{} + __builtin_shuffle(a0, a1, em) + __builtin_shuffle(a0, a1, om) +
                       __builtin_shuffle(b0, b1, em) + __builtin_shuffle(b0, b1, om);
        v::store(yr + ow, sum * quarter);
      }
    }
  }
}

// gy: (planes,P,Q) -> dx: (planes,H,W), each window's four places gy / 4 (from +0, as the general
// path adds it), zero outside the windows.
template <int N>
void avgpool_bwd(const float* gy, int64_t planes, int64_t H, int64_t Win, int64_t P, int64_t Q, float* dx, int64_t gs,
                 int64_t ds) {
  using v = V<N>;
  using vf = typename v::f;
  const typename v::i z0 = v::zip(0), z1 = v::zip(1);
  const vf quarter = vf{} + 0.25f;
  for (int64_t pl = 0; pl < planes; ++pl) {
    float* dp = dx + pl * ds;
    for (int64_t oh = 0; oh < P; ++oh) {
      float* r0 = dp + 2 * oh * Win;
      float* r1 = r0 + Win;
      const float* gr = gy + pl * gs + oh * Q;
      int64_t next = 0;  // as in maxpool_bwd: a ragged end as one more (overlapping) vector
      for (; next < Q && Q >= N;) {
        const int64_t ow = next + N <= Q ? next : Q - N;
        next = ow + N;
        const vf g = vf{} + v::load(gr + ow) * quarter;
        const vf lo = __builtin_shuffle(g, g, z0), hi = __builtin_shuffle(g, g, z1);
        v::store(r0 + 2 * ow, lo);
        v::store(r0 + 2 * ow + N, hi);
        v::store(r1 + 2 * ow, lo);
        v::store(r1 + 2 * ow + N, hi);
      }
      for (int64_t ow = next; ow < Q; ++ow) {
        const float g = 0.f + gr[ow] * 0.25f;
        r0[2 * ow] = r0[2 * ow + 1] = r1[2 * ow] = r1[2 * ow + 1] = g;
      }
      clear_past_windows(r0, r1, Q, Win);
    }
    if (2 * P < H) std::memset(dp + 2 * P * Win, 0, sizeof(float) * static_cast<size_t>((H - 2 * P) * Win));
  }
}

// Calls run(std::integral_constant<int, N>) with the vector width N for rows of Q outputs: W, or
// half or a quarter of it (at least 4) when a row is narrower than a vector.
template <typename Run>
inline void with_row_width(int64_t Q, Run run) {
  if constexpr (W >= 8) {
    if (Q < W / 2 && W >= 16) return run(std::integral_constant<int, (W / 4 < 4 ? 4 : W / 4)>{});
    if (Q < W) return run(std::integral_constant<int, W / 2>{});
  }
  run(std::integral_constant<int, W>{});
}

}  // namespace pool

// x: (planes,H,W) -> y: (planes,P,Q), argmax: (planes,P,Q) index into the (H,W) plane, or null;
// planes xs floats apart in x, ys in y and argmax (a channel's planes in an (N,C,...) tensor).
// Window (oh, ow) covers rows 2oh, 2oh+1 and columns 2ow, 2ow+1; needs 2P <= H and 2Q <= W.
// Rows narrower than a vector use half or quarter vectors.
inline void maxpool2x2(const float* x, int64_t planes, int64_t H, int64_t Win, int64_t P, int64_t Q, float* y,
                       int32_t* argmax, int64_t xs, int64_t ys) {
  pool::with_row_width(Q, [&](auto n) { pool::maxpool_fwd<n()>(x, planes, H, Win, P, Q, y, argmax, xs, ys); });
}

// gy: (planes,P,Q), argmax from maxpool2x2 -> dx: (planes,H,W) overwritten (zero outside the windows);
// planes gs floats apart in gy and argmax, ds in dx.
inline void maxpool2x2_backward(const float* gy, const int32_t* argmax, int64_t planes, int64_t H, int64_t Win,
                                int64_t P, int64_t Q, float* dx, int64_t gs, int64_t ds) {
  pool::with_row_width(Q, [&](auto n) { pool::maxpool_bwd<n()>(gy, argmax, planes, H, Win, P, Q, dx, gs, ds); });
}

// 2x2 average pooling, stride 2, no padding: x: (planes,H,W) -> y: (planes,P,Q), the planes and
// vector widths as maxpool2x2 (2P <= H, 2Q <= W).
inline void avgpool2x2(const float* x, int64_t planes, int64_t Win, int64_t P, int64_t Q, float* y, int64_t xs,
                       int64_t ys) {
  pool::with_row_width(Q, [&](auto n) { pool::avgpool_fwd<n()>(x, planes, Win, P, Q, y, xs, ys); });
}

// gy: (planes,P,Q) -> dx: (planes,H,W) overwritten (zero outside the windows); planes gs and ds apart.
inline void avgpool2x2_backward(const float* gy, int64_t planes, int64_t H, int64_t Win, int64_t P, int64_t Q,
                                float* dx, int64_t gs, int64_t ds) {
  pool::with_row_width(Q, [&](auto n) { pool::avgpool_bwd<n()>(gy, planes, H, Win, P, Q, dx, gs, ds); });
}

// Pooling of any window (kernel, stride, padding), `planes` planes (H,W) -> (P,Q), W outputs of a row
// at a time. Each input row is copied once into a row of `pad` (the max pool's -inf or the average's
// 0) wide enough for every vector's reads, so the windows need no bounds checks; the rows above and
// below the plane are skipped. The max takes the first maximum of the window in row-major order, and
// the first NaN over everything, starting from -inf at the window's first in-plane place, as the
// scalar loop did (ties, NaN and all -inf windows give the same value and index). The average sums
// from +0 in row-major order (the padding adds +0) and divides by the whole window (count_include_pad).
// scratch: H * pool_window_row(g) floats.
inline int64_t pool_window_row(const PoolWindow& g) {
  return ((g.Q + W - 1) / W * W) * g.sw + g.kw + W;
}
inline void pool_window(const PoolWindow& g, bool max, const float* x, int64_t planes, float* y, int32_t* argmax,
                        float* scratch) {
  const int64_t Wp = pool_window_row(g);
  const float pad = max ? -__builtin_inff() : 0.f;
  const vf inv = broadcast(1.f / static_cast<float>(g.kh * g.kw)), neg_inf = broadcast(-__builtin_inff());
  const vi lane = lane_iota(1, 0);
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * g.H * g.W;
    for (int64_t r = 0; r < g.H; ++r) {
      float* row = scratch + r * Wp;
      std::fill(row, row + g.pw, pad);
      std::memcpy(row + g.pw, xp + r * g.W, sizeof(float) * static_cast<size_t>(g.W));
      std::fill(row + g.pw + g.W, row + Wp, pad);
    }
    for (int64_t oh = 0; oh < g.P; ++oh) {
      const int64_t top = oh * g.sh - g.ph;
      for (int64_t ow0 = 0; ow0 < g.Q; ow0 += W) {
        const int64_t n = std::min<int64_t>(W, g.Q - ow0);
        const vi col = (lane + static_cast<int32_t>(ow0)) * static_cast<int32_t>(g.sw) - static_cast<int32_t>(g.pw);
        vf best = max ? neg_inf : vf{};
        // the window's first in-plane place: where the scalar loop's maximum index starts
        vi which = static_cast<int32_t>(std::max<int64_t>(top, 0) * g.W) + (col < 0 ? vi{} : col);
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t ih = top + i;
          if (ih < 0 || ih >= g.H) continue;
          const float* row = scratch + ih * Wp + ow0 * g.sw;
          for (int64_t j = 0; j < g.kw; ++j) {
            vf c;
            if (g.sw == 1) {
              c = load(row + j);
            } else if (g.sw == 2) {
              c = __builtin_shuffle(load(row + j), load(row + j + W), lane_iota(2, 0));
            } else {
              for (int l = 0; l < W; ++l) c[l] = row[j + l * g.sw];
            }
            if (!max) {
              best += c;
              continue;
            }
            const vi upd = takes_max(c, best);
            best = upd ? c : best;
            which = upd ? col + static_cast<int32_t>(ih * g.W + j) : which;
          }
        }
        float* yr = y + (pl * g.P + oh) * g.Q + ow0;
        store_n(yr, max ? best : best * inv, n);
        if (argmax) {
          int32_t* ar = argmax + (pl * g.P + oh) * g.Q + ow0;
          for (int64_t l = 0; l < n; ++l) ar[l] = which[l];
        }
      }
    }
  }
}

// x: (planes, n) -> y: (planes) means, for short planes (global average pooling of maps up to
// 15x15, a squeeze-and-excitation gate's input). W planes at a time: a chunk of W floats of each
// (the last one masked) transposed so lane j holds plane j, then added in double, elements in
// order, alternately to two sums (a scalar double sum per plane cost ~25 cycles for 16 floats).
// A plane's sum does not depend on which planes share its group: the same bits at any thread count.
inline void plane_means(const float* x, int64_t planes, int64_t n, float* y) {
  typedef double vd __attribute__((vector_size(W * sizeof(double))));
  for (int64_t p0 = 0; p0 < planes; p0 += W) {
    const int64_t m = std::min<int64_t>(W, planes - p0);
    vd even = vd{}, odd = vd{};
    for (int64_t i = 0; i < n; i += W) {
      const int64_t k_end = std::min<int64_t>(W, n - i);
      vf r[W];
      for (int64_t j = 0; j < W; ++j) r[j] = j < m ? load_n(x + (p0 + j) * n + i, k_end) : vf{};
      transpose_square(r);  // r[k]: element i + k of every plane
      for (int64_t k = 0; k < k_end; ++k) (k % 2 ? odd : even) += __builtin_convertvector(r[k], vd);
    }
    const vd count = vd{} + static_cast<double>(n);
    store_n(y + p0, __builtin_convertvector((even + odd) / count, vf), m);
  }
}

}  // namespace dlf::DLF_ISA_NS
