// Non-differentiable helpers used by the autograd engine and by ops.
#pragma once
#include "tensor/tensor.h"

namespace dlf {

/** Sums a float32 tensor down to `shape`, which it was broadcast from (leading dims and dims of 1). */
TensorPtr sum_to_shape(const TensorPtr& t, const Shape& shape);

/** dst += src elementwise; both float32, same shape, dst contiguous. */
void add_inplace(const TensorPtr& dst, const TensorPtr& src);
/** Broadcast shape of a and b (NumPy rules); throws RangeError naming both shapes. */
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace dlf

namespace dlf {
/** Materialises t broadcast to `shape` (NumPy rules). */
TensorPtr broadcast_to(const TensorPtr& t, const Shape& shape);
}  // namespace dlf
