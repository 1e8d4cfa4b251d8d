// Specialised convolution for the shapes small vision models use: stride 1, dilation 1, one group,
// padding at most the kernel size minus one, and few channels. A direct convolution over a
// zero-padded copy of each image (isa/conv.h) replaces im2col + GEMM; with AVX-512 the 3-row kernels
// run as Winograd F(2,3) over the rows, which can also fuse ReLU + 2x2 max pooling. The caller checks
// conv_fast_applies() and falls back to the general im2col path otherwise.
#pragma once
#include <cstdint>

#include "nn/conv_gemm.h"
#include "nn/ops.h"

namespace dlf {

struct ConvFastShape {
  int64_t N, C, H, W, K, R, S;
  Conv2dParams p;
};

inline ConvFastShape fast_shape(const ConvGeom& g) { return ConvFastShape{g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.p}; }

/** True when the fast path handles this geometry (and it is enabled: see set_conv_fast_enabled). */
bool conv_fast_applies(const ConvFastShape& s);
/** Turns the fast path off in the current environment (tests compare it against the general path). */
void set_conv_fast_enabled(bool enabled);
bool conv_fast_enabled();

/** Bytes of the ReLU bit mask conv_fast_forward writes for this geometry: (N,K,P,2*ceil(Q/16)). */
int64_t conv_fast_relu_bits_size(const ConvFastShape& s);

// x: (N,C,H,W), w: (K,C,R,S), b: (K) or null -> y: (N,K,P,Q), ReLU fused when `relu`.
// relu_bits (with relu, or null): conv_fast_relu_bits_size() bytes, one bit per output, set where
// y > 0; the backward reads it (1/32 of y's bytes) instead of y.
void conv_fast_forward(const ConvFastShape& s, const float* x, const float* w, const float* b, float* y, bool relu,
                       uint8_t* relu_bits);

/** True when conv_fast_forward_relu_pool handles this geometry (the AVX-512 Winograd tile pools). */
bool conv_fast_pool_applies(const ConvFastShape& s);

// x: (N,C,H,W), w: (K,C,R,S), b: (K) or null -> ypool: (N,K,P/2,Q/2) = maxpool2x2(relu(conv(x))) and
// code: (N,K,P/2,Q/2) bytes, each maximum's place in its 2x2 window (0..3 row-major).
void conv_fast_forward_relu_pool(const ConvFastShape& s, const float* x, const float* w, const float* b, float* ypool,
                                 uint8_t* code);

// The gradient reaching the convolution's output: gy (N,K,P,Q), masked by the fused ReLU (by
// relu_bits when given, else where y is not <= 0 when y is given); or, after a fused 2x2 max pool, gpool
// (N,K,P/2,Q/2) with that op's ypool and code.
struct ConvGradSource {
  const float* gy = nullptr;
  const float* y = nullptr;
  const uint8_t* relu_bits = nullptr;
  const float* gpool = nullptr;
  const float* ypool = nullptr;
  const uint8_t* code = nullptr;
};

// -> dx: (N,C,H,W), dw: (K,C,R,S), db: (K), each overwritten, each may be null.
void conv_fast_backward(const ConvFastShape& s, const float* x, const float* w, const ConvGradSource& grad, float* dx,
                        float* dw, float* db);

}  // namespace dlf
