// A chain of 1x1 and depthwise convolutions run image by image (inference): the blocks of
// depthwise-separable nets (MobileNet's 1x1 expand -> 3x3 depthwise -> 1x1 project) widen the
// channels 6x between their ends, and layer by layer each widened tensor went to memory and back
// (a 144-channel 32x32 activation at batch 64 is 38 MB; one image's is 0.6 MB and stays in L2).
#include <algorithm>
#include <limits>

#include "autograd/node.h"
#include "nn/conv_depthwise.h"
#include "nn/conv_gemm.h"
#include "nn/conv_scratch.h"
#include "nn/ops.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

struct Stage {
  const float* w;
  const float* b;
  ConvDwShape s;  // one image: N = 1
  int64_t out_floats;  // one image's output
  bool depthwise;
  ChainActivation act;
};

// The activation a stage applies after its kernel's epilogue (which applies a plain ReLU itself).
bool activation_after(ChainActivation act, ActivationKind& kind) {
  switch (act) {
    case ChainActivation::Relu: kind = ActivationKind::Relu; return true;
    case ChainActivation::Relu6: kind = ActivationKind::Relu6; return true;
    case ChainActivation::Hardswish: kind = ActivationKind::Hardswish; return true;
    default: return false;
  }
}

// x: one image (C, H, W) -> y: its output, through every stage, the last one's activation after
// + residual (one image of the output's shape, or null); intermediates in slots 4 and 5.
void run_image(const std::vector<Stage>& stages, const float* x, const float* residual, float* y) {
  const Kernels& kt = kernels();
  const float* in = x;
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage& st = stages[i];
    const int64_t n = st.out_floats;
    const bool last = i + 1 == stages.size();
    float* out = last ? y : thread_scratch(4 + static_cast<int>(i % 2), n);
    const bool join = last && residual;
    // A plain ReLU in the kernels' epilogue; after a residual add (rounded as a separate add, as
    // conv2d + add + relu) and for the other activations, a pass over the image (still in cache).
    const bool relu = st.act == ChainActivation::Relu && !join;
    if (st.depthwise) {
      conv_depthwise_forward_serial(st.s, in, st.w, st.b, out, relu);
    } else {
      const int64_t hw = st.s.H * st.s.W;
      kt.sgemm_segments(false, st.s.K, st.s.C, st.w, st.s.C, in, hw, 0, out, hw, 0, 1, hw, GemmEpilogue{st.b, relu});
    }
    if (join)
      for (int64_t j = 0; j < n; ++j) out[j] += residual[j];
    if (ActivationKind kind; !relu && activation_after(st.act, kind)) kt.activation_forward(kind, out, out, n, 0.f);
    in = out;
  }
}

}  // namespace

