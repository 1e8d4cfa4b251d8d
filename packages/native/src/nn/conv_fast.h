// Specialised convolution for the shapes small vision models use: stride 1, dilation 1, one group,
// padding at most the kernel size minus one, and few channels. A direct convolution over a
// zero-padded copy of each image (isa/conv.h) replaces im2col + GEMM. The caller checks
// conv_fast_applies() and falls back to the general im2col path otherwise.
#pragma once
#include <cstdint>

#include "nn/ops.h"

namespace dlf {

struct ConvFastShape {
  int64_t N, C, H, W, K, R, S;
  Conv2dParams p;
};

/** True when the fast path handles this geometry (and it is enabled: see set_conv_fast_enabled). */
bool conv_fast_applies(const ConvFastShape& s);
/** Turns the fast path off (tests compare it against the general path). */
void set_conv_fast_enabled(bool enabled);
bool conv_fast_enabled();

/** Bytes of the ReLU bit mask conv_fast_forward writes for this geometry: (N,K,P,2*ceil(Q/16)). */
int64_t conv_fast_relu_bits_size(const ConvFastShape& s);

// x: (N,C,H,W), w: (K,C,R,S), b: (K) or null -> y: (N,K,P,Q), ReLU fused when `relu`.
// relu_bits (with relu, or null): conv_fast_relu_bits_size() bytes, one bit per output, set where
// y > 0; the backward reads it (1/32 of y's bytes) instead of y.
void conv_fast_forward(const ConvFastShape& s, const float* x, const float* w, const float* b, float* y, bool relu,
                       uint8_t* relu_bits);

// gy: (N,K,P,Q) output gradient, masked by the fused ReLU: by relu_bits when given, else by y > 0
// when y is given -> dx: (N,C,H,W), dw: (K,C,R,S), db: (K), each overwritten, each may be null.
void conv_fast_backward(const ConvFastShape& s, const float* x, const float* w, const float* gy, const float* y,
                        const uint8_t* relu_bits, float* dx, float* dw, float* db);

}  // namespace dlf
