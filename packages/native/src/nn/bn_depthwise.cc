// BatchNorm2d (training: batch statistics) + activation + depthwise convolution (+ a second
// BatchNorm2d + activation) as one op, channel by channel. In depthwise-separable nets (MobileNet)
// these sit on the widest activations, and all are per-channel ops: the normalised tensor
// F = act(bn(x)) is made plane by plane straight into the depthwise kernel's input buffer and never
// written; the conv's planes of a channel wait in a scratch (in L2) for the second batch norm's
// statistics; in the backward the conv's planes are made again, and each channel's gradients at the
// conv's output and at F stay in scratches between the passes. That saves, per op, F's and the conv
// output's writes and reads and their gradients' writes and reads. Every kernel is the one the ops
// run, in the same order: the results are bit for bit the composition's.
#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "autograd/node.h"
#include "nn/batch_norm.h"
#include "nn/conv_depthwise.h"
#include "nn/conv_scratch.h"
#include "nn/ops.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

// One batch norm's channel values: its statistics (the forward's) and parameters.
struct BnSide {
  BnActivation act;
  std::vector<float> mean, invstd;
  TensorPtr gamma, beta;
  BnChannel channel(int64_t c) const {
    return BnChannel{mean[c],  invstd[c], gamma ? gamma->f32()[c] : 1.f, beta ? beta->f32()[c] : 0.f,
                     act.clip, act.hardswish};
  }
};

// Per-channel statistics of a batch norm, for the running averages after a parallel pass.
struct BatchStats {
  std::vector<double> mean, var;
  explicit BatchStats(int64_t C) : mean(C), var(C) {}
};

struct Fused {
  ConvDwShape s;
  int64_t xplane, yplane, taps;
  BnSide pre;         // before the depthwise conv
  bool post = false;  // a second batch norm after it (the conv then has no bias)
  BnSide after;
};

// The channel's statistics into side.mean / invstd (as batch_norm2d computes them: a pass for the
// mean, one for the squared deviations), rows `stride` floats apart.
void channel_statistics(const float* rows, int64_t N, int64_t stride, int64_t n, double eps, BnSide& side,
                        BatchStats& batch, int64_t c) {
  const Kernels& kt = kernels();
  const double M = static_cast<double>(N * n);
  double sum = 0.0, sq = 0.0;
  kt.bn_channel_stats(rows, N, stride, n, 0.f, &sum, nullptr);
  kt.bn_channel_stats(rows, N, stride, n, static_cast<float>(sum / M), nullptr, &sq);
  bn_batch_statistics(sum, sq, M, eps, batch.mean[c], batch.var[c], side.mean[c], side.invstd[c]);
}

// Image n's plane of channel c through the first batch norm and the depthwise conv (+ bias b) -> out,
// with pb's buffers (the normalised plane in fplane).
void conv_plane(const Fused& f, const DwPlaneBackward& pb, const DwPlaneBackward::Buffers& bufs, const float* x,
                const float* w, float b, int64_t n, int64_t c, float* fplane, float* out) {
  const Kernels& kt = kernels();
  kt.bn_channel_apply(x + (n * f.s.C + c) * f.xplane, nullptr, 1, f.xplane, f.xplane, f.pre.channel(c), f.pre.act.on,
                      fplane);
  pb.pack_input(bufs, fplane);
  kt.conv_dw_forward(pb.geometry(), bufs.xbuf, w + c * f.taps, b, false, out);
}

// The forward for channels [c0, c1): each plane normalised (+ activation) into a plane scratch, laid
// into the depthwise kernel's buffer and convolved (as conv_depthwise_forward's plane path); with a
// second batch norm the channel's conv planes wait in a scratch for its statistics, then normalise
// into y.
void forward_channels(Fused& f, const float* x, const float* w, const float* b, double eps2, BatchStats& batch2,
                      float* y, int64_t c0, int64_t c1) {
  const ConvDwShape& s = f.s;
  const DwPlaneBackward pb(s, false, true);  // (its input buffer and pack_input)
  const DwPlaneBackward::Buffers bufs = pb.buffers(f.xplane + (f.post ? s.N * f.yplane : 0));
  float* fplane = bufs.extra;
  float* d = fplane + f.xplane;
  for (int64_t c = c0; c < c1; ++c) {
    for (int64_t n = 0; n < s.N; ++n)
      conv_plane(f, pb, bufs, x, w, b ? b[c] : 0.f, n, c, fplane,
                 f.post ? d + n * f.yplane : y + (n * s.C + c) * f.yplane);
    if (!f.post) continue;
    channel_statistics(d, s.N, f.yplane, f.yplane, eps2, f.after, batch2, c);
    const BnChannel ch = f.after.channel(c);
    for (int64_t n = 0; n < s.N; ++n)
      kernels().bn_channel_apply(d + n * f.yplane, nullptr, 1, f.yplane, f.yplane, ch, f.after.act.on,
                                 y + (n * s.C + c) * f.yplane);
  }
}

