#pragma once
#include "tensor/tensor.h"

namespace dlf {

enum class Reduction : int32_t { None = 0, Mean = 1, Sum = 2 };

/**
 * Fused, numerically stable softmax cross-entropy on logits (N, C) with int32 targets (N).
 * weight: (C) or null; targets equal to ignore_index contribute nothing.
 */
TensorPtr cross_entropy(const TensorPtr& logits, const TensorPtr& target, const TensorPtr& weight, Reduction reduction,
                        int64_t ignore_index, double label_smoothing);

}  // namespace dlf
