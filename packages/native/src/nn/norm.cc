#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "nn/batch_norm.h"
#include "nn/ops.h"
#include "nn/conv_scratch.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"
#include "tensor/random.h"

namespace dlf {
namespace {

// y = x * mask, mask in {0, 1/(1-p)}: dx = dy * mask
struct DropoutBackward final : Node {
  TensorPtr mask;
  const char* name() const override { return "DropoutBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    auto dx = empty(g->shape);
    const float* pg = g->f32();
    const float* pm = mask->f32();
    float* pd = dx->f32();
    for (int64_t i = 0, n = dx->numel(); i < n; ++i) pd[i] = pg[i] * pm[i];
    gin[0] = dx;
  }
  void release_saved() override { mask.reset(); }
};

// Per-channel work in parallel: each channel is reduced by one thread, over the images in order.
template <typename Fn>
void for_each_channel(int64_t C, int64_t planes_floats, Fn fn) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(planes_floats, 1));
  parallel_for(C, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) fn(c);
  });
}

// Channels side by side in blocks (the bn_block_* kernels) of at most kBlockBytes of one tensor: a
// channel's rows, each a whole image apart, are runs the prefetchers lose at every image; a block's
// rows are one longer run per image (4x4 planes channel by channel ran at a third of the bandwidth of
// 16x16 ones). The block stays in L2 between a pass and the next. Both paths give the same bits.
constexpr int64_t kBlockBytes = int64_t{512} << 10;
int64_t block_channels(int64_t planes_floats) {
  return std::clamp<int64_t>(kBlockBytes / std::max<int64_t>(planes_floats * 4, 1), 1, kBnBlockChannels);
}
bool in_blocks(int64_t planes_floats) { return block_channels(planes_floats) > 1; }

// fn(c0, nch) for blocks of block_channels channels, in parallel (each channel reduced by one
// thread, over the images in order, as for_each_channel).
template <typename Fn>
void for_each_channel_block(int64_t C, int64_t planes_floats, Fn fn) {
  const int64_t per = block_channels(planes_floats), blocks = (C + per - 1) / per;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(planes_floats * per, 1));
  parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t c0 = b * per;
      fn(c0, std::min(per, C - c0));
    }
  });
}

