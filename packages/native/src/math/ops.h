// Tensor arithmetic: elementwise, reductions, matmul, softmax, concat (wrapped by @dlf/tensor-core).
// Each op takes resolved arguments (TypeScript validated them and resolved shapes), re-checks what
// could corrupt memory, runs its forward kernel and, when an input requires grad, records a node whose
// backward kernel accumulates into the inputs' gradients.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace dlf {

/** The slice whose binding exposes an op (and whose TypeScript package wraps it). */
enum class OpSlice : int32_t { math, nn };

// Enums and per-op facts generated from the op table, src/ops.def.
enum class UnaryOp : int32_t {
#define DLF_UNARY(E, name, slice, attr, saves, fwd, bwd) E,
#define DLF_BINARY(E, name, fwd)
#include "ops.def"
#undef DLF_UNARY
#undef DLF_BINARY
};
enum class BinaryOp : int32_t {
#define DLF_UNARY(E, name, slice, attr, saves, fwd, bwd)
#define DLF_BINARY(E, name, fwd) E,
#include "ops.def"
#undef DLF_UNARY
#undef DLF_BINARY
};

struct UnaryOpInfo {
  const char* name;
  OpSlice slice;
  const char* attribute;  // nullptr when the op takes none
};
struct BinaryOpInfo {
  const char* name;
};

/** Facts about unary op `code`, or nullptr when no op has that code. */
const UnaryOpInfo* unary_op_info(int64_t code);
/** Facts about binary op `code`, or nullptr when no op has that code. */
const BinaryOpInfo* binary_op_info(int64_t code);

TensorPtr binary(BinaryOp op, const TensorPtr& a, const TensorPtr& b);
/** y = op(x); `param` is the op's attribute (the slope of LeakyRelu, the exponent of Pow). */
TensorPtr unary(UnaryOp op, const TensorPtr& x, float param);
/** The gradient through a ReLU (the op table's Relu backward): g where the ReLU's output y is not <= 0
 * (positive or NaN, as in PyTorch), else 0, as a new tensor of g's shape; g and y contiguous, of one
 * size. Fused ReLUs' backward use it. */
TensorPtr relu_backward_mask(const TensorPtr& g, const TensorPtr& y);
/** y = x * scale + shift (a cheap affine map on a scalar pair). */
TensorPtr affine_scalar(const TensorPtr& x, float scale, float shift);

/** Sum or mean over `axes` (sorted, unique, non-negative). */
TensorPtr sum(const TensorPtr& x, const std::vector<int64_t>& axes, bool keepdim, bool mean);
/** Max over one axis; gradient flows to the first maximal element. */
TensorPtr max(const TensorPtr& x, int64_t axis, bool keepdim);
TensorPtr softmax(const TensorPtr& x, int64_t axis, bool log);
TensorPtr concat(const std::vector<TensorPtr>& xs, int64_t axis);

/** a (..., M, K) @ b (..., K, N), batch dims broadcast. */
TensorPtr matmul(const TensorPtr& a, const TensorPtr& b);

}  // namespace dlf
