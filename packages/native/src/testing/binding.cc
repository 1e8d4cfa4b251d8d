// testing/ entry points (`binding.testing`, `@dlf/native/testing`): switches that change how the
// calling thread computes, never what, so tests can check one path against another. Each applies to
// the calling thread's environment only (runtime/env_state.h): other worker threads keep theirs.
#include <string>

#include "nn/conv_depthwise.h"
#include "nn/conv_fast.h"
#include "nn/binding.h"
#include "nn/conv_wino.h"
#include "runtime/napi_util.h"
#include "runtime/simd.h"

namespace dlf {
namespace {

// [sync] setConvFastPath(enabled) -> boolean (the previous setting). Off forces the general im2col
// path for every convolution; tests use it to check the fast kernels against it.
Napi::Value SetConvFastPath(const Napi::CallbackInfo& info) {
  const bool prev = conv_fast_enabled();
  set_conv_fast_enabled(napi::read_bool(info, 0, "enabled"));
  return Napi::Boolean::New(info.Env(), prev);
}

// [sync] setConvWinograd(enabled) -> boolean (the previous setting). Off keeps 3x3 layers off
// Winograd F(4x4,3x3) (they take the direct or general path); tests compare the two.
Napi::Value SetConvWinograd(const Napi::CallbackInfo& info) {
  const bool prev = conv_wino_enabled();
  set_conv_wino_enabled(napi::read_bool(info, 0, "enabled"));
  return Napi::Boolean::New(info.Env(), prev);
}

// [sync] setConvDepthwiseBlocked(enabled) -> boolean (the previous setting). Off keeps depthwise layers
// on small planes on the per-plane kernels instead of the channels-in-lanes ones; tests compare the two.
Napi::Value SetConvDepthwiseBlocked(const Napi::CallbackInfo& info) {
  const bool prev = conv_dw_blocked_enabled();
  set_conv_dw_blocked_enabled(napi::read_bool(info, 0, "enabled"));
  return Napi::Boolean::New(info.Env(), prev);
}

// [sync] convPlan(x, weight, {strideH, strideW, padH, padW, dilationH, dilationW, groups})
//   -> {forward, inputGrad, weightGrad}: the algorithm conv2d runs for each pass of this layer in the
// calling thread's environment (tests check that each algorithm is reached).
Napi::Value ReadConvPlan(const Napi::CallbackInfo& info) {
  const auto plan = conv2d_plan(napi::unwrap(info, 0, "input"), napi::unwrap(info, 1, "weight"),
                                read_conv2d_params(info, 2, "convPlan"));
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("forward", conv_algo_name(plan.forward));
  out.Set("inputGrad", conv_algo_name(plan.input_grad));
  out.Set("weightGrad", conv_algo_name(plan.weight_grad));
  return out;
}

// [sync] measureFmaPeak() -> number: GFLOP/s of one thread running chained FMAs with the current
// kernel table for ~50 ms (the benchmark's "% of peak" denominator).
Napi::Value MeasureFmaPeak(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), kernels().fma_peak_gflops(0.05));
}

// [sync] selectSimd(name) -> boolean: switches the kernel table; false when the CPU lacks it.
Napi::Value SelectSimd(const Napi::CallbackInfo& info) {
  DLF_THROW_TYPE_IF(info.Length() < 1 || !info[0].IsString(), "Expected a string for simd");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  return Napi::Boolean::New(info.Env(), select_kernels(name.c_str()));
}

}  // namespace

void init_testing(Napi::Env env, Napi::Object exports) {
  DLF_EXPORT(exports, "setConvFastPath", SetConvFastPath);
  DLF_EXPORT(exports, "setConvWinograd", SetConvWinograd);
  DLF_EXPORT(exports, "setConvDepthwiseBlocked", SetConvDepthwiseBlocked);
  DLF_EXPORT(exports, "convPlan", ReadConvPlan);
  DLF_EXPORT(exports, "measureFmaPeak", MeasureFmaPeak);
  DLF_EXPORT(exports, "selectSimd", SelectSimd);
}

}  // namespace dlf
