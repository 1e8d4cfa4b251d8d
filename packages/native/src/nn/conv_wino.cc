#include "nn/conv_wino.h"

#include <algorithm>

#include "nn/conv_scratch.h"
#include "runtime/env_state.h"
#include "runtime/errors.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

// Below this many channels the transforms cost more than the products they save: the direct
// kernels (conv_fast.cc) win.
constexpr int64_t kMinChannels = 16;
// A 5x5 kernel saves more (9 products per output where the direct convolution does 25): from 2
// input channels (3 -> 32 channels on 32x32 planes, batch 64: forward 1.9 ms, 2.3 ms direct).
constexpr int64_t kMinChannels5 = 2;
// Weight-gradient tile blocks are transformed this many floats at a time when the sums are packed
// GEMMs: the transformed tiles of a chunk stay in L2 for the GEMMs that read them.
constexpr int64_t kWgradChunkFloats = int64_t{1} << 19;
// Shares of the tile blocks the packed-GEMM sums are cut into (each summed by one thread).
constexpr int64_t kWgradShares = 8;
// With per-lane sums (fewer channel pairs), each lane adds its tiles in order however they are
// chunked: chunks this small keep the transformed tiles in L2 between the transforms and the sums
// (16 -> 16 on 32x32 planes, batch 64: forward + backward 5.9 ms with the direct weight-gradient
// kernel, 6.6 with chunks of 6M floats, 5.4 with chunks of 256K).
constexpr int64_t kWgradLaneChunkFloats = int64_t{1} << 18;

// Floats between consecutive positions e of a transformed buffer holding `plane` floats each: one
// 64-byte line more than the plane, so the 36 positions a transform touches at once fall in
// different L1 sets (planes a multiple of 4 KB apart all share one set and evict each other).
int64_t position_stride(int64_t plane) { return round_up(plane, 16) + 16; }

// p: (shares, n, lanes) -> p[0..n): each sum's shares in order, then its lanes in order.
void reduce_lanes(float* p, int64_t n, int64_t lanes, int64_t shares) {
  add_parts_in_order(p, n * lanes, shares);
  if (lanes == 1) return;  // p[i] is already its sum (a scalar pass over 36 * 512 * 512 sums took ~10 ms)
  for (int64_t i = 0; i < n; ++i) {  // p[i] is written after every read of p[j * lanes..], j < i
    float v = 0.f;
    for (int64_t l = 0; l < lanes; ++l) v += p[i * lanes + l];
    p[i] = v;
  }
}

// A 5x5 kernel runs as four 3x3 ones: zero-padded to 6x6, its block (a, b) of rows 3a..3a+2 and
// columns 3b..3b+2 reads the input shifted by (3a, 3b). The four blocks are four groups of input
// channels of one F(4x4,3x3) convolution: 4 * 36 products per 16 outputs and channel pair (9 per
// output; the direct convolution does 25), through the tuned 3x3 transforms.
constexpr int64_t kBlockShift = 3;
constexpr int64_t kKernelBlocks5 = 4;
// Kernel block kb's first row and column in the 5x5 kernel (and its input's shift).
constexpr int64_t block_top(int64_t kb) { return kBlockShift * (kb / 2); }
constexpr int64_t block_left(int64_t kb) { return kBlockShift * (kb % 2); }
// The 3x3 kernel blocks a layer's kernel runs as.
int64_t kernel_blocks(const ConvGeom& g) { return g.R == 5 ? kKernelBlocks5 : 1; }

// w: (K,C,5,5) -> (outs, 4 * ins, 3, 3): output o, input (block kb, channel i) holds block kb of the
// kernel (o, i), zero past the 5x5. With `flip` the input gradient's kernel: outs C, ins K, kernel
// (k, c) rotated 180 degrees.
TensorPtr split_kernel5(const float* w, int64_t K, int64_t C, bool flip) {
  const int64_t outs = flip ? C : K, ins = flip ? K : C;
  auto out = empty({outs, kKernelBlocks5 * ins, 3, 3});
  float* po = out->f32();
  parallel_for(outs, 16, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t kb = 0; kb < kKernelBlocks5; ++kb)
        for (int64_t i = 0; i < ins; ++i) {
          const float* src = w + (flip ? i * C + o : o * C + i) * 25;
          float* dst = po + ((o * kKernelBlocks5 + kb) * ins + i) * 9;
          for (int64_t r = 0; r < 3; ++r)
            for (int64_t c = 0; c < 3; ++c) {
              const int64_t kr = block_top(kb) + r, kc = block_left(kb) + c;
              dst[r * 3 + c] = kr < 5 && kc < 5 ? src[flip ? (4 - kr) * 5 + 4 - kc : kr * 5 + kc] : 0.f;
            }
        }
  });
  return out;
}

