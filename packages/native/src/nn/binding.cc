// nn/ entry points: one call per differentiable op. Arguments arrive resolved by TypeScript
// (@dlf/nn validates them and computes output shapes); the ops re-check what guards memory.
#include "nn/binding.h"

#include "math/binding.h"
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

Conv2dParams conv_params(const Napi::CallbackInfo& info, size_t i) { return read_conv2d_params(info, i, "conv2d"); }

Pool2dParams pool_params(const Napi::CallbackInfo& info, size_t i) {
  const napi::Attributes a(info, i, "pool2d");
  return Pool2dParams{a.integer("kernelH"), a.integer("kernelW"), a.integer("strideH"),
                      a.integer("strideW"), a.integer("padH"),    a.integer("padW")};
}

// [sync] activation(op, x, attributes) -> handle; an nn op of src/ops.def
Napi::Value Activation(const Napi::CallbackInfo& info) {
  const auto [op, param] = read_unary_op(info, 0, 2, OpSlice::nn, "activation");
  return wrap(info.Env(), unary(op, unwrap(info, 1, "x"), param));
}

// [sync] linear(x, weight, bias | null, relu) -> handle
Napi::Value Linear(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), linear(unwrap(info, 0, "input"), unwrap(info, 1, "weight"), unwrap_optional(info, 2, "bias"),
                                 read_bool(info, 3, "relu")));
}

// [sync] conv2d(x, weight, bias | null, {strideH, strideW, padH, padW, dilationH, dilationW, groups}, relu) -> handle
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  const Conv2dParams p = conv_params(info, 3);
  return wrap(info.Env(), conv2d(unwrap(info, 0, "input"), unwrap(info, 1, "weight"), unwrap_optional(info, 2, "bias"), p,
                                 read_bool(info, 4, "relu")));
}

// [sync] conv2dAdd(x, weight, bias | null, {strideH, strideW, padH, padW, dilationH, dilationW, groups}, residual,
// relu) -> handle: conv2d(...) + residual, then ReLU when relu
Napi::Value Conv2dAdd(const Napi::CallbackInfo& info) {
  const Conv2dParams p = conv_params(info, 3);
  return wrap(info.Env(), conv2d_add(unwrap(info, 0, "input"), unwrap(info, 1, "weight"), unwrap_optional(info, 2, "bias"),
                                     p, unwrap(info, 4, "residual"), read_bool(info, 5, "relu")));
}

// [sync] conv2dReluMaxPool(x, weight, bias | null, {strideH, strideW, padH, padW, dilationH, dilationW, groups}) -> handle:
// maxPool2d(relu(conv2d(...)), 2x2, stride 2) as one op where the fast kernels can pool.
Napi::Value Conv2dReluMaxPool(const Napi::CallbackInfo& info) {
  const Conv2dParams p = conv_params(info, 3);
  return wrap(info.Env(),
              conv2d_relu_maxpool2x2(unwrap(info, 0, "input"), unwrap(info, 1, "weight"), unwrap_optional(info, 2, "bias"), p));
}


// [sync] maxPool2d(x, {kernelH, kernelW, strideH, strideW, padH, padW}) -> handle
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), max_pool2d(unwrap(info, 0, "input"), pool_params(info, 1)));
}

// [sync] avgPool2d(x, {kernelH, kernelW, strideH, strideW, padH, padW}) -> handle
Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), avg_pool2d(unwrap(info, 0, "input"), pool_params(info, 1)));
}

// [sync] adaptiveAvgPool2d(x, outH, outW) -> handle
Napi::Value AdaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  return wrap(info.Env(),
              adaptive_avg_pool2d(unwrap(info, 0, "input"), read_int(info, 1, "outH"), read_int(info, 2, "outW")));
}

// [sync] addRelu(a, b) -> handle: max(a + b, 0), a and b of one shape
Napi::Value AddRelu(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), add_relu(unwrap(info, 0, "a"), unwrap(info, 1, "b")));
}

// [sync] dropout(x, p, seed, offset) -> handle
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  const int64_t seed = read_int(info, 2, "seed"), offset = read_int(info, 3, "offset");
  DLF_THROW_RANGE_IF(seed < 0 || offset < 0, "dropout: seed and offset must be non-negative");
  return wrap(info.Env(), dropout(unwrap(info, 0, "input"), read_number(info, 1, "p"), static_cast<uint64_t>(seed),
                                  static_cast<uint64_t>(offset)));
}

