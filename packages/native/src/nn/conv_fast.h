// Specialised convolution kernels for the shapes small vision models use (stride 1, 3x3 and friends,
// few channels). Each returns false when it does not handle the given geometry, and the caller
// falls back to the general im2col path.
#pragma once
#include <cstdint>

#include "nn/ops.h"

namespace dlf {

// x: (N,C,H,W), w: (K,C,R,S), b: (K) or null -> y: (N,K,P,Q), ReLU fused when `relu`.
bool conv_fast_forward(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S,
                       const Conv2dParams& p, const float* x, const float* w, const float* b, float* y, bool relu);
// gy: (N,K,P,Q) -> dx: (N,C,H,W) accumulated (may be null), dw: (K,C,R,S) overwritten (may be null).
bool conv_fast_backward(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S,
                        const Conv2dParams& p, const float* x, const float* w, const float* gy, float* dx, float* dw);

}  // namespace dlf
