// Layout ops. Each is differentiable: when its input requires grad it records a node.
#pragma once
#include "tensor/tensor.h"

namespace dlf {

/** Same elements in a new shape: a view when t is contiguous, otherwise a copy. */
TensorPtr reshape(const TensorPtr& t, const Shape& shape);
/** Rows [start, start+length) along axis 0, as a view. */
TensorPtr narrow0(const TensorPtr& t, int64_t start, int64_t length);
/** Axes reordered, as a view. dims is a permutation of 0..dim-1. */
TensorPtr permute(const TensorPtr& t, const std::vector<int64_t>& dims);
/** A contiguous tensor with t's elements (t itself if already contiguous). */
TensorPtr contiguous(const TensorPtr& t);
/** A contiguous copy that owns its memory. */
TensorPtr clone(const TensorPtr& t);
/** Converts dtype; float32 -> float32 keeps history, other casts are not differentiable. */
TensorPtr cast(const TensorPtr& t, DType dtype, double scale);

}  // namespace dlf