// Keeps the forward's input x and each channel's statistics; the rows recompute x-hat, which costs
// an FMA per value instead of writing and re-reading a second activation-sized tensor.
struct BatchNormBackward final : Node {
  TensorPtr x, weight, bias;
  TensorPtr y;       // with a residual and a ReLU: the output, whose sign is the ReLU's mask
  TensorPtr argmax;  // with a fused 2x2 max pool: (N,C,H/2,W/2), each maximum's index in its (H,W) plane
  std::vector<float> mean, invstd;
  float clip = __builtin_inff();  // the fused ReLU's upper bound (6: ReLU6)
  bool hardswish = false;          // the fused activation is hardswish (with `relu`)
  bool training = true;
  bool relu = false;  // fused: the gradient passes where xhat * gamma + beta (+ residual) > 0
  bool residual = false;
  bool pooled = false;  // a 2x2 max pool fused after the ReLU (argmax kept until the backward)
  const char* name() const override { return pooled ? "BatchNorm2dReluMaxPoolBackward" : "BatchNorm2dBackward"; }
  void backward(const TensorPtr& g_in, std::vector<TensorPtr>& gin) override {
    const Shape& s = input_shapes[0];
    const int64_t N = s[0], C = s[1], HW = s[2] * s[3], PQ = (s[2] / 2) * (s[3] / 2);
    // Behind a fused pool, each channel's gradient is unpooled into g just before its passes read
    // it (still in cache then).
    const TensorPtr gpool = argmax ? contiguous_data(g_in) : nullptr;
    const TensorPtr g = argmax ? empty(s) : contiguous_data(g_in);
    // With a residual, the gradient past the ReLU (masked by the saved output's sign in the sums
    // pass, which writes it) is the residual's too; the normalisation then sees it unmasked.
    const bool join_mask = residual && relu, relu_mask = relu && !residual;
    const TensorPtr gm = join_mask ? empty(g->shape) : g;
    if (residual && needs_grad(3)) gin[3] = gm;
    const double M = static_cast<double>(N * HW);
    const float* pg = g->f32();
    const float* px = x->f32();
    const float* py = join_mask ? y->f32() : nullptr;
    float* pgm = gm->f32();  // g itself without a join's mask (then only read)
    std::vector<double> dbeta(C, 0.0), dgamma(C, 0.0);
    TensorPtr dx = needs_grad(0) ? empty(s) : nullptr;
    float* pd = dx ? dx->f32() : nullptr;
    const float* gamma_p = weight ? weight->f32() : nullptr;
    const float* beta_p = bias ? bias->f32() : nullptr;
    const Kernels& kt = kernels();
    const auto channel = [&](int64_t c) {
      return BnChannel{mean[c], invstd[c], gamma_p ? gamma_p[c] : 1.f, beta_p ? beta_p[c] : 0.f, clip, hardswish};
    };
    // dx's scale per channel: gamma * invstd (/ M in training), rounded as float
    const auto scale = [&](const BnChannel& ch) {
      return training ? static_cast<float>(ch.gamma * ch.invstd / M) : ch.gamma * ch.invstd;
    };
    if (!gpool && !py && in_blocks(N * HW)) {
      for_each_channel_block(C, N * HW, [&](int64_t c0, int64_t nch) {
        BnChannel chs[kBnBlockChannels];
        double sb[kBnBlockChannels], sg[kBnBlockChannels];
        float k[kBnBlockChannels], mb[kBnBlockChannels], mg[kBnBlockChannels];
        for (int64_t j = 0; j < nch; ++j) chs[j] = channel(c0 + j);
        kt.bn_block_grad_sums(pg + c0 * HW, px + c0 * HW, N, C * HW, HW, nch, chs, relu_mask, sb, sg);
        for (int64_t j = 0; j < nch; ++j) {
          dbeta[c0 + j] = sb[j];
          dgamma[c0 + j] = sg[j];
          k[j] = scale(chs[j]);
          mb[j] = static_cast<float>(sb[j]);
          mg[j] = static_cast<float>(sg[j]);
        }
        if (pd)
          kt.bn_block_grad_input(pgm + c0 * HW, px + c0 * HW, N, C * HW, HW, nch, chs, relu_mask, training, k,
                                 static_cast<float>(M), mb, mg, pd + c0 * HW);
      });
    } else {
      for_each_channel(C, N * HW, [&](int64_t c) {
        const BnChannel ch = channel(c);
        if (gpool)
          kt.maxpool2x2_backward(gpool->f32() + c * PQ, argmax->data<int32_t>() + c * PQ, N, s[2], s[3], s[2] / 2,
                                 s[3] / 2, g->f32() + c * HW, C * PQ, C * HW);
        // The gradient reaching the normalisation is masked, behind a fused ReLU, where the output was
        // 0 (behind a fused hardswish, times its derivative).
        double sb = 0.0, sg = 0.0;
        kt.bn_channel_grad_sums(pg + c * HW, px + c * HW, py ? py + c * HW : nullptr, N, C * HW, HW, ch, relu_mask,
                                &sb, &sg, py ? pgm + c * HW : nullptr);
        dbeta[c] = sb;
        dgamma[c] = sg;
        if (!pd) return;
        kt.bn_channel_grad_input(pgm + c * HW, px + c * HW, N, C * HW, HW, ch, relu_mask, training, scale(ch),
                                 static_cast<float>(M), static_cast<float>(sb), static_cast<float>(sg), pd + c * HW);
      });
    }
    gin[0] = dx;
    if (needs_grad(1)) {
      auto dw = empty({C});
      for (int64_t c = 0; c < C; ++c) dw->f32()[c] = static_cast<float>(dgamma[c]);
      gin[1] = dw;
    }
    if (needs_grad(2)) {
      auto db = empty({C});
      for (int64_t c = 0; c < C; ++c) db->f32()[c] = static_cast<float>(dbeta[c]);
      gin[2] = db;
    }
  }
  void release_saved() override {
    x.reset();
    weight.reset();
    bias.reset();
    y.reset();
    argmax.reset();
  }
};

}  // namespace