TensorPtr conv_chain(const TensorPtr& x_in, const std::vector<ChainStage>& stages_in, const TensorPtr& residual_in) {
  expect_f32(x_in, "input");
  DLF_THROW_RANGE_IF(x_in->dim() != 4, "convChain: expected input (N,C,H,W) but received shape ", shape_str(x_in->shape));
  DLF_THROW_RANGE_IF(stages_in.empty(), "convChain: needs at least one stage");
  DLF_THROW_IF(grad_enabled() && any_requires_grad({&x_in}), "convChain: records no graph; call it under noGrad");
  std::vector<Stage> stages;
  int64_t C = x_in->shape[1], H = x_in->shape[2], W = x_in->shape[3];
  for (size_t i = 0; i < stages_in.size(); ++i) {
    const ChainStage& cs = stages_in[i];
    DLF_THROW_IF(!cs.weight || !cs.bias, "convChain: stage ", i, " needs a weight and a bias");
    expect_f32(cs.weight, "convChain weight");
    expect_f32(cs.bias, "convChain bias");
    DLF_THROW_IF(grad_enabled() && any_requires_grad({&cs.weight, &cs.bias}),
                 "convChain: records no graph; call it under noGrad");
    const Shape& ws = cs.weight->shape;
    const Conv2dParams& p = cs.params;
    DLF_THROW_RANGE_IF(ws.size() != 4, "convChain: stage ", i, " weight of shape ", shape_str(ws), " is not (K,C/groups,R,S)");
    DLF_THROW_RANGE_IF(p.stride_h < 1 || p.stride_w < 1 || p.dil_h < 1 || p.dil_w < 1 || p.pad_h < 0 || p.pad_w < 0,
                       "convChain: stage ", i, " needs positive stride and dilation and non-negative padding");
    const bool depthwise = p.groups != 1;
    if (depthwise) {
      DLF_THROW_RANGE_IF(p.groups != C || ws[0] != C || ws[1] != 1 || ws[2] * ws[3] > kDwMaxTaps,
                         "convChain: stage ", i, " is neither 1x1 nor depthwise (groups = channels = ", C,
                         ", one output per channel, at most ", kDwMaxTaps, " taps) with weight ", shape_str(ws));
    } else {
      DLF_THROW_RANGE_IF(ws[1] != C || ws[2] != 1 || ws[3] != 1 || p.stride_h != 1 || p.stride_w != 1 || p.pad_h != 0 ||
                             p.pad_w != 0,
                         "convChain: stage ", i, " weight of shape ", shape_str(ws), " is not a 1x1 convolution (stride 1, no padding) of ",
                         C, " channels");
    }
    DLF_THROW_RANGE_IF(cs.bias->dim() != 1 || cs.bias->shape[0] != ws[0], "convChain: stage ", i, " bias of shape ",
                       shape_str(cs.bias->shape), " does not match weight shape ", shape_str(ws));
    const ConvGeom g = geometry(Shape{1, C, H, W}, ws, p);
    DLF_THROW_RANGE_IF(g.P < 1 || g.Q < 1, "convChain: stage ", i, " input of ", H, "x", W,
                       " is too small for weight shape ", shape_str(ws));
    DLF_THROW_RANGE_IF(g.K > std::numeric_limits<int64_t>::max() / g.P / g.Q, "convChain: stage ", i,
                       " output is too large");
    stages.push_back(Stage{nullptr, nullptr, ConvDwShape{1, C, H, W, g.K, g.R, g.S, p}, g.K * g.P * g.Q, depthwise,
                           cs.act});
    C = g.K;
    H = g.P;
    W = g.Q;
  }
  const TensorPtr x = contiguous_data(x_in);
  std::vector<TensorPtr> weights, biases;  // kept alive (contiguous copies where needed) while the chain runs
  for (size_t i = 0; i < stages.size(); ++i) {
    weights.push_back(contiguous_data(stages_in[i].weight));
    biases.push_back(contiguous_data(stages_in[i].bias));
    stages[i].w = weights.back()->f32();
    stages[i].b = biases.back()->f32();
  }
  const int64_t N = x->shape[0], in_image = x->shape[1] * x->shape[2] * x->shape[3], out_image = C * H * W;
  const Shape out_shape{N, C, H, W};
  TensorPtr residual;
  if (residual_in) {
    expect_f32(residual_in, "residual");
    DLF_THROW_IF(grad_enabled() && any_requires_grad({&residual_in}), "convChain: records no graph; call it under noGrad");
    DLF_THROW_RANGE_IF(residual_in->shape != out_shape, "convChain: residual of shape ", shape_str(residual_in->shape),
                       " does not match the output shape ", shape_str(out_shape));
    residual = contiguous_data(residual_in);
  }
  auto y = empty(out_shape);
  const float* px = x->f32();
  const float* pr = residual ? residual->f32() : nullptr;
  float* py = y->f32();
  // Each image is computed whole by one thread, the same way at any thread count.
  parallel_for(N, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      run_image(stages, px + n * in_image, pr ? pr + n * out_image : nullptr, py + n * out_image);
  });
  return y;
}

}  // namespace dlf
