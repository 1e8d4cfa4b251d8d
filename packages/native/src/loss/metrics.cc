// Non-differentiable helpers for evaluation: top-k along the last axis and counting correct
// predictions, both with one ordering: larger first, NaN largest, ties broken by the lower index.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "loss/loss.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

// True when (a at index ia) ranks before (b at index ib).
inline bool ranks_before(float a, int64_t ia, float b, int64_t ib) {
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na != nb) return na;
  if (!na && a != b) return a > b;
  return ia < ib;
}

}  // namespace

// x (..., C) -> values (..., k), indices (..., k)
void topk(const TensorPtr& x_in, int64_t k, TensorPtr& values, TensorPtr& indices) {
  expect_f32(x_in, "input");
  DLF_THROW_RANGE_IF(x_in->dim() < 1, "topk: expected a tensor with at least one dimension");
  const int64_t C = x_in->shape.back();
  DLF_THROW_RANGE_IF(k < 1 || k > C, "topk: k = ", k, " is outside [1, ", C, "]");
  auto x = contiguous_data(x_in);
  const int64_t rows = C == 0 ? 0 : x->numel() / C;
  Shape out_shape = x->shape;
  out_shape.back() = k;
  values = empty(out_shape);
  indices = empty(out_shape, DType::I32);
  const float* px = x->f32();
  float* pv = values->f32();
  int32_t* pi = indices->data<int32_t>();
  parallel_for(rows, std::max<int64_t>(1, 4096 / C), [&](int64_t r0, int64_t r1) {
    std::vector<int32_t> idx(C);
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = px + r * C;
      std::iota(idx.begin(), idx.end(), 0);
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                        [&](int32_t a, int32_t b) { return ranks_before(row[a], a, row[b], b); });
      for (int64_t j = 0; j < k; ++j) {
        pi[r * k + j] = idx[j];
        pv[r * k + j] = row[idx[j]];
      }
    }
  });
}

// logits (N, C), target (N) -> rows whose target is among the k first in topk's order
int64_t count_correct(const TensorPtr& logits_in, const TensorPtr& target_in, int64_t k) {
  expect_f32(logits_in, "logits");
  DLF_THROW_TYPE_IF(target_in->dtype != DType::I32, "Expected int32 for targets but received ",
                    dtype_name(target_in->dtype));
  DLF_THROW_RANGE_IF(logits_in->dim() != 2, "accuracy: expected logits (N, C) but received shape ",
                     shape_str(logits_in->shape));
  const int64_t N = logits_in->shape[0], C = logits_in->shape[1];
  DLF_THROW_RANGE_IF(target_in->dim() != 1 || target_in->shape[0] != N, "accuracy: logits shape ",
                     shape_str(logits_in->shape), " and targets shape ", shape_str(target_in->shape), " do not agree");
  DLF_THROW_RANGE_IF(k < 1 || k > C, "accuracy: k = ", k, " is outside [1, ", C, "]");
  auto z = contiguous_data(logits_in);
  auto target = contiguous_data(target_in);
  const float* pz = z->f32();
  const int32_t* t = target->data<int32_t>();
  int64_t correct = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t ti = t[i];
    DLF_THROW_RANGE_IF(ti < 0 || ti >= C, "accuracy: target ", ti, " at index ", i, " is outside [0, ", C, ")");
    const float* row = pz + i * C;
    int64_t above = 0;
    for (int64_t c = 0; c < C && above < k; ++c) {
      if (ranks_before(row[c], c, row[ti], ti)) ++above;
    }
    if (above < k) ++correct;
  }
  return correct;
}

}  // namespace dlf