// x -> V: the input transforms (wino_input) of tiles t0..t0+count for each of `kernel_blocks`
// kernel blocks, block kb's channels from V + kb * g.C * cstride on. Block (a, b) of a 5x5 kernel
// reads the input shifted by (3a, 3b): as if padded 3a, 3b less.
void transform_blocks(const WinoGeom& g, int64_t kernel_blocks, const float* x, int64_t t0, int64_t count,
                      int64_t estride, int64_t cstride, float* V) {
  const Kernels& kt = kernels();
  for (int64_t kb = 0; kb < kernel_blocks; ++kb) {
    WinoGeom gb = g;
    gb.pad_h -= block_top(kb);
    gb.pad_w -= block_left(kb);
    kt.wino_input(gb, x, t0, count, estride, cstride, V + kb * g.C * cstride);
  }
}

// w: (K,C,3,3) -> U: (36, Kp/rk, C, rk) = G g G^T per channel pair, zero for k >= K. With `flip` the
// kernel of the input gradient: input channels K, output channels C, each kernel rotated 180 degrees.
// U's positions are position_stride(Kp * C) floats apart.
void transform_weights(const float* w, int64_t K, int64_t C, bool flip, int64_t rk, float* U) {
  const int64_t outs = flip ? C : K, ins = flip ? K : C, outs_p = round_up(outs, rk);
  const int64_t estride = position_stride(outs_p * ins);
  DLF_THROW_IF(rk < 1, "conv2d: Winograd output block of ", rk, " channels");
  // By blocks of rk output channels: a block's values of one position are one sequential stream.
  const Kernels& kt = kernels();
  parallel_for(outs_p / rk, 1, [&](int64_t b0, int64_t b1) {
    kt.wino_weights(w, K, C, flip, rk, b0 * rk, b1 * rk, estride, U);
  });
}

// The layer's weights transformed for its forward (or, with `flip`, for its input gradient): U as
// transform_weights writes it, a 5x5 kernel's four blocks as input channels.
TensorPtr transformed_weights(const ConvGeom& g, const float* w, bool flip) {
  const int64_t rk = kernels().wino_kblock, blocks = kernel_blocks(g);
  const int64_t outs = flip ? g.C : g.K, ins = blocks * (flip ? g.K : g.C);
  auto U = empty({36 * position_stride(round_up(outs, rk) * ins)});
  if (blocks > 1) {
    transform_weights(split_kernel5(w, g.K, g.C, flip)->f32(), outs, ins, false, rk, U->f32());
  } else {
    transform_weights(w, g.K, g.C, flip, rk, U->f32());
  }
  return U;
}

// Tiles per tile row: ceil(Q / 4), or a little more where that lets whole tile rows fill a vector
// (2 or 4 rows a vector): the transforms then shuffle row loads instead of gathering every patch
// element, and store output rows instead of scattering them. At most one tile in seven is added;
// the added tiles lie past the plane's right edge and are masked like any ragged edge (28-wide
// planes, 7 tiles a row with AVX-512, get 8).
int64_t tiles_per_row(int64_t Q) {
  const int64_t tw = (Q + 3) / 4, vw = kernels().vector_floats;
  for (const int64_t rows : {4, 2}) {  // vector widths are powers of two, so each divides them
    const int64_t wide = vw / rows;
    if (wide >= tw && 7 * (wide - tw) <= tw) return wide;
  }
  return tw;
}

WinoGeom wino_geom(int64_t C, int64_t H, int64_t W, int64_t pad_h, int64_t pad_w, int64_t P, int64_t Q) {
  return WinoGeom{C, H, W, pad_h, pad_w, P, Q, (P + 3) / 4, tiles_per_row(Q)};
}

