// NLL, MSE and binary cross-entropy with logits: forward kernels and their backward nodes.
// Per-element terms are computed in double and summed in index order, so a reduced loss does not
// depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/node.h"
#include "loss/loss.h"
#include "runtime/threadpool.h"
#include "tensor/reduce.h"

namespace dlf {
namespace {

constexpr int64_t kGrain = 16384;

// The output of a reduction over per-element losses `per` (double, n values): the tensor itself
// for None (shape `shape`), else a 0-d sum or mean (mean of nothing is NaN, as in PyTorch).
TensorPtr reduce_losses(const std::vector<double>& per, const Shape& shape, Reduction reduction, double denom) {
  if (reduction == Reduction::None) {
    auto out = empty(shape);
    float* po = out->f32();
    for (size_t i = 0; i < per.size(); ++i) po[i] = static_cast<float>(per[i]);
    return out;
  }
  double total = 0.0;
  for (double v : per) total += v;
  auto out = empty({});
  out->f32()[0] = static_cast<float>(reduction == Reduction::Mean ? total / denom : total);
  return out;
}

// The scale of element i's gradient: the upstream gradient (per element for None, else the one
// value), divided by the mean's denominator.
inline double upstream(const float* g, int64_t i, Reduction r, double denom) {
  if (r == Reduction::None) return g[i];
  return r == Reduction::Mean ? g[0] / denom : g[0];
}

void check_class_targets(const char* op, const TensorPtr& x, const TensorPtr& target, const TensorPtr& weight,
                         int64_t ignore_index) {
  expect_f32(x, "input");
  DLF_THROW_TYPE_IF(target->dtype != DType::I32, "Expected int32 for targets but received ",
                    dtype_name(target->dtype));
  DLF_THROW_RANGE_IF(x->dim() != 2, op, ": expected input (N, C) but received shape ", shape_str(x->shape));
  const int64_t N = x->shape[0], C = x->shape[1];
  DLF_THROW_RANGE_IF(target->dim() != 1 || target->shape[0] != N, op, ": input shape ", shape_str(x->shape),
                     " and targets shape ", shape_str(target->shape), " do not agree");
  DLF_THROW_RANGE_IF(C < 1, op, ": input needs at least one class");
  if (weight) {
    expect_f32(weight, "weight");
    DLF_THROW_RANGE_IF(weight->dim() != 1 || weight->shape[0] != C, op, ": weight shape ", shape_str(weight->shape),
                       " does not match ", C, " classes");
  }
  auto t = contiguous_data(target);
  const int32_t* pt = t->data<int32_t>();
  for (int64_t i = 0; i < N; ++i) {
    DLF_THROW_RANGE_IF(pt[i] != ignore_index && (pt[i] < 0 || pt[i] >= C), op, ": target ", pt[i], " at index ", i,
                       " is outside [0, ", C, ")");
  }
}

// nll: logp (N, C), target (N) int32, weight (C) or null.
// fwd: loss_i = -w[t_i] logp[i, t_i] (0 when t_i == ignore)
// bwd: dlogp[i, c] = -w[t_i] [c = t_i] coef_i
struct NllBackward final : Node {
  TensorPtr target, weight;
  int64_t N = 0, C = 0, ignore_index = -100;
  Reduction reduction = Reduction::Mean;
  double denom = 1.0;
  const char* name() const override { return "NllLossBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    auto dx = zeros({N, C});
    const int32_t* t = target->data<int32_t>();
    const float* w = weight ? weight->f32() : nullptr;
    const float* pg = g->f32();
    float* pd = dx->f32();
    for (int64_t i = 0; i < N; ++i) {
      const int64_t ti = t[i];
      if (ti == ignore_index) continue;
      pd[i * C + ti] = static_cast<float>(-(w ? w[ti] : 1.0) * upstream(pg, i, reduction, denom));
    }
    gin[0] = dx;
  }
  void release_saved() override {
    target.reset();
    weight.reset();
  }
};

// mse: input, target (same shape S).
// fwd: loss = (x - y)^2
// bwd: dx = 2 (x - y) coef, dy = -dx
struct MseBackward final : Node {
  TensorPtr diff;  // x - y, float32 (S)
  Reduction reduction = Reduction::Mean;
  double denom = 1.0;
  const char* name() const override { return "MseLossBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    auto dx = empty(diff->shape);
    const float* pdiff = diff->f32();
    const float* pg = g->f32();
    float* pd = dx->f32();
    const Reduction r = reduction;
    const double dn = denom;
    parallel_for(dx->numel(), kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pd[i] = static_cast<float>(2.0 * pdiff[i] * upstream(pg, i, r, dn));
    });
    if (needs_grad(1)) {
      auto dy = empty(diff->shape);
      float* py = dy->f32();
      parallel_for(dy->numel(), kGrain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) py[i] = -pd[i];
      });
      gin[1] = dy;
    }
    if (needs_grad(0)) gin[0] = dx;
  }
  void release_saved() override { diff.reset(); }
};