// Inputs: x, gamma, beta, w, b, then (with a second batch norm) its gamma and beta.
struct BnDepthwiseBackward final : Node {
  TensorPtr x, w;
  Fused f;
  bool has_bias = false;
  const char* name() const override { return "BatchNorm2dDepthwiseBackward"; }
  void backward(const TensorPtr& g_in, std::vector<TensorPtr>& gin) override {
    const ConvDwShape& s = f.s;
    const TensorPtr gy = contiguous_data(g_in);
    const int64_t C = s.C, xplane = f.xplane, yplane = f.yplane, taps = f.taps, N = s.N;
    const bool want_dx = needs_grad(0), want_bn = needs_grad(1) || needs_grad(2);
    const bool want_dw = needs_grad(3), want_db = has_bias && needs_grad(4);
    // dF is needed for any of x's, gamma's or beta's gradients; the weight gradient reads F itself.
    const bool want_df = want_dx || want_bn;
    const DwPlaneBackward pb(s, want_df, want_dw);
    const int64_t vw = kernels().vector_floats;
    TensorPtr dx = want_dx ? empty(x->shape) : nullptr;
    TensorPtr dgamma = empty({C}), dbeta = empty({C}), dgamma2 = empty({C}), dbeta2 = empty({C});
    TensorPtr dw = want_dw ? empty(w->shape) : nullptr;
    TensorPtr db = want_db ? empty({C}) : nullptr;
    const float *px = x->f32(), *pg = gy->f32(), *pw = w->f32();
    const double M = static_cast<double>(N * xplane), M2 = static_cast<double>(N * yplane);
    const Kernels& kt = kernels();
    parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
      // extra: the channel's dF planes, a plane for F, the weight-gradient lanes, the flipped kernel,
      // then (second batch norm) a plane of the conv output's gradient and the channel's conv
      // planes. Where the planes are the same size (stride 1), conv plane n is last read just
      // before dF plane n is written: they share the dF planes, and a channel's scratch stays in L2
      // at larger batches.
      const bool shared = f.post && yplane == xplane;
      const int64_t extra =
          N * xplane + xplane + taps * vw + taps + (f.post ? yplane + (shared ? 0 : N * yplane) : 0);
      const DwPlaneBackward::Buffers bufs = pb.buffers(extra);
      float* df = bufs.extra;
      float* fplane = df + N * xplane;
      float* dwv = fplane + xplane;
      float* flipped = dwv + taps * vw;
      float* dd = flipped + taps;
      float* d = shared ? df : dd + yplane;
      for (int64_t c = c0; c < c1; ++c) {
        const BnChannel ch = f.pre.channel(c);
        BnChannel ch2{};
        double sb2 = 0.0, sg2 = 0.0;
        if (f.post) {  // the conv's planes again, then the second batch norm's sums
          for (int64_t n = 0; n < N; ++n) conv_plane(f, pb, bufs, px, pw, 0.f, n, c, fplane, d + n * yplane);
          ch2 = f.after.channel(c);
          kt.bn_planes_grad_sums(pg + c * yplane, C * yplane, d, yplane, N, yplane, ch2, f.after.act.on, &sb2, &sg2);
          dbeta2->f32()[c] = static_cast<float>(sb2);
          dgamma2->f32()[c] = static_cast<float>(sg2);
        }
        std::fill(dwv, dwv + taps * vw, 0.f);
        if (pb.flips_weights()) flip_kernel(pw + c * taps, taps, flipped);
        for (int64_t n = 0; n < N; ++n) {
          const float* gp = pg + (n * C + c) * yplane;
          if (f.post) {  // the gradient at the conv's output, plane by plane
            kt.bn_channel_grad_input(gp, d + n * yplane, 1, yplane, yplane, ch2, f.after.act.on, true,
                                     static_cast<float>(ch2.gamma * ch2.invstd / M2), static_cast<float>(M2),
                                     static_cast<float>(sb2), static_cast<float>(sg2), dd);
            gp = dd;
          }
          if (want_dw) {  // F's plane again, for the depthwise weight gradient
            kt.bn_channel_apply(px + (n * C + c) * xplane, nullptr, 1, xplane, xplane, ch, f.pre.act.on, fplane);
            pb.pack_input(bufs, fplane);
          }
          float* dfp = want_df ? df + n * xplane : nullptr;
          pb.begin_plane(bufs);
          pb.plane(bufs, gp, pw + c * taps, flipped, false, dwv, dfp);
          pb.end_plane(bufs, dfp);
        }
        if (want_dw) reduce_weight_lanes(dwv, taps, vw, dw->f32() + c * taps);
        if (want_db) {
          double sum = 0.0;
          kt.bn_channel_stats(pg + c * yplane, N, C * yplane, yplane, 0.f, &sum, nullptr);
          db->f32()[c] = static_cast<float>(sum);
        }
        if (!want_df) continue;
        double sb = 0.0, sg = 0.0;
        kt.bn_planes_grad_sums(df, xplane, px + c * xplane, C * xplane, N, xplane, ch, f.pre.act.on, &sb, &sg);
        dbeta->f32()[c] = static_cast<float>(sb);
        dgamma->f32()[c] = static_cast<float>(sg);
        if (!dx) continue;
        const float k = static_cast<float>(ch.gamma * ch.invstd / M);
        for (int64_t n = 0; n < N; ++n)
          kt.bn_channel_grad_input(df + n * xplane, px + (n * C + c) * xplane, 1, xplane, xplane, ch, f.pre.act.on,
                                   true, k, static_cast<float>(M), static_cast<float>(sb), static_cast<float>(sg),
                                   dx->f32() + (n * C + c) * xplane);
      }
    });
    gin[0] = dx;
    if (needs_grad(1)) gin[1] = dgamma;
    if (needs_grad(2)) gin[2] = dbeta;
    if (want_dw) gin[3] = dw;
    if (want_db) gin[4] = db;
    if (needs_grad(5)) gin[5] = dgamma2;
    if (needs_grad(6)) gin[6] = dbeta2;
  }
  void release_saved() override {
    x.reset();
    w.reset();
    f.pre.gamma.reset();
    f.pre.beta.reset();
    f.after.gamma.reset();
    f.after.beta.reset();
  }
};