// Tiles t0..t0+count as runs within one image n: `rows` whole tile rows from tile row tr (tc = 0),
// or, with rows = 0, `run` tiles along part of tile row tr from tile column tc. fn(n, tr, tc, rows, run).
template <typename Fn>
void for_each_tile_run(const WinoGeom& g, int64_t t0, int64_t count, Fn fn) {
  const int64_t per_image = g.th * g.tw, end = t0 + count;
  for (int64_t t = t0; t < end;) {
    const int64_t n = t / per_image, tr = t % per_image / g.tw, tc = t % g.tw;
    const int64_t rows = tc == 0 ? std::min((end - t) / g.tw, g.th - tr) : 0;
    const int64_t run = rows > 0 ? rows * g.tw : std::min(g.tw - tc, end - t);
    fn(n, tr, tc, rows, run);
    t += run;
  }
}

// Where a fused 2x2 max pool writes: ypool (N, K, P/2, Q/2) and, for the backward, argmax (the
// same shape, or null): each maximum's index in its (P, Q) plane, as max_pool2d keeps it.
struct PoolDst {
  float* y;
  int32_t* argmax;
};

// pool.y (and pool.argmax) = the 2x2/2 max pool, over the tiles t0..t0+count and channels [k0,k1),
// of `out`, which holds those tiles' outputs where y: (N, K, P, Q) would, from image n0 on. A window
// lies in one 4x4 tile: whole tile rows pool as one stretch of rows, a run along part of a tile row
// pooled row by row (the pool kernel's output rows are as wide as its input's halves). The pool
// kernel's indices count from the corner it was given, so they are moved to the plane's.
void pool_tiles(const WinoGeom& g, int64_t K, int64_t k0, int64_t k1, int64_t t0, int64_t count, int64_t n0,
                const float* out, const PoolDst& pool) {
  const Kernels& kt = kernels();
  const int64_t plane = g.P * g.Q, Pp = g.P / 2, Qp = g.Q / 2;
  const auto pool_rect = [&](const float* src, int64_t rows, int64_t cols, int64_t corner, int64_t o) {
    int32_t* am = pool.argmax ? pool.argmax + o : nullptr;
    kt.maxpool2x2(src + corner, 1, 2 * rows, g.Q, rows, cols, pool.y + o, am, 0, 0);
    if (!am) return;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) am[i * Qp + j] += static_cast<int32_t>(corner);
  };
  for_each_tile_run(g, t0, count, [&](int64_t n, int64_t tr, int64_t tc, int64_t whole_rows, int64_t run) {
    const int64_t r0 = 2 * tr, r1 = std::min(Pp, 2 * (tr + std::max<int64_t>(whole_rows, 1)));
    const int64_t c0 = whole_rows > 0 ? 0 : 2 * tc, c1 = whole_rows > 0 ? Qp : std::min(Qp, 2 * (tc + run));
    if (r1 <= r0 || c1 <= c0) return;
    for (int64_t k = k0; k < k1; ++k) {
      const float* src = out + ((n - n0) * K + k) * plane;
      const int64_t o = (n * K + k) * Pp * Qp;
      if (whole_rows > 0) {
        pool_rect(src, r1 - r0, Qp, 2 * r0 * g.Q, o + r0 * Qp);
        continue;
      }
      for (int64_t r = r0; r < r1; ++r) pool_rect(src, 1, c1 - c0, 2 * r * g.Q + 2 * c0, o + r * Qp + c0);
    }
  });
}

