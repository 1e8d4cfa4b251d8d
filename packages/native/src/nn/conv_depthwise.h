// Depthwise convolution (groups == input channels, any channel multiplier K/C, stride, padding and
// dilation): per-plane vector kernels (isa/conv_depthwise.h) instead of a per-group im2col + GEMM,
// whose GEMMs have one input channel and cost ~100x more. conv.cc checks conv_depthwise_applies().
#pragma once
#include <cstdint>

#include "nn/ops.h"

namespace dlf {

struct ConvDwShape {
  int64_t N, C, H, W, K, R, S;
  Conv2dParams p;
};

/** Small-plane layers with channels in the vector lanes (on by default); tests compare both paths. */
void set_conv_dw_blocked_enabled(bool enabled);
bool conv_dw_blocked_enabled();

/** True when the depthwise kernels handle this geometry (and the fast paths are enabled). */
bool conv_depthwise_applies(const ConvDwShape& s);

// x: (N,C,H,W), w: (K,1,R,S), b: (K) or null -> y: (N,K,P,Q), ReLU fused when `relu`.
void conv_depthwise_forward(const ConvDwShape& s, const float* x, const float* w, const float* b, float* y,
                            bool relu);

// As conv_depthwise_forward, in the calling thread only (a pool worker's share of a larger op). Uses
// the thread's scratch slots 0, 1 and 3.
void conv_depthwise_forward_serial(const ConvDwShape& s, const float* x, const float* w, const float* b, float* y,
                                   bool relu);

// gy: (N,K,P,Q) (already masked by a fused ReLU) -> dx: (N,C,H,W), dw: (K,1,R,S), each overwritten,
// each may be null. Each channel is reduced by one thread in a fixed order: the same bits at any
// thread count.
void conv_depthwise_backward(const ConvDwShape& s, const float* x, const float* w, const float* gy, float* dx,
                             float* dw);

}  // namespace dlf
