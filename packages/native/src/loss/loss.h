#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace dlf {

enum class Reduction : int32_t { None = 0, Mean = 1, Sum = 2 };

/**
 * Fused, numerically stable softmax cross-entropy on logits (N, C) with int32 targets (N).
 * weight: (C) or null; targets equal to ignore_index contribute nothing.
 */
TensorPtr cross_entropy(const TensorPtr& logits, const TensorPtr& target, const TensorPtr& weight, Reduction reduction,
                        int64_t ignore_index, double label_smoothing);

/**
 * Negative log-likelihood on log-probabilities (N, C) with int32 targets (N): -weight[t] * logp[i, t].
 * weight: (C) or null; mean divides by the summed weights of the targets that are not ignored.
 */
TensorPtr nll_loss(const TensorPtr& logp, const TensorPtr& target, const TensorPtr& weight, Reduction reduction,
                   int64_t ignore_index);

/** (input - target)^2 elementwise (same shapes); differentiable in both. */
TensorPtr mse_loss(const TensorPtr& input, const TensorPtr& target, Reduction reduction);

/**
 * Sigmoid + binary cross-entropy on logits, computed stably; target has the logits' shape, weight and
 * pos_weight (either may be null) broadcast to it. Differentiable in logits and target.
 */
TensorPtr bce_with_logits(const TensorPtr& logits, const TensorPtr& target, const TensorPtr& weight,
                          const TensorPtr& pos_weight, Reduction reduction);

/**
 * The k largest values along the last axis, largest first (NaN counts as largest; ties: lower index
 * first). x (..., C) -> values (..., k) float32, indices (..., k) int32. Not differentiable.
 */
void topk(const TensorPtr& x, int64_t k, TensorPtr& values, TensorPtr& indices);

/**
 * Rows of logits (N, C) whose target (int32, N) ranks among the k largest, with the ordering of topk.
 */
int64_t count_correct(const TensorPtr& logits, const TensorPtr& target, int64_t k);

}  // namespace dlf
