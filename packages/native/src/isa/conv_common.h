// Shared by the direct-convolution kernels (isa/conv.h): tile sizes per instruction set, the
// output-channel blocking rule, fused-pool and ReLU-mask helpers. See isa/conv.h for the layouts.
#pragma once
#include <algorithm>
#include <cstring>

#include "isa/kernels.h"
#include "isa/simd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace conv {

#ifndef DLF_WINO_ON
#define DLF_WINO_ON 1
#endif
#ifndef DLF_WINO_K
#define DLF_WINO_K 4
#endif
#ifndef DLF_WINO_P
#define DLF_WINO_P 1
#endif

#if defined(__AVX512F__)
constexpr int KBM = 8;  // output channels per forward tile: 8 x 3 positions = 24 of 32 registers
constexpr int TM = 3;
constexpr int WKB = 8;  // weight-gradient tile: 8 channels x 3 kernel columns
#elif defined(__AVX2__) || defined(DLF_SIMD_NEON)
constexpr int KBM = 4;  // 4 x 3 = 12 of 16 registers (AVX2) or of 32 (NEON)
constexpr int TM = 3;
constexpr int WKB = 4;
#else
constexpr int KBM = 4;  // SSE has no FMA: keep a register free for the products
constexpr int TM = 2;
constexpr int WKB = 4;
#endif
constexpr int SBM = 3;  // kernel columns per weight-gradient tile
// Winograd F(2,3) over kernel rows (R == 3): output channels x row pairs per tile (each with 4
// accumulators).
#if defined(__AVX512F__)
constexpr int WGK = DLF_WINO_K;
constexpr int WP = DLF_WINO_P;
#else
constexpr int WGK = 2;
constexpr int WP = 1;
#endif
#ifndef DLF_WGRAD_PB
#define DLF_WGRAD_PB 32
#endif

// Output channels are cut into blocks of KBM, then 4, 2, 1 for the remainder; packed weights and
// every kernel below use this same rule.
inline int kblock(int64_t K, int64_t k0) {
  const int64_t rem = K - k0;
  if (rem >= KBM) return KBM;
  if (rem >= 4) return 4;
  if (rem >= 2) return 2;
  return 1;
}

inline int wblock(int64_t K, int64_t k0) {
  const int64_t rem = K - k0;
  if (rem >= WKB) return WKB;
  if (rem >= 4) return 4;
  if (rem >= 2) return 2;
  return 1;
}

// Fused 2x2 / stride 2 max pooling of a ReLU'd output: y (K,Pp,Qp) pooled values, code (K,Pp,Qp)
// each maximum's place in its window (0..3 row-major; the first maximum wins, as in max_pool2d).
// ReLU outputs are never NaN, so no NaN rule is needed.
struct PoolOut {
  float* y;
  uint8_t* code;
  int64_t Pp, Qp;
};

typedef uint8_t vb __attribute__((vector_size(W)));

// Pools rows r0 = (v0, v1) of one output vector at column q0 into pooled row pr of channel k, as
// max_pool2d does: the first maximum of each window wins, and the first NaN wins over everything.
inline void pool_pair(const PoolOut& po, int64_t k, int64_t pr, int64_t q0, vf v0, vf v1) {
  const vi me = lane_iota(2, 0) & (2 * W - 1), mo = lane_iota(2, 1) & (2 * W - 1);
  // lanes 0..W/2-1 hold the windows of this vector (the upper half repeats them)
  const vf c[4] = {__builtin_shuffle(v0, v0, me), __builtin_shuffle(v0, v0, mo), __builtin_shuffle(v1, v1, me),
                   __builtin_shuffle(v1, v1, mo)};
  vf best = c[0];
  vi which = vi{};
#pragma GCC unroll 4
  for (int j = 1; j < 4; ++j) {
    const vi upd = takes_max(c[j], best);
    best = upd ? c[j] : best;
    which = upd ? vi{} + j : which;
  }
  const int64_t qp0 = q0 / 2;
  const int64_t n = std::min<int64_t>(W / 2, po.Qp - qp0);
  float* yo = po.y + (k * po.Pp + pr) * po.Qp + qp0;
  uint8_t* co = po.code + (k * po.Pp + pr) * po.Qp + qp0;
  const vb wb = __builtin_convertvector(which, vb);
  // Masked stores and a fixed-size copy: a partial copy through a stack tile stalls the store
  // buffer (the copy's narrow loads cannot be forwarded from the wide store).
  store_first(yo, best, n);
  if (n == W / 2) {
    std::memcpy(co, &wb, W / 2);
  } else {
    std::memcpy(co, &wb, static_cast<size_t>(n));
  }
}

// ReLU bit masks: W bits per output vector, at bit q0 of a row (q0 a multiple of W, so of 4).
inline void put_bits(uint8_t* row, int64_t q0, uint32_t bits) {
  if constexpr (W == 16) {
    const uint16_t b = static_cast<uint16_t>(bits);
    std::memcpy(row + q0 / 8, &b, sizeof b);
  } else if constexpr (W == 8) {
    row[q0 / 8] = static_cast<uint8_t>(bits);
  } else {
    uint8_t& byte = row[q0 / 8];
    const int sh = static_cast<int>(q0 & 4);
    byte = static_cast<uint8_t>((byte & ~(0xF << sh)) | ((bits & 0xF) << sh));
  }
}
inline uint32_t get_bits(const uint8_t* row, int64_t q0) {
  if constexpr (W == 16) {
    uint16_t b;
    std::memcpy(&b, row + q0 / 8, sizeof b);
    return b;
  } else if constexpr (W == 8) {
    return row[q0 / 8];
  } else {
    return (row[q0 / 8] >> (q0 & 4)) & 0xF;
  }
}

}  // namespace conv
}  // namespace dlf::DLF_ISA_NS