// The vectors of one batch norm: (C) floats, contiguous, or null.
void check_vectors(std::initializer_list<const TensorPtr*> vectors, int64_t C) {
  for (const TensorPtr* t : vectors) {
    if (!*t) continue;
    expect_f32(*t, "batchNormDepthwise vector");
    DLF_THROW_RANGE_IF((*t)->numel() != C || !(*t)->is_contiguous(), "batchNormDepthwise: vector of shape ",
                       shape_str((*t)->shape), " does not match ", C, " channels");
  }
}

}  // namespace

bool batch_norm_depthwise_applies(const Shape& x, const Shape& w, const Conv2dParams& p) {
  if (x.size() != 4 || w.size() != 4 || p.stride_h < 1 || p.stride_w < 1 || p.dil_h < 1 || p.dil_w < 1 ||
      p.pad_h < 0 || p.pad_w < 0 || w[2] < 1 || w[3] < 1)
    return false;
  const ConvDwShape s{x[0], x[1], x[2], x[3], w[0], w[2], w[3], p};
  return w[0] == x[1] && w[1] == 1 && p.groups == x[1] && x[0] * x[2] * x[3] > 1 &&
         conv_output_size(x[2], p.pad_h, p.dil_h, w[2], p.stride_h) >= 1 &&
         conv_output_size(x[3], p.pad_w, p.dil_w, w[3], p.stride_w) >= 1 && conv_depthwise_applies(s) &&
         DwPlaneBackward::uses_plane_kernels(s);
}