void bn_batch_statistics(double sum, double sq, double M, double eps, double& batch_mean, double& batch_var,
                         float& mean, float& invstd) {
  batch_mean = sum / M;
  batch_var = sq / M;
  mean = static_cast<float>(batch_mean);
  invstd = static_cast<float>(1.0 / std::sqrt(batch_var + eps));
}

void bn_update_running(float* rm, float* rv, const std::vector<double>& batch_mean,
                       const std::vector<double>& batch_var, double M, double momentum) {
  for (size_t c = 0; c < batch_mean.size(); ++c) {
    rm[c] = static_cast<float>((1.0 - momentum) * rm[c] + momentum * batch_mean[c]);
    rv[c] = static_cast<float>((1.0 - momentum) * rv[c] + momentum * batch_var[c] * M / (M - 1.0));
  }
}

TensorPtr dropout(const TensorPtr& x_in, double p, uint64_t seed, uint64_t offset) {
  expect_f32(x_in, "input");
  DLF_THROW_RANGE_IF(!(p >= 0.0 && p <= 1.0), "dropout: p must be in [0, 1] but is ", p);
  auto x = contiguous_data(x_in);
  auto mask = empty(x->shape);
  random_fill(mask, RandomKind::Bernoulli, 1.0 - p, 0.0, seed, offset);
  const float scale = p >= 1.0 ? 0.f : static_cast<float>(1.0 / (1.0 - p));
  float* pm = mask->f32();
  const float* px = x->f32();
  auto y = empty(x->shape);
  float* py = y->f32();
  for (int64_t i = 0, n = y->numel(); i < n; ++i) {
    pm[i] *= scale;
    py[i] = px[i] * pm[i];
  }
  if (any_requires_grad({&x_in})) {
    auto node = make_node<DropoutBackward>();
    node->mask = mask;
    attach(y, node, {&x_in});
  }
  return y;
}