// x: (N, g.C, g.H, g.W) -> y: (N, K, g.P, g.Q) through transformed weights U (Kp output rows), + bias,
// + residual (same shape as y, or null), then ReLU when `relu`. A block of tiles per task; with
// fewer blocks than threads (wide layers on small planes: 512 channels on 4x4 planes at batch 64
// are one block), each block's products and output transforms are split by output channels
// instead, the tiles transformed once. Either way each output is computed the same way.
void run_forward(const WinoGeom& g, int64_t N, const float* x, const float* U, int64_t K, int64_t Kp,
                 const float* bias, const float* residual, bool relu, float* y, int64_t kernel_blocks = 1,
                 const PoolDst* pool = nullptr) {
  const Kernels& kt = kernels();
  const int64_t TB = kt.wino_tiles, rk = kt.wino_kblock, tiles = N * g.th * g.tw, blocks = (tiles + TB - 1) / TB;
  const int64_t C = kernel_blocks * g.C;  // the GEMMs' input channels: each kernel block's copy of g.C
  const int64_t vs = position_stride(C * TB), ms = position_stride(Kp * TB), us = position_stride(Kp * C);
  const auto transform_input = [&](int64_t t0, int64_t count, float* V) {
    transform_blocks(g, kernel_blocks, x, t0, count, vs, TB, V);
  };
  const auto outputs = [&](const float* M, int64_t k0, int64_t k1, int64_t t0, int64_t count) {
    if (pool) {  // the block's outputs go through a scratch while they are pooled
      const int64_t per_image = g.th * g.tw, n0 = t0 / per_image, images = (t0 + count - 1) / per_image - n0 + 1;
      float* out = thread_scratch(2, images * K * g.P * g.Q);
      kt.wino_output(g, M, ms, K, k0, k1, t0 - n0 * per_image, count, bias, nullptr, relu, out);
      pool_tiles(g, K, k0, k1, t0, count, n0, out, *pool);
      return;
    }
    kt.wino_output(g, M, ms, K, k0, k1, t0, count, bias, residual, relu, y);
  };
  if (blocks < num_threads() && Kp > rk) {
    auto V = empty({36 * vs});
    auto M = empty({36 * ms});
    for (int64_t bi = 0; bi < blocks; ++bi) {
      const int64_t t0 = bi * TB, count = std::min(TB, tiles - t0);
      transform_input(t0, count, V->f32());
      parallel_for(Kp / rk, 1, [&](int64_t b0, int64_t b1) {
        const int64_t k0 = b0 * rk, k1 = b1 * rk;
        kt.wino_gemm(U + k0 * C, us, V->f32(), vs, C, k1 - k0, M->f32() + k0 * TB, ms);
        outputs(M->f32(), k0, std::min(k1, K), t0, count);
      });
    }
    return;
  }
  parallel_chunks(static_cast<int>(blocks), [&](int bi, int) {
    float* V = thread_scratch(0, 36 * vs);
    float* M = thread_scratch(1, 36 * ms);
    const int64_t t0 = bi * TB, count = std::min(TB, tiles - t0);
    transform_input(t0, count, V);
    kt.wino_gemm(U, us, V, vs, C, Kp, M, ms);
    outputs(M, 0, K, t0, count);
  });
}