// softplus(-x) = log(1 + e^-x), stable for |x| of any size.
inline double softplus_neg(double x) { return std::max(-x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }
inline double sigmoid(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

// bce with logits: x, y (S), w and pw broadcast to S (or null: 1).
// fwd: loss = w ((1 - y) x + (1 + (pw - 1) y) softplus(-x))
// bwd: dx = w ((pw y + 1 - y) sigmoid(x) - pw y) coef, dy = w (-x + (pw - 1) softplus(-x)) coef
struct BceWithLogitsBackward final : Node {
  TensorPtr x, y, w, pw;
  Reduction reduction = Reduction::Mean;
  double denom = 1.0;
  const char* name() const override { return "BinaryCrossEntropyWithLogitsBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    const int64_t n = x->numel();
    const float* px = x->f32();
    const float* py = y->f32();
    const float* pw_ = w ? w->f32() : nullptr;
    const float* ppw = pw ? pw->f32() : nullptr;
    const float* pg = g->f32();
    TensorPtr dx = needs_grad(0) ? empty(x->shape) : nullptr;
    TensorPtr dy = needs_grad(1) ? empty(x->shape) : nullptr;
    float* pdx = dx ? dx->f32() : nullptr;
    float* pdy = dy ? dy->f32() : nullptr;
    const Reduction r = reduction;
    const double dn = denom;
    parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const double xi = px[i], yi = py[i];
        const double p = ppw ? ppw[i] : 1.0;
        const double coef = upstream(pg, i, r, dn) * (pw_ ? pw_[i] : 1.0);
        if (pdx) pdx[i] = static_cast<float>(((p * yi + 1.0 - yi) * sigmoid(xi) - p * yi) * coef);
        if (pdy) pdy[i] = static_cast<float>((-xi + (p - 1.0) * softplus_neg(xi)) * coef);
      }
    });
    if (dx) gin[0] = dx;
    if (dy) gin[1] = dy;
  }
  void release_saved() override {
    x.reset();
    y.reset();
    w.reset();
    pw.reset();
  }
};

TensorPtr expand_param(const TensorPtr& t, const Shape& shape, const char* what) {
  if (!t) return nullptr;
  expect_f32(t, what);
  DLF_THROW_RANGE_IF(broadcast_shapes(t->shape, shape, what) != shape, what, " of shape ", shape_str(t->shape),
                     " does not broadcast to ", shape_str(shape));
  return contiguous_data(broadcast_to(t, shape));
}

}  // namespace