// [sync] batchNorm2d(x, weight|null, bias|null, runningMean|null, runningVar|null, training, momentum, eps,
//                    relu?, residual?|null, reluClip?, maxPool2x2?, hardswish?) -> handle: the residual (x's
//                    shape) added before the ReLU, clipped at reluClip (6: ReLU6; default +inf), then a 2x2
//                    max pool; or a hardswish in place of the ReLU
Napi::Value BatchNorm2d(const Napi::CallbackInfo& info) {
  const bool relu = info.Length() > 8 && read_bool(info, 8, "relu");
  const TensorPtr residual = info.Length() > 9 ? unwrap_optional(info, 9, "residual") : nullptr;
  const double clip = info.Length() > 10 ? read_number(info, 10, "reluClip") : HUGE_VAL;
  const bool pool = info.Length() > 11 && read_bool(info, 11, "maxPool2x2");
  const bool hardswish = info.Length() > 12 && read_bool(info, 12, "hardswish");
  return wrap(info.Env(), batch_norm2d(unwrap(info, 0, "input"), unwrap_optional(info, 1, "weight"),
                                       unwrap_optional(info, 2, "bias"), unwrap_optional(info, 3, "runningMean"),
                                       unwrap_optional(info, 4, "runningVar"), read_bool(info, 5, "training"),
                                       read_number(info, 6, "momentum"), read_number(info, 7, "eps"), relu, residual,
                                       clip, pool, hardswish));
}

// [sync] foldBatchNorm(w, b|null, gamma|null, beta|null, mean, var, eps) -> [weight handle, bias handle]
Napi::Value FoldBatchNorm(const Napi::CallbackInfo& info) {
  const auto [w, b] = fold_batch_norm(unwrap(info, 0, "weight"), unwrap_optional(info, 1, "bias"),
                                      unwrap_optional(info, 2, "gamma"), unwrap_optional(info, 3, "beta"),
                                      unwrap(info, 4, "runningMean"), unwrap(info, 5, "runningVar"),
                                      read_number(info, 6, "eps"));
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, wrap(info.Env(), w));
  out.Set(1u, wrap(info.Env(), b));
  return out;
}

// [sync] convChain(x, weights, biases, params, activations) -> handle: stage i is conv2d(., weights[i],
// biases[i]) with params[7i..7i+7) (strideH, strideW, padH, padW, dilationH, dilationW, groups), then
// activation code activations[i] (0 none, 1 ReLU, 2 ReLU6, 3 hardswish); residual (or null): added by the last stage
// before its activation
Napi::Value ConvChain(const Napi::CallbackInfo& info) {
  const std::vector<TensorPtr> weights = napi::read_tensor_list(info, 1, "weights");
  const std::vector<TensorPtr> biases = napi::read_tensor_list(info, 2, "biases");
  const std::vector<int64_t> params = read_ints(info, 3, "params");
  const std::vector<int64_t> acts = read_ints(info, 4, "activations");
  DLF_THROW_RANGE_IF(biases.size() != weights.size() || acts.size() != weights.size() ||
                         params.size() != 7 * weights.size(),
                     "convChain: expected one bias, 7 parameters and one activation per weight");
  std::vector<ChainStage> stages;
  for (size_t i = 0; i < weights.size(); ++i) {
    const int64_t* q = params.data() + 7 * i;
    DLF_THROW_RANGE_IF(acts[i] < 0 || acts[i] > 3, "convChain: activation code must be 0, 1, 2 or 3, got ", acts[i]);
    stages.push_back(ChainStage{weights[i], biases[i], Conv2dParams{q[0], q[1], q[2], q[3], q[4], q[5], q[6]},
                                static_cast<ChainActivation>(acts[i])});
  }
  return wrap(info.Env(), conv_chain(unwrap(info, 0, "input"), stages, unwrap_optional(info, 5, "residual")));
}

BnActivation bn_activation(const Napi::CallbackInfo& info, size_t i) {
  const int64_t code = read_int(info, i, "activation");
  DLF_THROW_RANGE_IF(code < 0 || code > 3, "batchNormDepthwise: activation code must be 0, 1, 2 or 3, got ", code);
  return BnActivation{code != 0, code == 2 ? 6.f : HUGE_VALF, code == 3};
}

