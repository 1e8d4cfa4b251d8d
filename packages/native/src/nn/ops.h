// Neural-network ops (conv, pooling, normalisation, dropout, linear; activations are in the op table,
// src/ops.def). Differentiable ops. Each takes resolved arguments (TypeScript validated and resolved shapes),
// re-checks what could corrupt memory, runs its forward kernel and, when an input requires grad,
// records a node whose backward kernel accumulates into the inputs' gradients.
#pragma once
#include <cmath>
#include <utility>
#include <cstdint>
#include <vector>

#include "math/ops.h"
#include "tensor/tensor.h"

namespace dlf {

/** x (..., in) @ w(out, in)^T + b(out); `relu` fuses a ReLU. */
TensorPtr linear(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, bool relu);

struct Conv2dParams {
  int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
};
/** Output positions along one dim: 0 when the dilated kernel is larger than the padded input (C++
 * division truncates toward zero, which made that case 1 at strides above 1). */
inline int64_t conv_output_size(int64_t in, int64_t pad, int64_t dil, int64_t kernel, int64_t stride) {
  const int64_t span = in + 2 * pad - dil * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}
/** x (N,C,H,W), w (K,C/groups,R,S), b (K) or null -> (N,K,P,Q); `relu` fuses a ReLU. */
TensorPtr conv2d(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, const Conv2dParams& p, bool relu);
/** The convolution algorithms conv2d chooses from (one per pass, by layer shape: nn/conv.cc). */
enum class ConvAlgo : uint8_t { Dense, Depthwise, Grouped, Winograd, Direct, ChannelVectorised, Gemm };
struct ConvPlan {
  ConvAlgo forward, input_grad, weight_grad;
};
/** What conv2d runs for x: (N,C,H,W), w: (K,C/groups,R,S) with these parameters, in the current environment. */
ConvPlan conv2d_plan(const TensorPtr& x, const TensorPtr& w, const Conv2dParams& p);
const char* conv_algo_name(ConvAlgo a);
/** conv2d(x, w, b) + residual (then a ReLU when `relu`), residual of the output's shape: one op where
 * the Winograd kernels add it as they write (inference); otherwise the ops it stands for. */
TensorPtr conv2d_add(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, const Conv2dParams& p,
                     const TensorPtr& residual, bool relu);
/** maxpool2x2(relu(conv2d(x, w, b))) (kernel 2, stride 2, no padding) as one op where the fast kernels
 * can pool; otherwise the two ops. */
TensorPtr conv2d_relu_maxpool2x2(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, const Conv2dParams& p);

/** The activation after a conv chain stage's bias: none, ReLU, ReLU6 or hardswish. */
enum class ChainActivation : uint8_t { None, Relu, Relu6, Hardswish };
struct ChainStage {
  TensorPtr weight, bias;  // a 1x1 conv (K,C,1,1) with stride 1 and no padding, or a depthwise one (C,1,R,S)
  Conv2dParams params;
  ChainActivation act;
};
/** x (N,C,H,W) through each stage in turn (conv + bias + activation), image by image: inference only
 * (records no graph). Intermediate activations stay in each thread's scratch (nn/conv_chain.cc). With a
 * residual (the output's shape), the last stage adds it before its activation (a residual join). */
TensorPtr conv_chain(const TensorPtr& x, const std::vector<ChainStage>& stages, const TensorPtr& residual);

struct Pool2dParams {
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};
TensorPtr max_pool2d(const TensorPtr& x, const Pool2dParams& p);
// gy: (planes, H/2, W/2), argmax: each maximum's index in its (H,W) plane (a 2x2 / stride 2 pool's)
// -> dx: (planes, H, W), overwritten: gy at the maxima, zero elsewhere. Planes split over the pool.
void max_unpool2x2(const float* gy, const int32_t* argmax, int64_t planes, int64_t H, int64_t W, float* dx);
TensorPtr avg_pool2d(const TensorPtr& x, const Pool2dParams& p);
TensorPtr adaptive_avg_pool2d(const TensorPtr& x, int64_t out_h, int64_t out_w);

/** max(a + b, 0) for two tensors of one shape (a residual block's join) in one pass. */
TensorPtr add_relu(const TensorPtr& a, const TensorPtr& b);

/** Inverted dropout: zeroes with probability p, scales the rest by 1/(1-p). */
TensorPtr dropout(const TensorPtr& x, double p, uint64_t seed, uint64_t offset);

/** Batch norm over (N, H, W) per channel; updates running stats in place when training. `residual`
 * (x's shape, or null) is added after the affine step, and `relu` fuses a ReLU into the same pass
 * (its backward recomputes the mask from the saved normalised input, or, with a residual, reads the
 * saved output), clipped at `relu_clip` (6: ReLU6; +inf: ReLU). `max_pool2x2` (with the ReLU, without a
 * residual) then pools each plane 2x2 / stride 2 while it is in cache: y is (N, C, H/2, W/2).
 * `hardswish` (without a residual or a pool) fuses a hardswish instead of the ReLU. */
TensorPtr batch_norm2d(const TensorPtr& x, const TensorPtr& weight, const TensorPtr& bias, const TensorPtr& running_mean,
                       const TensorPtr& running_var, bool training, double momentum, double eps, bool relu = false,
                       const TensorPtr& residual = nullptr, double relu_clip = HUGE_VAL, bool max_pool2x2 = false,
                       bool hardswish = false);
/** The activation fused after a batch norm: none, a ReLU clipped at `clip` (6: ReLU6), or hardswish. */
struct BnActivation {
  bool on = false;
  float clip = HUGE_VALF;
  bool hardswish = false;
};
/** Whether batch_norm_depthwise runs fused for x: (N,C,H,W), w: (C,1,R,S) with these parameters (else
 * it runs the two ops). */
bool batch_norm_depthwise_applies(const Shape& x, const Shape& w, const Conv2dParams& p);
/** A training-mode batch norm's arguments (vectors (C) or null). */
struct BatchNormArgs {
  TensorPtr gamma, beta, running_mean, running_var;
  double momentum = 0.1, eps = 1e-5;
  BnActivation act;
};
/** conv2d(act(batch_norm2d(x, pre..., training)), w, b, p) for a depthwise w: (C,1,R,S) (groups = C), then
 * (post non-null) a second batch norm + activation, channel by channel without the normalised tensors in
 * memory (nn/bn_depthwise.cc); the same bits as the ops. */
TensorPtr batch_norm_depthwise(const TensorPtr& x, const BatchNormArgs& pre, const TensorPtr& w, const TensorPtr& b,
                               const Conv2dParams& p, const BatchNormArgs* post);
// w: (K, ...), b/gamma/beta: (K) or null, mean/var: (K) -> {w * s, (b - mean) * s + beta} per output channel k,
// s = gamma / sqrt(var + eps): an evaluation-mode BatchNorm2d folded into the conv before it. Not differentiable
// (no graph is recorded); nn's fusion calls it under noGrad and composes differentiable ops otherwise.
std::pair<TensorPtr, TensorPtr> fold_batch_norm(const TensorPtr& w, const TensorPtr& b, const TensorPtr& gamma,
                                                const TensorPtr& beta, const TensorPtr& mean, const TensorPtr& var,
                                                double eps);

}  // namespace dlf
