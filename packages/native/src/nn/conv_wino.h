// Winograd F(4x4,3x3) convolution for stride-1 3x3 layers of many channels, and 5x5 layers as four
// 3x3 blocks (isa/conv_wino43.h has the kernels): forward, input gradient (the forward of the
// flipped, transposed kernel) and weight gradient (summed over tiles in the transformed domain).
// conv.cc asks conv_wino_applies() first.
#pragma once
#include <cstdint>

#include "nn/conv_gemm.h"

namespace dlf {

/** True when Winograd F(4x4,3x3) (3x3 or 5x5 kernels) is the algorithm for this geometry (and it is enabled). */
bool conv_wino_applies(const ConvGeom& g);
/** Turns Winograd F(4x4,3x3) on or off in the current environment (tests compare the paths). */
void set_conv_wino_enabled(bool enabled);
bool conv_wino_enabled();

// x: (N,C,H,W), w: (K,C,R,S) (3x3 or 5x5), b: (K) or null, residual: (N,K,P,Q) or null -> y: (N,K,P,Q) = conv + b
// + residual, ReLU fused when `relu`
void conv_wino_forward(const ConvGeom& g, const float* x, const float* w, const float* b, const float* residual,
                       float* y, bool relu);

// x, w, b as conv_wino_forward -> ypool: (N,K,P/2,Q/2) = 2x2/2 max pool of relu(conv + b), each block
// of output tiles pooled while it is in cache (no full-size output written), and argmax (ypool's
// shape, or null): each maximum's index in its (P,Q) plane, as max_pool2d's. Needs P, Q >= 2.
void conv_wino_forward_relu_pool(const ConvGeom& g, const float* x, const float* w, const float* b, float* ypool,
                                 int32_t* argmax);

// gy: (N,K,P,Q) -> dx: (N,C,H,W) (+ dx_add, of dx's shape, when given), dw: (K,C,R,S); each
// overwritten, each may be null
void conv_wino_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* dx, float* dw,
                        const float* dx_add = nullptr);

}  // namespace dlf
