// The general convolution: im2col + GEMM, for every stride, padding, dilation and group count.
// Images are lowered in batches of nb (conv_gemm.cc picks nb so that nb * P * Q is ~256 columns):
// a GEMM over one small image (an 8x8 plane: 64 columns) spends more time packing than multiplying,
// and the weight gradient's GEMM then sums over nb images at once. The batches depend only on the
// shape, and per-batch weight-gradient partials are summed in batch order: the same bits at any
// thread count.
#pragma once
#include <cstdint>

#include "nn/ops.h"
#include "tensor/tensor.h"

namespace dlf {

struct ConvGeom {
  int64_t N, C, H, W, K, R, S, P, Q, G, Cg, Kg;
  Conv2dParams p;
  int64_t col_rows() const { return Cg * R * S; }
  int64_t pq() const { return P * Q; }
  // 1x1, stride 1, no padding: the image is its own im2col matrix.
  bool is_pointwise() const {
    return R == 1 && S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
  }
};

inline ConvGeom geometry(const Shape& xs, const Shape& ws, const Conv2dParams& p) {
  ConvGeom g{};
  g.N = xs[0];
  g.C = xs[1];
  g.H = xs[2];
  g.W = xs[3];
  g.K = ws[0];
  g.R = ws[2];
  g.S = ws[3];
  g.G = p.groups;
  g.Cg = g.C / g.G;
  g.Kg = g.K / g.G;
  g.p = p;
  g.P = conv_output_size(g.H, p.pad_h, p.dil_h, g.R, p.stride_h);
  g.Q = conv_output_size(g.W, p.pad_w, p.dil_w, g.S, p.stride_w);
  return g;
}
// x: (N,C,H,W), w: (K,Cg,R,S), b: (K) or null -> y: (N,K,P,Q), then max(y, 0) when `relu`
void conv_forward_general(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu);

// gy: (N,K,P,Q) -> dx: (N,C,H,W) (overwritten), dw: (K,Cg,R,S) (overwritten); either may be null
void conv_backward_general(const ConvGeom& g, const float* x, const float* w, const float* gy, float* dx, float* dw);

}  // namespace dlf
