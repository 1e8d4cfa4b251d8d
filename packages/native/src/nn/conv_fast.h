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

// x: (N,C,H,W), w: (K,C,R,S), b: (K) or null -> y: (N,K,P,Q), ReLU fused when `relu`.
void conv_fast_forward(const ConvFastShape& s, const float* x, const float* w, const float* b, float* y, bool relu);

// gy: (N,K,P,Q) output gradient, masked by y > 0 when y is given (the fused ReLU's output) ->
// dx: (N,C,H,W) overwritten, dw: (K,C,R,S) overwritten, db: (K) overwritten; each may be null.
void conv_fast_backward(const ConvFastShape& s, const float* x, const float* w, const float* gy, const float* y,
                        float* dx, float* dw, float* db);

}  // namespace dlf
