#include <cmath>
#include <limits>

#include "autograd/node.h"
#include "loss/loss.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

struct CEState {
  int64_t N = 0, C = 0;
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;
  double smoothing = 0.0;
  double denom = 1.0;  // mean: sum of the targets' weights
};

// loss_i = (1-e) w[t] (-logp[t]) + e/C sum_c w[c] (-logp[c]); dz_c = coef_i ((1-e) w[t](p_c - [c=t]) + e/C (p_c W - w_c))
struct CrossEntropyBackward final : Node {
  TensorPtr logp, target, weight;
  CEState s;
  const char* name() const override { return "CrossEntropyBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    auto dz = empty({s.N, s.C});
    const float* lp = logp->f32();
    const int32_t* t = target->data<int32_t>();
    const float* w = weight ? weight->f32() : nullptr;
    const float* pg = g->f32();
    float* pd = dz->f32();
    double wsum = 0.0;
    for (int64_t c = 0; c < s.C; ++c) wsum += w ? w[c] : 1.0;
    parallel_for(s.N, 64, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        float* row = pd + i * s.C;
        const float* lrow = lp + i * s.C;
        const int64_t ti = t[i];
        if (ti == s.ignore_index) {
          for (int64_t c = 0; c < s.C; ++c) row[c] = 0.f;
          continue;
        }
        double coef = s.reduction == Reduction::None ? pg[i] : pg[0];
        if (s.reduction == Reduction::Mean) coef /= s.denom;
        const double wt = w ? w[ti] : 1.0;
        for (int64_t c = 0; c < s.C; ++c) {
          const double p = std::exp(static_cast<double>(lrow[c]));
          double d = (1.0 - s.smoothing) * wt * (p - (c == ti ? 1.0 : 0.0));
          if (s.smoothing > 0.0) d += s.smoothing / static_cast<double>(s.C) * (p * wsum - (w ? w[c] : 1.0));
          row[c] = static_cast<float>(coef * d);
        }
      }
    });
    gin[0] = dz;
  }
  void release_saved() override {
    logp.reset();
    target.reset();
    weight.reset();
  }
};

}  // namespace

TensorPtr cross_entropy(const TensorPtr& logits_in, const TensorPtr& target_in, const TensorPtr& weight_in,
                        Reduction reduction, int64_t ignore_index, double label_smoothing) {
  expect_f32(logits_in, "logits");
  DLF_THROW_TYPE_IF(target_in->dtype != DType::I32, "Expected int32 for targets but received ",
                    dtype_name(target_in->dtype));
  DLF_THROW_RANGE_IF(logits_in->dim() != 2, "crossEntropy: expected logits (N, C) but received shape ",
                     shape_str(logits_in->shape));
  const int64_t N = logits_in->shape[0], C = logits_in->shape[1];
  DLF_THROW_RANGE_IF(target_in->dim() != 1 || target_in->shape[0] != N, "crossEntropy: logits shape ",
                     shape_str(logits_in->shape), " and targets shape ", shape_str(target_in->shape), " do not agree");
  DLF_THROW_RANGE_IF(C < 1, "crossEntropy: logits need at least one class");
  DLF_THROW_RANGE_IF(!(label_smoothing >= 0.0 && label_smoothing <= 1.0), "crossEntropy: label smoothing must be in [0, 1]");
  if (weight_in) {
    expect_f32(weight_in, "weight");
    DLF_THROW_RANGE_IF(weight_in->dim() != 1 || weight_in->shape[0] != C, "crossEntropy: weight shape ",
                       shape_str(weight_in->shape), " does not match ", C, " classes");
  }
  auto z = contiguous_data(logits_in);
  auto target = contiguous_data(target_in);
  auto weight = weight_in ? contiguous_data(weight_in) : nullptr;
  const int32_t* t = target->data<int32_t>();
  for (int64_t i = 0; i < N; ++i) {
    DLF_THROW_RANGE_IF(t[i] != ignore_index && (t[i] < 0 || t[i] >= C), "crossEntropy: target ", t[i], " at index ", i,
                       " is outside [0, ", C, ")");
  }
  auto logp = empty({N, C});
  auto per = empty({N});
  const float* pz = z->f32();
  float* pl = logp->f32();
  float* pp = per->f32();
  const float* w = weight ? weight->f32() : nullptr;
  parallel_for(N, 64, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* row = pz + i * C;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t c = 0; c < C; ++c) m = std::max(m, row[c]);
      double s = 0.0;
      for (int64_t c = 0; c < C; ++c) s += std::exp(static_cast<double>(row[c]) - m);
      // log p_c = (z_c - m) - log s: subtracting the max first keeps full precision for any magnitude
      const double log_s = std::log(s);
      double smooth = 0.0;
      for (int64_t c = 0; c < C; ++c) {
        const double l = (static_cast<double>(row[c]) - m) - log_s;
        pl[i * C + c] = static_cast<float>(l);
        smooth -= (w ? w[c] : 1.0) * l;
      }
      const int64_t ti = t[i];
      if (ti == ignore_index) {
        pp[i] = 0.f;
        continue;
      }
      const double nll = -((static_cast<double>(row[ti]) - m) - log_s) * (w ? w[ti] : 1.0);
      pp[i] = static_cast<float>((1.0 - label_smoothing) * nll + label_smoothing / static_cast<double>(C) * smooth);
    }
  });
  CEState st;
  st.N = N;
  st.C = C;
  st.reduction = reduction;
  st.ignore_index = ignore_index;
  st.smoothing = label_smoothing;
  TensorPtr out;
  if (reduction == Reduction::None) {
    out = per;
  } else {
    double total = 0.0, denom = 0.0;
    for (int64_t i = 0; i < N; ++i) {
      total += pp[i];
      if (t[i] != ignore_index) denom += w ? w[t[i]] : 1.0;
    }
    st.denom = denom;
    out = empty({});
    out->f32()[0] = static_cast<float>(reduction == Reduction::Mean ? total / denom : total);
  }
  if (any_requires_grad({&logits_in})) {
    auto node = make_node<CrossEntropyBackward>();
    node->logp = logp;
    node->target = target;
    node->weight = weight;
    node->s = st;
    attach(out, node, {&logits_in});
  }
  return out;
}

}  // namespace dlf