// Per-position weight-gradient sums into dWt (36 * K * C floats): Gt_e (K, L) and V_e (C, L) hold
// L tiles side by side, so that dWt_e += Gt_e V_e^T sums over the tiles. The tile blocks are cut
// into shares, each summed by one thread in chunks small enough that the transformed tiles are still
// in L2 when the sums read them, into sums of its own, added in share order.
// - Beyond 24 x 24 channel pairs the sums are packed GEMMs and the shares a fixed number: the same
//   bits at any thread count. (One shared chunk of 6M floats at a time sent the transformed tiles
//   through memory: 32 -> 32 channels on 32x32 planes, batch 64, forward + backward took 17.3 ms
//   against 14.1 here.)
// - Up to 24 x 24 pairs they are per-lane sums (36 * K * C vectors, which stay in L2), one share a
//   thread, so the bits follow the thread count. 16 -> 16 on 32x32 planes, batch 64, forward +
//   backward: 5.9 ms with the direct weight-gradient kernel, 4.8 ms here (1 thread).
// With kernel_blocks = 4 (a 5x5 kernel's blocks), the input channels are the blocks' shifted copies
// of the input (as run_forward's), each output-gradient tile transformed once for all four.
TensorPtr wgrad_sums(const WinoGeom& wg, int64_t N, int64_t K, const float* x, const float* gy,
                     int64_t kernel_blocks = 1) {
  const Kernels& kt = kernels();
  const int64_t TB = kt.wino_tiles, tiles = N * wg.th * wg.tw, blocks = (tiles + TB - 1) / TB;
  const int64_t C = kernel_blocks * wg.C, pairs = K * C;
  const bool per_lane = pairs < kWinoWgradGemmPairs;  // as wino_wgrad_gemm decides
  const int64_t lanes = per_lane ? kt.vector_floats : 1, sums = 36 * pairs * lanes;
  const int64_t floats = per_lane ? kWgradLaneChunkFloats : kWgradChunkFloats;
  const int64_t chunk = std::max<int64_t>(1, floats / (36 * (K + C) * TB));
  const int64_t L = chunk * TB, gs = position_stride(K * L), vs = position_stride(C * L);
  const int shares = static_cast<int>(std::min<int64_t>(per_lane ? num_threads() : kWgradShares, blocks));
  auto dWt = empty({shares * sums});  // each share's first chunk writes its sums (a share has a block at least)
  // Each chunk of share s transformed into G and V (positions gsc and vsc apart), then summed by
  // sum(G, V, Lc, gsc, vsc, accumulate) into the share's sums.
  const auto each_chunk = [&](int s, float* G, float* V, const auto& sum) {
    const int64_t s0 = blocks * s / shares, s1 = blocks * (s + 1) / shares;
    for (int64_t b0 = s0; b0 < s1; b0 += chunk) {
      const int64_t nb = std::min(chunk, s1 - b0), Lc = nb * TB;
      const int64_t gsc = position_stride(K * Lc), vsc = position_stride(C * Lc);
      for (int64_t i = 0; i < nb; ++i) {
        const int64_t t0 = (b0 + i) * TB, count = std::min(TB, tiles - t0);
        transform_blocks(wg, kernel_blocks, x, t0, count, vsc, Lc, V + i * TB);
        kt.wino_grad_tiles(wg, gy, K, t0, count, gsc, Lc, G + i * TB);
      }
      sum(Lc, gsc, vsc, b0 > s0);
    }
  };
  if (!per_lane && shares < num_threads()) {
    // Fewer shares than threads (wide layers on small planes): each chunk is transformed once and
    // its sums split by positions, each position's GEMM the same whoever runs it.
    auto G = empty({36 * gs});
    auto V = empty({36 * vs});
    for (int s = 0; s < shares; ++s)
      each_chunk(s, G->f32(), V->f32(), [&](int64_t Lc, int64_t gsc, int64_t vsc, bool accumulate) {
        parallel_for(36, 1, [&](int64_t e0, int64_t e1) {
          kt.wino_wgrad_gemm(G->f32(), gsc, V->f32(), vsc, Lc, K, C, e0, e1, accumulate, dWt->f32() + s * sums);
        });
      });
  } else {
    parallel_chunks(shares, [&](int s, int) {
      float* G = thread_scratch(0, 36 * gs);
      float* V = thread_scratch(1, 36 * vs);
      each_chunk(s, G, V, [&](int64_t Lc, int64_t gsc, int64_t vsc, bool accumulate) {
        kt.wino_wgrad_gemm(G, gsc, V, vsc, Lc, K, C, 0, 36, accumulate, dWt->f32() + s * sums);
      });
    });
  }
  reduce_lanes(dWt->f32(), 36 * pairs, lanes, shares);
  return dWt;
}

// The inverse of split_kernel5 (without flip): blocks (K, 4 * C, 3, 3) -> dw: (K,C,5,5), each block's
// rows and columns past the 5x5 dropped.
void join_kernel5(const ConvGeom& g, const float* blocks, float* dw) {
  const int64_t C4 = kKernelBlocks5 * g.C;
  parallel_for(g.K, 16, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k)
      for (int64_t kb = 0; kb < kKernelBlocks5; ++kb)
        for (int64_t c = 0; c < g.C; ++c) {
          const float* src = blocks + (k * C4 + kb * g.C + c) * 9;
          float* dst = dw + (k * g.C + c) * 25 + block_top(kb) * 5 + block_left(kb);
          const int64_t rows = std::min<int64_t>(3, 5 - block_top(kb)), cols = std::min<int64_t>(3, 5 - block_left(kb));
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t q = 0; q < cols; ++q) dst[r * 5 + q] = src[r * 3 + q];
        }
  });
}

}  // namespace

void set_conv_wino_enabled(bool enabled) { current_env().conv_winograd = enabled; }
bool conv_wino_enabled() { return current_env().conv_winograd; }