// x: (N,C,H,W), weight/bias: (C) or null, running stats: (C) -> y: (N,C,H,W)
TensorPtr batch_norm2d(const TensorPtr& x_in, const TensorPtr& weight, const TensorPtr& bias,
                       const TensorPtr& running_mean, const TensorPtr& running_var, bool training, double momentum,
                       double eps, bool relu, const TensorPtr& residual_in, double relu_clip, bool max_pool2x2,
                       bool hardswish) {
  expect_f32(x_in, "input");
  DLF_THROW_RANGE_IF(x_in->dim() != 4, "batchNorm2d: expected input (N,C,H,W) but received shape ",
                     shape_str(x_in->shape));
  const int64_t N = x_in->shape[0], C = x_in->shape[1], HW = x_in->shape[2] * x_in->shape[3];
  for (const TensorPtr* t : {&weight, &bias, &running_mean, &running_var}) {
    if (!*t) continue;
    expect_f32(*t, "batchNorm2d parameter");
    DLF_THROW_RANGE_IF((*t)->numel() != C || !(*t)->is_contiguous(), "batchNorm2d: parameter of shape ",
                       shape_str((*t)->shape), " does not match ", C, " channels");
  }
  DLF_THROW_RANGE_IF(!training && (!running_mean || !running_var),
                     "batchNorm2d: evaluation mode needs running statistics");
  DLF_THROW_RANGE_IF(training && N * HW <= 1, "batchNorm2d: training needs more than one value per channel, got input shape ",
                     shape_str(x_in->shape));
  if (residual_in) {
    expect_f32(residual_in, "residual");
    DLF_THROW_RANGE_IF(residual_in->shape != x_in->shape, "batchNorm2d: residual of shape ",
                       shape_str(residual_in->shape), " does not match the input shape ", shape_str(x_in->shape));
  }
  DLF_THROW_RANGE_IF(!(relu_clip > 0.0), "batchNorm2d: the fused ReLU's upper bound must be positive, got ", relu_clip);
  DLF_THROW_RANGE_IF(hardswish && (residual_in || max_pool2x2),
                     "batchNorm2d: a fused hardswish comes without a residual or a max pool");
  relu = relu || hardswish;
  const int64_t H = x_in->shape[2], W = x_in->shape[3], P = H / 2, Q = W / 2;
  DLF_THROW_RANGE_IF(max_pool2x2 && (!relu || residual_in), "batchNorm2d: the fused max pool comes with a ReLU and no residual");
  DLF_THROW_RANGE_IF(max_pool2x2 && (P < 1 || Q < 1 || H * W >= (int64_t{1} << 31)), "batchNorm2d: input shape ",
                     shape_str(x_in->shape), " has planes too small (or too large) for a fused 2x2 max pool");
  const float clip = static_cast<float>(relu_clip);
  auto x = contiguous_data(x_in);
  const TensorPtr r = residual_in ? contiguous_data(residual_in) : nullptr;
  const float* px = x->f32();
  const float* pr = r ? r->f32() : nullptr;
  const double M = static_cast<double>(N * HW);
  std::vector<float> mean(C), invstd(C);
  std::vector<double> batch_mean(training ? C : 0), batch_var(training ? C : 0);
  const bool grad = any_requires_grad({&x_in, &weight, &bias, &residual_in});
  auto y = max_pool2x2 ? empty({N, C, P, Q}) : empty(x->shape);
  float* py = y->f32();
  const TensorPtr argmax = max_pool2x2 && grad ? empty(y->shape, DType::I32) : nullptr;
  const float* gamma_p = weight ? weight->f32() : nullptr;
  const float* beta_p = bias ? bias->f32() : nullptr;
  const Kernels& kt = kernels();
  // The statistics and the channel's (float) values from its batch or running statistics.
  const auto finish_channel = [&](int64_t c, double sum, double sq) {
    if (training) {
      bn_batch_statistics(sum, sq, M, eps, batch_mean[c], batch_var[c], mean[c], invstd[c]);
    } else {
      mean[c] = running_mean->f32()[c];
      invstd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(running_var->f32()[c]) + eps));
    }
    return BnChannel{mean[c], invstd[c], gamma_p ? gamma_p[c] : 1.f, beta_p ? beta_p[c] : 0.f, clip, hardswish};
  };
  if (!max_pool2x2 && in_blocks(N * HW)) {
    for_each_channel_block(C, N * HW, [&](int64_t c0, int64_t nch) {
      double sums[kBnBlockChannels] = {}, sqs[kBnBlockChannels] = {};
      float means[kBnBlockChannels];
      BnChannel chs[kBnBlockChannels];
      if (training) {
        kt.bn_block_stats(px + c0 * HW, N, C * HW, HW, nch, nullptr, sums);
        for (int64_t j = 0; j < nch; ++j) means[j] = static_cast<float>(sums[j] / M);
        kt.bn_block_stats(px + c0 * HW, N, C * HW, HW, nch, means, sqs);
      }
      for (int64_t j = 0; j < nch; ++j) chs[j] = finish_channel(c0 + j, sums[j], sqs[j]);
      kt.bn_block_apply(px + c0 * HW, pr ? pr + c0 * HW : nullptr, N, C * HW, HW, nch, chs, relu, py + c0 * HW);
    });
  } else {
    // One channel at a time: its statistics (two passes: mean, then squared deviations), then y. A
    // channel's planes (N * HW floats) stay in cache between the three passes, so x comes from memory
    // once. A fused pool normalises the channel into a scratch and pools it from there.
    for_each_channel(C, N * HW, [&](int64_t c) {
      double sum = 0.0, sq = 0.0;
      if (training) {
        kt.bn_channel_stats(px + c * HW, N, C * HW, HW, 0.f, &sum, nullptr);
        kt.bn_channel_stats(px + c * HW, N, C * HW, HW, static_cast<float>(sum / M), nullptr, &sq);
      }
      const BnChannel ch = finish_channel(c, sum, sq);
      if (!max_pool2x2) {
        kt.bn_channel_apply(px + c * HW, pr ? pr + c * HW : nullptr, N, C * HW, HW, ch, relu, py + c * HW);
        return;
      }
      // The channel's planes side by side in a scratch (still in cache when the pool reads them).
      float* planes = thread_scratch(0, N * HW);
      for (int64_t n = 0; n < N; ++n) kt.bn_channel_apply(px + (n * C + c) * HW, nullptr, 1, HW, HW, ch, relu, planes + n * HW);
      kt.maxpool2x2(planes, N, H, W, P, Q, py + c * P * Q, argmax ? argmax->data<int32_t>() + c * P * Q : nullptr, HW,
                    C * P * Q);
    });
  }
  if (training && running_mean && running_var)
    bn_update_running(running_mean->f32(), running_var->f32(), batch_mean, batch_var, M, momentum);
  if (grad) {
    auto node = make_node<BatchNormBackward>();
    node->x = save(x);
    node->weight = save(weight);
    node->bias = relu && !r ? save(bias) : nullptr;
    node->y = relu && r ? save(y) : nullptr;
    node->mean = std::move(mean);
    node->invstd = std::move(invstd);
    node->training = training;
    node->relu = relu;
    node->clip = clip;
    node->hardswish = hardswish;
    node->residual = r != nullptr;
    node->argmax = argmax;
    node->pooled = max_pool2x2;
    attach(y, node, {&x_in, &weight, &bias, &residual_in});
  }
  return y;
}

