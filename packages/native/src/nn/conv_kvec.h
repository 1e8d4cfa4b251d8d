// Strided convolutions as direct convolutions vectorised over output channels (isa/conv_kvec.h has
// the kernels): the forward of undilated layers of stride 2 or more, any kernel size, padding and
// group count (depthwise layers have their own path), the weight gradient of those 2 to 8 taps
// wide on planes at least a vector wide, and the input gradient of 3x3 stride-2 ones; the others stay on the batched im2col + GEMM path
// (conv_gemm.cc). conv.cc asks conv_kvec_applies(), conv_kvec_wgrad_applies() and
// conv_kvec_dgrad_applies() first.
#pragma once
#include <cstdint>

#include "nn/conv_gemm.h"

namespace dlf {

/** True when the forward of this geometry runs on the output-channel-vectorised kernel. */
bool conv_kvec_applies(const ConvGeom& g);

// x: (N,C,H,W), w: (K,Cg,R,S), b: (K) or null -> y: (N,K,P,Q), ReLU fused when `relu`
void conv_kvec_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu);

/** True when the weight gradient of this geometry runs on the output-channel-vectorised kernel. */
bool conv_kvec_wgrad_applies(const ConvGeom& g);

// x: (N,C,H,W), gy: (N,K,P,Q) -> dw: (K,Cg,R,S), overwritten
void conv_kvec_backward_weights(const ConvGeom& g, const float* x, const float* gy, float* dw);

/** True when the input gradient of this geometry runs on the output-channel-vectorised kernel. */
bool conv_kvec_dgrad_applies(const ConvGeom& g);

// w: (K,Cg,3,3), gy: (N,K,P,Q) -> dx: (N,C,H,W), overwritten
void conv_kvec_backward_data(const ConvGeom& g, const float* w, const float* gy, float* dx);

}  // namespace dlf