bool conv_wino_applies(const ConvGeom& g) {
  if (!conv_wino_enabled() || !current_env().conv_fast_path) return false;
  const auto& p = g.p;
  if (g.R != g.S || (g.R != 3 && g.R != 5) || p.stride_h != 1 || p.stride_w != 1 || p.dil_h != 1 || p.dil_w != 1 ||
      g.G != 1)
    return false;
  // Padding up to R - 1 keeps the input gradient a Winograd convolution too (padding R - 1 - pad).
  if (p.pad_h > g.R - 1 || p.pad_w > g.R - 1 || g.P < 1 || g.Q < 1) return false;
  if (g.C < (g.R == 5 ? kMinChannels5 : kMinChannels) || g.K < kMinChannels) return false;
  // The tile kernels address a batch, and the weight transform the weights, with int32 offsets.
  constexpr int64_t kMaxOffset = int64_t{1} << 31;
  if (g.N * g.C * g.H * g.W >= kMaxOffset || g.N * g.K * g.P * g.Q >= kMaxOffset) return false;
  if (g.K * g.C * 36 >= kMaxOffset) return false;
  // Output planes of at most 4 values (2x2: one tile a quarter used) save no products over the
  // direct count, so only the per-pair weight transforms are left to pay for; beyond 128 x 128
  // channel pairs they cost more than the GEMM path (256 -> 256 on 2x2 planes, batch 64, training
  // step 28.7 ms here against 12.8; up to 128 x 128 the GEMM path's short sums are the slower).
  if (g.P * g.Q <= 4 && g.C * g.K > 128 * 128) return false;
  // Fewer tiles than half a block would leave most lanes idle.
  return 2 * g.N * ((g.P + 3) / 4) * ((g.Q + 3) / 4) >= kernels().wino_tiles;
}

namespace {

// The forward's transformed weights (3x3, or a 5x5 kernel's four blocks as input channels), then
// run_forward.
void forward(const ConvGeom& g, const float* x, const float* w, const float* b, const float* residual, float* y,
             bool relu, const PoolDst* pool) {
  const int64_t Kp = round_up(g.K, kernels().wino_kblock);
  const TensorPtr U = transformed_weights(g, w, false);
  run_forward(wino_geom(g.C, g.H, g.W, g.p.pad_h, g.p.pad_w, g.P, g.Q), g.N, x, U->f32(), g.K, Kp, b, residual, relu,
              y, kernel_blocks(g), pool);
}

}  // namespace

void conv_wino_forward(const ConvGeom& g, const float* x, const float* w, const float* b, const float* residual,
                       float* y, bool relu) {
  forward(g, x, w, b, residual, y, relu, nullptr);
}

void conv_wino_forward_relu_pool(const ConvGeom& g, const float* x, const float* w, const float* b, float* ypool,
                                 int32_t* argmax) {
  const PoolDst pool{ypool, argmax};
  forward(g, x, w, b, nullptr, nullptr, true, &pool);
}

void conv_wino_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* dx, float* dw,
                        const float* dx_add) {
  const Kernels& kt = kernels();
  const int64_t blocks = kernel_blocks(g);
  if (dx) {
    // The input gradient is the convolution of gy with the flipped kernel, padded by R - 1 - pad.
    const TensorPtr U = transformed_weights(g, w, true);
    run_forward(wino_geom(g.K, g.P, g.Q, g.R - 1 - g.p.pad_h, g.R - 1 - g.p.pad_w, g.H, g.W), g.N, gy, U->f32(), g.C,
                round_up(g.C, kt.wino_kblock), nullptr, dx_add, false, dx, blocks);
  }
  if (dw) {
    const WinoGeom wg = wino_geom(g.C, g.H, g.W, g.p.pad_h, g.p.pad_w, g.P, g.Q);
    const int64_t pairs = g.K * blocks * g.C;
    auto dWt = wgrad_sums(wg, g.N, g.K, x, gy, blocks);
    const float* pdWt = dWt->f32();
    // dw = G^T dWt G per channel pair (per kernel block, joined into the 5x5 after).
    const TensorPtr part = blocks > 1 ? empty({pairs * 9}) : nullptr;
    float* out = part ? part->f32() : dw;
    parallel_for(pairs, 256, [&](int64_t q0, int64_t q1) { kt.wino_wgrad_out(pdWt, pairs, q0, q1, out); });
    if (part) join_kernel5(g, part->f32(), dw);
  }
}

}  // namespace dlf