std::pair<TensorPtr, TensorPtr> fold_batch_norm(const TensorPtr& w_in, const TensorPtr& b_in, const TensorPtr& gamma,
                                                const TensorPtr& beta, const TensorPtr& mean, const TensorPtr& var,
                                                double eps) {
  expect_f32(w_in, "foldBatchNorm weight");
  DLF_THROW_RANGE_IF(w_in->dim() < 1 || w_in->shape[0] < 1, "foldBatchNorm: weight of shape ", shape_str(w_in->shape),
                     " has no output channels");
  const int64_t K = w_in->shape[0], per = w_in->numel() / K;
  DLF_THROW_RANGE_IF(!mean || !var, "foldBatchNorm: running mean and variance are required");
  for (const TensorPtr* t : {&b_in, &gamma, &beta, &mean, &var}) {
    if (!*t) continue;
    expect_f32(*t, "foldBatchNorm vector");
    DLF_THROW_RANGE_IF((*t)->dim() != 1 || (*t)->shape[0] != K, "foldBatchNorm: vector of shape ",
                       shape_str((*t)->shape), " does not match ", K, " output channels");
  }
  DLF_THROW_IF(grad_enabled() && any_requires_grad({&w_in, &b_in, &gamma, &beta}),
               "foldBatchNorm: records no graph; call it under noGrad");
  const TensorPtr w = contiguous_data(w_in);
  const auto vec = [](const TensorPtr& t) { return t ? contiguous_data(t) : nullptr; };
  const TensorPtr b = vec(b_in), g = vec(gamma), be = vec(beta), m = vec(mean), v = vec(var);
  auto wf = empty(w->shape);
  auto bf = empty({K});
  const float* pw = w->f32();
  float* pwf = wf->f32();
  const float e = static_cast<float>(eps);
  for (int64_t k = 0; k < K; ++k) {
    // The same float steps as the composed ops (pow(var + eps, -0.5) * gamma ...), so both agree.
    const float invstd = std::pow(v->f32()[k] + e, -0.5f);
    const float s = g ? g->f32()[k] * invstd : invstd;
    for (int64_t i = 0; i < per; ++i) pwf[k * per + i] = pw[k * per + i] * s;
    const float shifted = b ? b->f32()[k] - m->f32()[k] : m->f32()[k] * -1.f;
    bf->f32()[k] = be ? shifted * s + be->f32()[k] : shifted * s;
  }
  return {wf, bf};
}

}  // namespace dlf