// The batch norm arguments at info[i..i+7): weight|null, bias|null, runningMean|null, runningVar|null,
// momentum, eps, activation (0 none, 1 ReLU, 2 ReLU6, 3 hardswish).
BatchNormArgs batch_norm_args(const Napi::CallbackInfo& info, size_t i) {
  return BatchNormArgs{unwrap_optional(info, i, "weight"),       unwrap_optional(info, i + 1, "bias"),
                       unwrap_optional(info, i + 2, "runningMean"), unwrap_optional(info, i + 3, "runningVar"),
                       read_number(info, i + 4, "momentum"),      read_number(info, i + 5, "eps"),
                       bn_activation(info, i + 6)};
}

// [sync] batchNormDepthwise(x, weight|null, bias|null, runningMean|null, runningVar|null, momentum, eps, activation,
//                           w, b|null, {strideH, strideW, padH, padW, dilationH, dilationW, groups}
//                           [, weight2|null, bias2|null, runningMean2|null, runningVar2|null, momentum2, eps2,
//                           activation2]) -> handle: conv2d(act(batchNorm2d(x, ..., training)), w, b) for a
// depthwise w, then the second batch norm (training) and activation when given; activation 0 none, 1 ReLU,
// 2 ReLU6, 3 hardswish
Napi::Value BatchNormDepthwise(const Napi::CallbackInfo& info) {
  const BatchNormArgs pre = batch_norm_args(info, 1);
  const bool has_post = info.Length() > 11 && !info[11].IsUndefined();
  const BatchNormArgs post = has_post ? batch_norm_args(info, 11) : BatchNormArgs{};
  return wrap(info.Env(), batch_norm_depthwise(unwrap(info, 0, "input"), pre, unwrap(info, 8, "convWeight"),
                                               unwrap_optional(info, 9, "convBias"), conv_params(info, 10),
                                               has_post ? &post : nullptr));
}

// [sync] batchNormDepthwiseApplies(xShape, wShape, {conv attributes}) -> whether batchNormDepthwise runs fused
Napi::Value BatchNormDepthwiseApplies(const Napi::CallbackInfo& info) {
  const std::vector<int64_t> x = read_ints(info, 0, "xShape"), w = read_ints(info, 1, "wShape");
  return Napi::Boolean::New(info.Env(),
                            batch_norm_depthwise_applies(Shape(x.begin(), x.end()), Shape(w.begin(), w.end()),
                                                         conv_params(info, 2)));
}

}  // namespace

Conv2dParams read_conv2d_params(const Napi::CallbackInfo& info, size_t i, const char* op) {
  const napi::Attributes a(info, i, op);
  return Conv2dParams{a.integer("strideH"),   a.integer("strideW"),   a.integer("padH"),  a.integer("padW"),
                      a.integer("dilationH"), a.integer("dilationW"), a.integer("groups")};
}

void init_nn(Napi::Env env, Napi::Object exports) {
  DLF_EXPORT(exports, "activation", Activation);
  DLF_EXPORT(exports, "linear", Linear);
  DLF_EXPORT(exports, "conv2d", Conv2d);
  DLF_EXPORT(exports, "conv2dReluMaxPool", Conv2dReluMaxPool);
  DLF_EXPORT(exports, "conv2dAdd", Conv2dAdd);
  DLF_EXPORT(exports, "maxPool2d", MaxPool2d);
  DLF_EXPORT(exports, "avgPool2d", AvgPool2d);
  DLF_EXPORT(exports, "adaptiveAvgPool2d", AdaptiveAvgPool2d);
  DLF_EXPORT(exports, "addRelu", AddRelu);
  DLF_EXPORT(exports, "dropout", Dropout);
  DLF_EXPORT(exports, "batchNorm2d", BatchNorm2d);
  DLF_EXPORT(exports, "foldBatchNorm", FoldBatchNorm);
  DLF_EXPORT(exports, "convChain", ConvChain);
  DLF_EXPORT(exports, "batchNormDepthwise", BatchNormDepthwise);
  DLF_EXPORT(exports, "batchNormDepthwiseApplies", BatchNormDepthwiseApplies);
}

}  // namespace dlf
