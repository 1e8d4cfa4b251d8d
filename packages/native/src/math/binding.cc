// math/ entry points (tensor arithmetic, wrapped by @dlf/tensor-core): one call per differentiable op.
// Arguments arrive resolved by TypeScript; the ops re-check what guards memory.
#include "math/binding.h"
#include "runtime/napi_util.h"

namespace dlf {

std::pair<UnaryOp, float> read_unary_op(const Napi::CallbackInfo& info, size_t code_at, size_t attrs_at,
                                        OpSlice slice, const char* what) {
  const int64_t code = napi::read_int(info, code_at, what);
  const UnaryOpInfo* op = unary_op_info(code);
  DLF_THROW_RANGE_IF(op == nullptr || op->slice != slice, "unknown ", what, " ", code);
  const napi::Attributes attrs(info, attrs_at, op->name);
  const float param = op->attribute ? static_cast<float>(attrs.number(op->attribute)) : 0.f;
  return {static_cast<UnaryOp>(code), param};
}

namespace {

using napi::read_bool;
using napi::read_int;
using napi::read_ints;
using napi::read_number;
using napi::unwrap;
using napi::wrap;

// [sync] binary(op, a, b) -> handle; add/sub/mul/div (src/ops.def) with broadcasting
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const int64_t op = read_int(info, 0, "op");
  DLF_THROW_RANGE_IF(binary_op_info(op) == nullptr, "unknown binary op ", op);
  return wrap(info.Env(), binary(static_cast<BinaryOp>(op), unwrap(info, 1, "a"), unwrap(info, 2, "b")));
}

// [sync] unary(op, x, attributes) -> handle; a math op of src/ops.def
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const auto [op, param] = read_unary_op(info, 0, 2, OpSlice::math, "unary op");
  return wrap(info.Env(), unary(op, unwrap(info, 1, "x"), param));
}

// [sync] affine(x, scale, shift) -> x * scale + shift
Napi::Value Affine(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), affine_scalar(unwrap(info, 0, "x"), static_cast<float>(read_number(info, 1, "scale")),
                                        static_cast<float>(read_number(info, 2, "shift"))));
}

// [sync] sum(x, axes (sorted, unique), keepDims, mean) -> handle
Napi::Value Sum(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), sum(unwrap(info, 0, "x"), read_ints(info, 1, "axes"), read_bool(info, 2, "keepDims"),
                              read_bool(info, 3, "mean")));
}

// [sync] max(x, axis, keepDims) -> handle
Napi::Value Max(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), max(unwrap(info, 0, "x"), read_int(info, 1, "axis"), read_bool(info, 2, "keepDims")));
}

// [sync] softmax(x, axis, log) -> handle
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), softmax(unwrap(info, 0, "x"), read_int(info, 1, "axis"), read_bool(info, 2, "log")));
}

// [sync] concat(tensors[], axis) -> handle
Napi::Value Concat(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), concat(napi::read_tensor_list(info, 0, "tensors"), read_int(info, 1, "axis")));
}

// [sync] matmul(a, b) -> handle
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), matmul(unwrap(info, 0, "a"), unwrap(info, 1, "b")));
}

}  // namespace

void init_math(Napi::Env env, Napi::Object exports) {
  DLF_EXPORT(exports, "binary", Binary);
  DLF_EXPORT(exports, "unary", Unary);
  DLF_EXPORT(exports, "affine", Affine);
  DLF_EXPORT(exports, "sum", Sum);
  DLF_EXPORT(exports, "max", Max);
  DLF_EXPORT(exports, "softmax", Softmax);
  DLF_EXPORT(exports, "concat", Concat);
  DLF_EXPORT(exports, "matmul", Matmul);
}

}  // namespace dlf
