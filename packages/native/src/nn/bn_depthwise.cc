// BatchNorm2d (training: batch statistics) + activation + depthwise convolution as one op, channel
// by channel. In depthwise-separable nets (MobileNet) this pair sits on the widest activations, and
// both are per-channel ops: the normalised tensor F = act(bn(x)) is made plane by plane straight
// into the depthwise kernel's input buffer and never written, and in the backward each channel's
// gradient at F stays in a scratch (N planes, in L2) between the depthwise and the BN passes. Per
// pair that saves F's write and read in the forward and dF's write and read in the backward. Every
// kernel is the one the two ops run, in the same order: the results are bit for bit the composition's.
#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "nn/batch_norm.h"
#include "nn/conv_depthwise.h"
#include "nn/conv_scratch.h"
#include "nn/ops.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

struct BnDwSaved {
  ConvDwShape s;
  BnActivation act;
  std::vector<float> mean, invstd;
};

BnChannel channel_of(const BnDwSaved& v, const float* gamma, const float* beta, int64_t c) {
  return BnChannel{v.mean[c], v.invstd[c], gamma ? gamma[c] : 1.f, beta ? beta[c] : 0.f, v.act.clip, v.act.hardswish};
}

// The forward for channels [c0, c1): each plane normalised (+ activation) into a plane scratch, laid
// into the depthwise kernel's buffer and convolved (as conv_depthwise_forward's plane path).
void forward_channels(const BnDwSaved& v, const float* x, const float* gamma, const float* beta, const float* w,
                      const float* b, float* y, int64_t c0, int64_t c1) {
  const Kernels& kt = kernels();
  const ConvDwShape& s = v.s;
  const DwPlaneBackward pb(s, false, true);  // (its input buffer and pack_input)
  const DwPlane& g = pb.geometry();
  const int64_t xplane = s.H * s.W, yplane = g.P * g.Q, taps = s.R * s.S;
  const DwPlaneBackward::Buffers bufs = pb.buffers(xplane);
  for (int64_t c = c0; c < c1; ++c) {
    const BnChannel ch = channel_of(v, gamma, beta, c);
    for (int64_t n = 0; n < s.N; ++n) {
      kt.bn_channel_apply(x + (n * s.C + c) * xplane, nullptr, 1, xplane, xplane, ch, v.act.on, bufs.extra);
      pb.pack_input(bufs, bufs.extra);
      kt.conv_dw_forward(g, bufs.xbuf, w + c * taps, b ? b[c] : 0.f, false, y + (n * s.C + c) * yplane);
    }
  }
}