TensorPtr batch_norm_depthwise(const TensorPtr& x_in, const BatchNormArgs& pre, const TensorPtr& w_in,
                               const TensorPtr& b_in, const Conv2dParams& p, const BatchNormArgs* post) {
  expect_f32(x_in, "input");
  expect_f32(w_in, "weight");
  const auto norm = [](const TensorPtr& t, const BatchNormArgs& a) {
    return batch_norm2d(t, a.gamma, a.beta, a.running_mean, a.running_var, true, a.momentum, a.eps, a.act.on, nullptr,
                        a.act.clip, false, a.act.hardswish);
  };
  // Shapes the kernels below do not take run as the ops (which check everything else); a conv bias
  // before a second batch norm, too.
  if (!batch_norm_depthwise_applies(x_in->shape, w_in->shape, p) || (b_in && (post || b_in->numel() != x_in->shape[1]))) {
    const TensorPtr y = conv2d(norm(x_in, pre), w_in, b_in, p, false);
    return post ? norm(y, *post) : y;
  }
  const int64_t N = x_in->shape[0], C = x_in->shape[1];
  check_vectors({&pre.gamma, &pre.beta, &pre.running_mean, &pre.running_var, &b_in}, C);
  if (post) check_vectors({&post->gamma, &post->beta, &post->running_mean, &post->running_var}, C);
  for (const BatchNormArgs* a : {&pre, post})
    DLF_THROW_RANGE_IF(a && a->act.on && !(a->act.clip > 0.f),
                       "batchNormDepthwise: the ReLU's upper bound must be positive");
  const TensorPtr x = contiguous_data(x_in), w = contiguous_data(w_in), b = b_in ? contiguous_data(b_in) : nullptr;
  Fused f{ConvDwShape{N, C, x->shape[2], x->shape[3], C, w->shape[2], w->shape[3], p}, 0, 0, 0, {}, post != nullptr, {}};
  const DwPlane g = DwPlaneBackward(f.s, false, true).geometry();
  f.xplane = f.s.H * f.s.W;
  f.yplane = g.P * g.Q;
  f.taps = f.s.R * f.s.S;
  for (auto [side, a] : {std::pair<BnSide*, const BatchNormArgs*>{&f.pre, &pre}, {&f.after, post}}) {
    if (!a) continue;
    side->act = a->act;
    side->gamma = a->gamma;
    side->beta = a->beta;
    side->mean.resize(C);
    side->invstd.resize(C);
  }
  BatchStats batch(C), batch2(post ? C : 0);
  const float* px = x->f32();
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) channel_statistics(px + c * f.xplane, N, C * f.xplane, f.xplane, pre.eps, f.pre, batch, c);
  });
  auto y = empty({N, C, g.P, g.Q});
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    forward_channels(f, px, w->f32(), b ? b->f32() : nullptr, post ? post->eps : 0.0, batch2, y->f32(), c0, c1);
  });
  for (auto [a, st, M] : {std::tuple<const BatchNormArgs*, BatchStats*, int64_t>{&pre, &batch, N * f.xplane},
                          {post, &batch2, N * f.yplane}})
    if (a && a->running_mean && a->running_var)
      bn_update_running(a->running_mean->f32(), a->running_var->f32(), st->mean, st->var, static_cast<double>(M),
                        a->momentum);
  const TensorPtr none;
  const TensorPtr& gamma2 = post ? post->gamma : none;
  const TensorPtr& beta2 = post ? post->beta : none;
  if (any_requires_grad({&x_in, &pre.gamma, &pre.beta, &w_in, &b_in, &gamma2, &beta2})) {
    auto node = make_node<BnDepthwiseBackward>();
    node->x = save(x);
    node->w = save(w);
    for (BnSide* side : {&f.pre, &f.after}) {
      side->gamma = save(side->gamma);
      side->beta = save(side->beta);
    }
    node->f = std::move(f);
    node->has_bias = b != nullptr;
    attach(y, node, {&x_in, &pre.gamma, &pre.beta, &w_in, &b_in, &gamma2, &beta2});
  }
  return y;
}

}  // namespace dlf
