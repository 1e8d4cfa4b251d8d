// nn/ entry points: one call per differentiable op. Arguments arrive resolved by TypeScript
// (@dlf/nn validates them and computes output shapes); the ops re-check what guards memory.
#include "nn/conv_fast.h"
#include "nn/ops.h"
#include "runtime/napi_util.h"

namespace dlf {
namespace {

using napi::read_bool;
using napi::read_int;
using napi::read_ints;
using napi::read_number;
using napi::unwrap;
using napi::unwrap_optional;
using napi::wrap;

std::vector<int64_t> read_fixed(const Napi::CallbackInfo& info, size_t i, const char* what, size_t n) {
  auto v = read_ints(info, i, what);
  DLF_THROW_RANGE_IF(v.size() != n, "Expected ", n, " integers for ", what, " but received ", v.size());
  return v;
}

// [sync] binary(op 0..3, a, b) -> handle; add/sub/mul/div with broadcasting
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const int64_t op = read_int(info, 0, "op");
  DLF_THROW_RANGE_IF(op < 0 || op > 3, "unknown binary op ", op);
  return wrap(info.Env(), binary(static_cast<BinaryOp>(op), unwrap(info, 1, "a"), unwrap(info, 2, "b")));
}

// [sync] unary(op 0..9, x, param) -> handle
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const int64_t op = read_int(info, 0, "op");
  DLF_THROW_RANGE_IF(op < 0 || op > 9, "unknown unary op ", op);
  return wrap(info.Env(), unary(static_cast<UnaryOp>(op), unwrap(info, 1, "x"),
                                static_cast<float>(read_number(info, 2, "param"))));
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

// [sync] linear(x, weight, bias | null, relu) -> handle
Napi::Value Linear(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), linear(unwrap(info, 0, "input"), unwrap(info, 1, "weight"), unwrap_optional(info, 2, "bias"),
                                 read_bool(info, 3, "relu")));
}

// [sync] conv2d(x, weight, bias | null, [sh, sw, ph, pw, dh, dw, groups], relu) -> handle
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  auto v = read_fixed(info, 3, "conv2d parameters", 7);
  Conv2dParams p{v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
  return wrap(info.Env(), conv2d(unwrap(info, 0, "input"), unwrap(info, 1, "weight"), unwrap_optional(info, 2, "bias"), p,
                                 read_bool(info, 4, "relu")));
}

// [sync] conv2dReluMaxPool(x, weight, bias | null, [sh, sw, ph, pw, dh, dw, groups]) -> handle:
// maxPool2d(relu(conv2d(...)), 2x2, stride 2) as one op where the fast kernels can pool.
Napi::Value Conv2dReluMaxPool(const Napi::CallbackInfo& info) {
  auto v = read_fixed(info, 3, "conv2d parameters", 7);
  Conv2dParams p{v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
  return wrap(info.Env(),
              conv2d_relu_maxpool2x2(unwrap(info, 0, "input"), unwrap(info, 1, "weight"), unwrap_optional(info, 2, "bias"), p));
}

// [sync] setConvFastPath(enabled) -> boolean (the previous setting). Off forces the general im2col
// path for every convolution; tests use it to check the fast kernels against it.
Napi::Value SetConvFastPath(const Napi::CallbackInfo& info) {
  const bool prev = conv_fast_enabled();
  set_conv_fast_enabled(read_bool(info, 0, "enabled"));
  return Napi::Boolean::New(info.Env(), prev);
}

Pool2dParams pool_params(const Napi::CallbackInfo& info) {
  auto v = read_fixed(info, 1, "pool parameters", 6);
  return Pool2dParams{v[0], v[1], v[2], v[3], v[4], v[5]};
}

// [sync] maxPool2d(x, [kh, kw, sh, sw, ph, pw]) -> handle
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), max_pool2d(unwrap(info, 0, "input"), pool_params(info)));
}

// [sync] avgPool2d(x, [kh, kw, sh, sw, ph, pw]) -> handle
Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), avg_pool2d(unwrap(info, 0, "input"), pool_params(info)));
}

// [sync] adaptiveAvgPool2d(x, outH, outW) -> handle
Napi::Value AdaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  return wrap(info.Env(),
              adaptive_avg_pool2d(unwrap(info, 0, "input"), read_int(info, 1, "outH"), read_int(info, 2, "outW")));
}

// [sync] dropout(x, p, seed, offset) -> handle
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  const int64_t seed = read_int(info, 2, "seed"), offset = read_int(info, 3, "offset");
  DLF_THROW_RANGE_IF(seed < 0 || offset < 0, "dropout: seed and offset must be non-negative");
  return wrap(info.Env(), dropout(unwrap(info, 0, "input"), read_number(info, 1, "p"), static_cast<uint64_t>(seed),
                                  static_cast<uint64_t>(offset)));
}

// [sync] batchNorm2d(x, weight|null, bias|null, runningMean|null, runningVar|null, training, momentum, eps) -> handle
Napi::Value BatchNorm2d(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), batch_norm2d(unwrap(info, 0, "input"), unwrap_optional(info, 1, "weight"),
                                       unwrap_optional(info, 2, "bias"), unwrap_optional(info, 3, "runningMean"),
                                       unwrap_optional(info, 4, "runningVar"), read_bool(info, 5, "training"),
                                       read_number(info, 6, "momentum"), read_number(info, 7, "eps")));
}

}  // namespace

void init_nn(Napi::Env env, Napi::Object exports) {
  DLF_EXPORT(exports, "binary", Binary);
  DLF_EXPORT(exports, "unary", Unary);
  DLF_EXPORT(exports, "affine", Affine);
  DLF_EXPORT(exports, "sum", Sum);
  DLF_EXPORT(exports, "max", Max);
  DLF_EXPORT(exports, "softmax", Softmax);
  DLF_EXPORT(exports, "concat", Concat);
  DLF_EXPORT(exports, "matmul", Matmul);
  DLF_EXPORT(exports, "linear", Linear);
  DLF_EXPORT(exports, "conv2d", Conv2d);
  DLF_EXPORT(exports, "conv2dReluMaxPool", Conv2dReluMaxPool);
  DLF_EXPORT(exports, "setConvFastPath", SetConvFastPath);
  DLF_EXPORT(exports, "maxPool2d", MaxPool2d);
  DLF_EXPORT(exports, "avgPool2d", AvgPool2d);
  DLF_EXPORT(exports, "adaptiveAvgPool2d", AdaptiveAvgPool2d);
  DLF_EXPORT(exports, "dropout", Dropout);
  DLF_EXPORT(exports, "batchNorm2d", BatchNorm2d);
}

}  // namespace dlf