struct BnDepthwiseBackward final : Node {
  TensorPtr x, gamma, beta, w;
  BnDwSaved v;
  bool has_bias = false;
  const char* name() const override { return "BatchNorm2dDepthwiseBackward"; }
  void backward(const TensorPtr& g_in, std::vector<TensorPtr>& gin) override {
    const ConvDwShape& s = v.s;
    const TensorPtr gy = contiguous_data(g_in);
    const int64_t C = s.C, xplane = s.H * s.W, taps = s.R * s.S;
    const bool want_dx = needs_grad(0), want_bn = needs_grad(1) || needs_grad(2);
    const bool want_dw = needs_grad(3), want_db = has_bias && needs_grad(4);
    // dF is needed for any of x's, gamma's or beta's gradients; the weight gradient reads F itself.
    const bool want_df = want_dx || want_bn;
    const DwPlaneBackward pb(s, want_df, want_dw);
    const int64_t yplane = pb.geometry().P * pb.geometry().Q, vw = kernels().vector_floats;
    TensorPtr dx = want_dx ? empty(x->shape) : nullptr;
    TensorPtr dgamma = empty({C}), dbeta = empty({C});
    TensorPtr dw = want_dw ? empty(w->shape) : nullptr;
    TensorPtr db = want_db ? empty({C}) : nullptr;
    const float *px = x->f32(), *pg = gy->f32(), *pw = w->f32();
    const float* ga = gamma ? gamma->f32() : nullptr;
    const float* be = beta ? beta->f32() : nullptr;
    const double M = static_cast<double>(s.N * xplane);
    const Kernels& kt = kernels();
    parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
      // extra: the channel's dF planes, then a plane for F, the weight-gradient lanes and the flipped kernel
      const DwPlaneBackward::Buffers bufs = pb.buffers(s.N * xplane + xplane + taps * vw + taps);
      float* df = bufs.extra;
      float* fplane = df + s.N * xplane;
      float* dwv = fplane + xplane;
      float* flipped = dwv + taps * vw;
      for (int64_t c = c0; c < c1; ++c) {
        const BnChannel ch = channel_of(v, ga, be, c);
        std::fill(dwv, dwv + taps * vw, 0.f);
        if (pb.flips_weights()) flip_kernel(pw + c * taps, taps, flipped);
        for (int64_t n = 0; n < s.N; ++n) {
          const float* xp = px + (n * C + c) * xplane;
          if (want_dw) {  // F's plane again, for the depthwise weight gradient
            kt.bn_channel_apply(xp, nullptr, 1, xplane, xplane, ch, v.act.on, fplane);
            pb.pack_input(bufs, fplane);
          }
          float* dfp = want_df ? df + n * xplane : nullptr;
          pb.begin_plane(bufs);
          pb.plane(bufs, pg + (n * C + c) * yplane, pw + c * taps, flipped, false, dwv, dfp);
          pb.end_plane(bufs, dfp);
        }
        if (want_dw) reduce_weight_lanes(dwv, taps, vw, dw->f32() + c * taps);
        if (want_db) {
          double sum = 0.0;
          kt.bn_channel_stats(pg + c * yplane, s.N, C * yplane, yplane, 0.f, &sum, nullptr);
          db->f32()[c] = static_cast<float>(sum);
        }
        if (!want_df) continue;
        double sb = 0.0, sg = 0.0;
        kt.bn_planes_grad_sums(df, xplane, px + c * xplane, C * xplane, s.N, xplane, ch, v.act.on, &sb, &sg);
        dbeta->f32()[c] = static_cast<float>(sb);
        dgamma->f32()[c] = static_cast<float>(sg);
        if (!dx) continue;
        const float k = static_cast<float>(ch.gamma * ch.invstd / M);
        for (int64_t n = 0; n < s.N; ++n)
          kt.bn_channel_grad_input(df + n * xplane, px + (n * C + c) * xplane, 1, xplane, xplane, ch, v.act.on, true,
                                   k, static_cast<float>(M), static_cast<float>(sb), static_cast<float>(sg),
                                   dx->f32() + (n * C + c) * xplane);
      }
    });
    gin[0] = dx;
    if (needs_grad(1)) gin[1] = dgamma;
    if (needs_grad(2)) gin[2] = dbeta;
    if (want_dw) gin[3] = dw;
    if (want_db) gin[4] = db;
  }
  void release_saved() override {
    x.reset();
    gamma.reset();
    beta.reset();
    w.reset();
  }
};

}  // namespace

bool batch_norm_depthwise_applies(const Shape& x, const Shape& w, const Conv2dParams& p) {
  if (x.size() != 4 || w.size() != 4 || p.stride_h < 1 || p.stride_w < 1 || p.dil_h < 1 || p.dil_w < 1 ||
      p.pad_h < 0 || p.pad_w < 0 || w[2] < 1 || w[3] < 1)
    return false;
  const ConvDwShape s{x[0], x[1], x[2], x[3], w[0], w[2], w[3], p};
  const int64_t P = (x[2] + 2 * p.pad_h - p.dil_h * (w[2] - 1) - 1) / p.stride_h + 1;
  const int64_t Q = (x[3] + 2 * p.pad_w - p.dil_w * (w[3] - 1) - 1) / p.stride_w + 1;
  return w[0] == x[1] && w[1] == 1 && p.groups == x[1] && x[0] * x[2] * x[3] > 1 && P >= 1 && Q >= 1 &&
         x[2] + 2 * p.pad_h >= p.dil_h * (w[2] - 1) + 1 && x[3] + 2 * p.pad_w >= p.dil_w * (w[3] - 1) + 1 &&
         conv_depthwise_applies(s) && DwPlaneBackward::uses_plane_kernels(s);
}

