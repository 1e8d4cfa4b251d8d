// 2x2 max pooling with stride 2 and no padding, the pooling of small vision models. W output
// columns at a time: two vectors of each of the two input rows are split into even and odd
// columns with shuffles, so each output vector takes the maximum of four candidate vectors.
// Ties and NaN follow the general path in nn/pool.cc exactly: the first maximal element of the
// window in row-major order wins, and the first NaN wins over everything.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>

#include "isa/simd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace pool {

typedef int32_t vi __attribute__((vector_size(W * sizeof(int32_t))));
typedef int32_t vi_unaligned __attribute__((vector_size(W * sizeof(int32_t)), aligned(4)));

inline vi loadi(const int32_t* p) { return *reinterpret_cast<const vi_unaligned*>(p); }
inline void storei(int32_t* p, vi v) { *reinterpret_cast<vi_unaligned*>(p) = v; }

// Lane masks for __builtin_shuffle over a pair of vectors (lanes 0..2W-1).
inline vi even_mask() {
  vi m;
  for (int i = 0; i < W; ++i) m[i] = 2 * i;
  return m;
}
inline vi odd_mask() {
  vi m;
  for (int i = 0; i < W; ++i) m[i] = 2 * i + 1;
  return m;
}
// Interleaves (e0 o0 e1 o1 ...) from the low (half 0) or high (half 1) halves of e and o.
inline vi zip_mask(int half) {
  vi m;
  for (int i = 0; i < W; ++i) m[i] = (i % 2 == 0 ? 0 : W) + half * (W / 2) + i / 2;
  return m;
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

}  // namespace pool

// x: (planes,H,W) -> y: (planes,P,Q), argmax: (planes,P,Q) index into the (H,W) plane, or null.
// Window (oh, ow) covers rows 2oh, 2oh+1 and columns 2ow, 2ow+1; needs 2P <= H and 2Q <= W.
inline void maxpool2x2(const float* x, int64_t planes, int64_t H, int64_t Win, int64_t P, int64_t Q, float* y,
                       int32_t* argmax) {
  using namespace pool;
  const vi em = even_mask(), om = odd_mask();
  vi lane2;
  for (int i = 0; i < W; ++i) lane2[i] = 2 * i;
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * H * Win;
    float* yp = y + pl * P * Q;
    int32_t* ap = argmax ? argmax + pl * P * Q : nullptr;
    for (int64_t oh = 0; oh < P; ++oh) {
      const float* r0 = xp + 2 * oh * Win;
      const float* r1 = r0 + Win;
      float* yr = yp + oh * Q;
      int32_t* ar = ap ? ap + oh * Q : nullptr;
      int64_t ow = 0;
      for (; ow + W <= Q; ow += W) {
        const vf a0 = load(r0 + 2 * ow), a1 = load(r0 + 2 * ow + W);
        const vf b0 = load(r1 + 2 * ow), b1 = load(r1 + 2 * ow + W);
        const vf c[4] = {__builtin_shuffle(a0, a1, em), __builtin_shuffle(a0, a1, om), __builtin_shuffle(b0, b1, em),
                         __builtin_shuffle(b0, b1, om)};
        vf best = c[0];
        vi which = vi{};
#pragma GCC unroll 4
        for (int j = 1; j < 4; ++j) {
          const vi upd = (c[j] > best) | ((c[j] != c[j]) & (best == best));
          best = upd ? c[j] : best;
          which = upd ? vi{} + j : which;
        }
        store(yr + ow, best);
        if (ar) {
          // candidate j sits at base + (j & 1) + (j >> 1) * Win
          const vi base = static_cast<int32_t>(2 * oh * Win + 2 * ow) + lane2;
          storei(ar + ow, base + (which & 1) + (which >> 1) * static_cast<int32_t>(Win));
        }
      }
      for (; ow < Q; ++ow)
        window1(r0 + 2 * ow, r1 + 2 * ow, 2 * oh * Win + 2 * ow, Win, yr + ow, ar ? ar + ow : nullptr);
    }
  }
}

// gy: (planes,P,Q), argmax from maxpool2x2 -> dx: (planes,H,W) overwritten (zero outside the windows)
inline void maxpool2x2_backward(const float* gy, const int32_t* argmax, int64_t planes, int64_t H, int64_t Win,
                                int64_t P, int64_t Q, float* dx) {
  using namespace pool;
  const vi z0 = zip_mask(0), z1 = zip_mask(1);
  vi lane2;
  for (int i = 0; i < W; ++i) lane2[i] = 2 * i;
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* gp = gy + pl * P * Q;
    const int32_t* ap = argmax + pl * P * Q;
    float* dp = dx + pl * H * Win;
    for (int64_t oh = 0; oh < P; ++oh) {
      float* r0 = dp + 2 * oh * Win;
      float* r1 = r0 + Win;
      const float* gr = gp + oh * Q;
      const int32_t* ar = ap + oh * Q;
      int64_t ow = 0;
      for (; ow + W <= Q; ow += W) {
        const vf g = load(gr + ow);
        const vi base = static_cast<int32_t>(2 * oh * Win + 2 * ow) + lane2;
        const vi a = loadi(ar + ow);
        const vf c00 = a == base ? g : vf{};
        const vf c01 = a == base + 1 ? g : vf{};
        const vf c10 = a == base + static_cast<int32_t>(Win) ? g : vf{};
        const vf c11 = a == base + static_cast<int32_t>(Win + 1) ? g : vf{};
        store(r0 + 2 * ow, __builtin_shuffle(c00, c01, z0));
        store(r0 + 2 * ow + W, __builtin_shuffle(c00, c01, z1));
        store(r1 + 2 * ow, __builtin_shuffle(c10, c11, z0));
        store(r1 + 2 * ow + W, __builtin_shuffle(c10, c11, z1));
      }
      for (; ow < Q; ++ow) {
        const int64_t base = 2 * oh * Win + 2 * ow;
        const float g = gr[ow];
        const int32_t a = ar[ow];
        r0[2 * ow] = a == base ? g : 0.f;
        r0[2 * ow + 1] = a == base + 1 ? g : 0.f;
        r1[2 * ow] = a == base + Win ? g : 0.f;
        r1[2 * ow + 1] = a == base + Win + 1 ? g : 0.f;
      }
      if (2 * Q < Win) {
        std::memset(r0 + 2 * Q, 0, sizeof(float) * static_cast<size_t>(Win - 2 * Q));
        std::memset(r1 + 2 * Q, 0, sizeof(float) * static_cast<size_t>(Win - 2 * Q));
      }
    }
    if (2 * P < H) std::memset(dp + 2 * P * Win, 0, sizeof(float) * static_cast<size_t>((H - 2 * P) * Win));
  }
}

}  // namespace dlf::DLF_ISA_NS
