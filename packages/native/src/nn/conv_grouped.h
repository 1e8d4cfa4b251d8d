// Grouped convolutions (1 < groups, not depthwise) whose one-group shape has a faster kernel than
// the batched im2col + GEMM path: Winograd F(4x4,3x3) (conv_wino.cc) or the direct kernels of
// conv_fast.cc. Each group runs as a convolution of its own on a contiguous copy of its channels;
// the copies cost a pass over the group's input and output, the GEMM path's few-row products
// (10 channels a group: 13% of FMA peak) cost more. conv.cc asks conv_grouped_applies() after the
// depthwise kernels and before the GEMM path; strided grouped layers stay on conv_kvec.cc.
#pragma once

#include "nn/conv_gemm.h"

namespace dlf {

/** True when each group of this geometry runs on a single-group fast kernel. */
bool conv_grouped_applies(const ConvGeom& g);

// x: (N,C,H,W), w: (K,C/G,R,S), b: (K) or null -> y: (N,K,P,Q), ReLU fused when `relu`
void conv_grouped_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu);

// gy: (N,K,P,Q) (a fused ReLU's mask already applied) -> dx: (N,C,H,W), dw: (K,C/G,R,S), each
// overwritten, each may be null
void conv_grouped_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* dx, float* dw);

}  // namespace dlf