TensorPtr batch_norm_depthwise(const TensorPtr& x_in, const TensorPtr& gamma, const TensorPtr& beta,
                               const TensorPtr& running_mean, const TensorPtr& running_var, double momentum,
                               double eps, const BnActivation& act, const TensorPtr& w_in, const TensorPtr& b_in,
                               const Conv2dParams& p) {
  expect_f32(x_in, "input");
  expect_f32(w_in, "weight");
  // Shapes the kernels below do not take run as the two ops (which check everything else).
  if (!batch_norm_depthwise_applies(x_in->shape, w_in->shape, p) || (b_in && b_in->numel() != x_in->shape[1])) {
    const TensorPtr f = batch_norm2d(x_in, gamma, beta, running_mean, running_var, true, momentum, eps, act.on,
                                     nullptr, act.clip, false, act.hardswish);
    return conv2d(f, w_in, b_in, p, false);
  }
  const int64_t N = x_in->shape[0], C = x_in->shape[1], HW = x_in->shape[2] * x_in->shape[3];
  for (const TensorPtr* t : {&gamma, &beta, &running_mean, &running_var, &b_in}) {
    if (!*t) continue;
    expect_f32(*t, "batchNormDepthwise vector");
    DLF_THROW_RANGE_IF((*t)->numel() != C || !(*t)->is_contiguous(), "batchNormDepthwise: vector of shape ",
                       shape_str((*t)->shape), " does not match ", C, " channels");
  }
  DLF_THROW_RANGE_IF(act.on && !(act.clip > 0.f), "batchNormDepthwise: the ReLU's upper bound must be positive");
  const TensorPtr x = contiguous_data(x_in), w = contiguous_data(w_in), b = b_in ? contiguous_data(b_in) : nullptr;
  BnDwSaved v{ConvDwShape{N, C, x->shape[2], x->shape[3], C, w->shape[2], w->shape[3], p}, act, {}, {}};
  v.mean.resize(C);
  v.invstd.resize(C);
  std::vector<double> batch_mean(C), batch_var(C);
  const float* px = x->f32();
  const double M = static_cast<double>(N * HW);
  const Kernels& kt = kernels();
  // The statistics as batch_norm2d computes them (two passes: mean, then squared deviations).
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double sum = 0.0, sq = 0.0;
      kt.bn_channel_stats(px + c * HW, N, C * HW, HW, 0.f, &sum, nullptr);
      kt.bn_channel_stats(px + c * HW, N, C * HW, HW, static_cast<float>(sum / M), nullptr, &sq);
      bn_batch_statistics(sum, sq, M, eps, batch_mean[c], batch_var[c], v.mean[c], v.invstd[c]);
    }
  });
  if (running_mean && running_var)
    bn_update_running(running_mean->f32(), running_var->f32(), batch_mean, batch_var, M, momentum);
  const DwPlane g = DwPlaneBackward(v.s, false, true).geometry();
  auto y = empty({N, C, g.P, g.Q});
  const float* ga = gamma ? gamma->f32() : nullptr;  // (checked contiguous above)
  const float* be = beta ? beta->f32() : nullptr;
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    forward_channels(v, px, ga, be, w->f32(), b ? b->f32() : nullptr, y->f32(), c0, c1);
  });
  if (any_requires_grad({&x_in, &gamma, &beta, &w_in, &b_in})) {
    auto node = make_node<BnDepthwiseBackward>();
    node->x = save(x);
    node->gamma = save(gamma);
    node->beta = save(beta);
    node->w = save(w);
    node->v = std::move(v);
    node->has_bias = b != nullptr;
    attach(y, node, {&x_in, &gamma, &beta, &w_in, &b_in});
  }
  return y;
}

}  // namespace dlf