TensorPtr nll_loss(const TensorPtr& logp_in, const TensorPtr& target_in, const TensorPtr& weight_in,
                   Reduction reduction, int64_t ignore_index) {
  check_class_targets("nllLoss", logp_in, target_in, weight_in, ignore_index);
  const int64_t N = logp_in->shape[0], C = logp_in->shape[1];
  auto x = contiguous_data(logp_in);
  auto target = contiguous_data(target_in);
  auto weight = weight_in ? contiguous_data(weight_in) : nullptr;
  const float* px = x->f32();
  const int32_t* t = target->data<int32_t>();
  const float* w = weight ? weight->f32() : nullptr;
  std::vector<double> per(N, 0.0);
  double denom = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t ti = t[i];
    if (ti == ignore_index) continue;
    const double wt = w ? w[ti] : 1.0;
    per[i] = -wt * px[i * C + ti];
    denom += wt;
  }
  auto out = reduce_losses(per, {N}, reduction, denom);
  if (any_requires_grad({&logp_in})) {
    auto node = make_node<NllBackward>();
    node->target = target;
    node->weight = save(weight);
    node->N = N;
    node->C = C;
    node->ignore_index = ignore_index;
    node->reduction = reduction;
    node->denom = denom;
    attach(out, node, {&logp_in});
  }
  return out;
}

TensorPtr mse_loss(const TensorPtr& input_in, const TensorPtr& target_in, Reduction reduction) {
  expect_f32(input_in, "input");
  expect_f32(target_in, "target");
  DLF_THROW_RANGE_IF(input_in->shape != target_in->shape, "mseLoss: input shape ", shape_str(input_in->shape),
                     " and target shape ", shape_str(target_in->shape), " differ");
  auto x = contiguous_data(input_in);
  auto y = contiguous_data(target_in);
  const int64_t n = x->numel();
  auto diff = empty(x->shape);
  const float* px = x->f32();
  const float* py = y->f32();
  float* pd = diff->f32();
  std::vector<double> per(n);
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float d = px[i] - py[i];
      pd[i] = d;
      per[i] = static_cast<double>(d) * d;
    }
  });
  auto out = reduce_losses(per, x->shape, reduction, static_cast<double>(n));
  if (any_requires_grad({&input_in, &target_in})) {
    auto node = make_node<MseBackward>();
    node->diff = diff;
    node->reduction = reduction;
    node->denom = static_cast<double>(n);
    attach(out, node, {&input_in, &target_in});
  }
  return out;
}

TensorPtr bce_with_logits(const TensorPtr& logits_in, const TensorPtr& target_in, const TensorPtr& weight_in,
                          const TensorPtr& pos_weight_in, Reduction reduction) {
  expect_f32(logits_in, "logits");
  expect_f32(target_in, "targets");
  DLF_THROW_RANGE_IF(logits_in->shape != target_in->shape, "binaryCrossEntropyWithLogits: logits shape ",
                     shape_str(logits_in->shape), " and targets shape ", shape_str(target_in->shape), " differ");
  const Shape& shape = logits_in->shape;
  auto x = contiguous_data(logits_in);
  auto y = contiguous_data(target_in);
  auto w = expand_param(weight_in, shape, "weight");
  auto pw = expand_param(pos_weight_in, shape, "posWeight");
  const int64_t n = x->numel();
  const float* px = x->f32();
  const float* py = y->f32();
  const float* pww = w ? w->f32() : nullptr;
  const float* ppw = pw ? pw->f32() : nullptr;
  std::vector<double> per(n);
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const double xi = px[i], yi = py[i];
      const double lw = ppw ? 1.0 + (ppw[i] - 1.0) * yi : 1.0;
      per[i] = ((1.0 - yi) * xi + lw * softplus_neg(xi)) * (pww ? pww[i] : 1.0);
    }
  });
  auto out = reduce_losses(per, shape, reduction, static_cast<double>(n));
  if (any_requires_grad({&logits_in, &target_in})) {
    auto node = make_node<BceWithLogitsBackward>();
    node->x = save(x);
    node->y = save(y);
    node->w = save(w);
    node->pw = save(pw);
    node->reduction = reduction;
    node->denom = static_cast<double>(n);
    attach(out, node, {&logits_in, &target_in});
  }
  return out;
}

}  // namespace dlf
