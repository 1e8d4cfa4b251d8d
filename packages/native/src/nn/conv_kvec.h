// The forward of strided convolutions as a direct convolution vectorised over output channels
// (isa/conv_kvec.h has the kernel): undilated layers of stride 2 or more, any kernel size, padding
// and group count (depthwise layers have their own path). Their gradients stay on the batched
// im2col + GEMM path (conv_gemm.cc). conv.cc asks conv_kvec_applies() first.
#pragma once
#include <cstdint>

#include "nn/conv_gemm.h"

namespace dlf {

/** True when the forward of this geometry runs on the output-channel-vectorised kernel. */
bool conv_kvec_applies(const ConvGeom& g);

// x: (N,C,H,W), w: (K,Cg,R,S), b: (K) or null -> y: (N,K,P,Q), ReLU fused when `relu`
void conv_kvec_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu);

}  // namespace dlf
