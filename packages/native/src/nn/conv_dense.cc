#include "nn/conv_dense.h"

#include <algorithm>
#include <vector>

#include "isa/relu.h"
#include "runtime/env_state.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

// The dense matrix is built per call: 32 MB at most (twice what 512 -> 512 channels on 2x2 planes need).
constexpr int64_t kMaxDenseFloats = int64_t{1} << 23;

// Input pixel (c's plane offset) that tap (r, s) joins to output pixel (oh, ow), or -1 in padding.
int64_t joined_pixel(const ConvGeom& g, int64_t oh, int64_t ow, int64_t r, int64_t s) {
  const int64_t ih = oh * g.p.stride_h - g.p.pad_h + r * g.p.dil_h;
  const int64_t iw = ow * g.p.stride_w - g.p.pad_w + s * g.p.dil_w;
  return ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? ih * g.W + iw : -1;
}

// The tap joining output pixel p to input pixel h: taps[p * H*W + h] (conv_dense_applies: exactly
// one tap joins each pair).
std::vector<int32_t> tap_table(const ConvGeom& g) {
  std::vector<int32_t> taps(g.pq() * g.H * g.W, 0);
  for (int64_t p = 0; p < g.pq(); ++p)
    for (int64_t t = 0; t < g.R * g.S; ++t) {
      const int64_t h = joined_pixel(g, p / g.Q, p % g.Q, t / g.S, t % g.S);
      if (h >= 0) taps[p * g.H * g.W + h] = static_cast<int32_t>(t);
    }
  return taps;
}

// w: (K,C,R,S) -> D: (K*P*Q, C*H*W), D[(k,p), (c,h)] = w[k,c,taps[p,h]], written in order.
void build_dense(const ConvGeom& g, const float* w, const std::vector<int32_t>& taps, float* D) {
  const int64_t pq = g.pq(), hw = g.H * g.W, rs = g.R * g.S;
  parallel_for(g.K, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k)
      for (int64_t p = 0; p < pq; ++p) {
        const int32_t* tp = taps.data() + p * hw;
        const float* wk = w + k * g.C * rs;
        float* row = D + (k * pq + p) * g.C * hw;
        for (int64_t c = 0; c < g.C; ++c, wk += rs, row += hw)
          for (int64_t h = 0; h < hw; ++h) row[h] = wk[tp[h]];
      }
  });
}

}  // namespace

bool conv_dense_applies(const ConvGeom& g) {
  // A tap joins an output pixel to at most R*S input pixels: larger planes never qualify (checked
  // first, so the count below stays small on every layer's plan).
  if (!current_env().conv_fast_path || g.G != 1 || g.R * g.S < 2 || g.H * g.W > g.R * g.S) return false;
  if (g.K * g.pq() * g.C * g.H * g.W > kMaxDenseFloats) return false;
  // Only where a tap joins every output pixel to every input pixel: no product of D is a padding
  // zero, so an Inf in the input reaches exactly the outputs it should (0 * Inf would be NaN), and
  // D has no zeros to write.
  int64_t joined = 0;
  for (int64_t p = 0; p < g.pq(); ++p)
    for (int64_t t = 0; t < g.R * g.S; ++t) joined += joined_pixel(g, p / g.Q, p % g.Q, t / g.S, t % g.S) >= 0;
  return joined == g.pq() * g.H * g.W;
}

void conv_dense_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu) {
  const int64_t rows = g.K * g.pq(), cols = g.C * g.H * g.W, pq = g.pq();
  auto D = empty({rows * cols});
  build_dense(g, w, tap_table(g), D->f32());
  // Y (N x K*P*Q) = X (N x C*H*W) D^T
  kernels().sgemm(false, true, g.N, rows, cols, 1.f, x, cols, D->f32(), cols, 0.f, y, rows, GemmEpilogue{});
  if (!b && !relu) return;
  parallel_for(g.N * g.K, 64, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      float* plane = y + i * pq;
      const float bias = b ? b[i % g.K] : 0.f;
      for (int64_t j = 0; j < pq; ++j) {
        const float v = plane[j] + bias;
        plane[j] = relu ? relu_value(v) : v;
      }
    }
  });
}

void conv_dense_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* dx, float* dw) {
  const int64_t rows = g.K * g.pq(), cols = g.C * g.H * g.W, pq = g.pq(), hw = g.H * g.W, rs = g.R * g.S;
  const std::vector<int32_t> taps = tap_table(g);
  auto D = empty({rows * cols});
  if (dx) {
    build_dense(g, w, taps, D->f32());
    // dX (N x C*H*W) = dY (N x K*P*Q) D
    kernels().sgemm(false, false, g.N, cols, rows, 1.f, gy, rows, D->f32(), cols, 0.f, dx, cols, GemmEpilogue{});
  }
  if (!dw) return;
  // dD (K*P*Q x C*H*W) = dY^T X, then each tap sums the pixel pairs it joins, in output-pixel order.
  float* dD = D->f32();
  kernels().sgemm(true, false, rows, cols, g.N, 1.f, gy, rows, x, cols, 0.f, dD, cols, GemmEpilogue{});
  parallel_for(g.K, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      float* wk = dw + k * g.C * rs;
      std::fill(wk, wk + g.C * rs, 0.f);
      for (int64_t p = 0; p < pq; ++p) {
        const int32_t* tp = taps.data() + p * hw;
        const float* row = dD + (k * pq + p) * cols;
        float* wc = wk;
        for (int64_t c = 0; c < g.C; ++c, wc += rs, row += hw)
          for (int64_t h = 0; h < hw; ++h) wc[tp[h]] += row[h];
      }
    }
  });
}

}  // namespace dlf
