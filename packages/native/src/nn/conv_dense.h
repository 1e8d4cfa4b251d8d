// Convolutions whose input plane holds no more pixels than the kernel has taps (a 3x3 layer on 2x2
// or 1x1 planes: the last stages of a VGG on 32x32 input). Every output pixel then reads most of
// the plane, so the layer is one dense matrix per image: y_n = D x_n, D: (K*P*Q, C*H*W) built from
// the weights (zero where no tap joins an output to an input pixel). Its products are the pairs
// of pixels a tap joins (16 a channel pair on 2x2 planes, against im2col's 36 of which 20 meet
// padding), with no im2col: forward, input gradient and weight gradient are each one GEMM over
// the whole batch. conv.cc asks conv_dense_applies() first.
#pragma once
#include <cstdint>

#include "nn/conv_gemm.h"

namespace dlf {

/** True when this geometry runs as one dense matrix per image. */
bool conv_dense_applies(const ConvGeom& g);

// x: (N,C,H,W), w: (K,C,R,S), b: (K) or null -> y: (N,K,P,Q), ReLU fused when `relu`
void conv_dense_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu);

// gy: (N,K,P,Q) -> dx: (N,C,H,W), dw: (K,C,R,S); each overwritten, each may be null
void conv_dense_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* dx, float* dw);

}  // namespace dlf
