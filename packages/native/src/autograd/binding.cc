// autograd/ entry points: grad mode, leaf flags, .grad, and backward (one call walks the graph).
#include "autograd/node.h"
#include "runtime/napi_util.h"

namespace dlf {
namespace {

using napi::unwrap;
using napi::wrap;

// [sync] setRequiresGrad(handle, flag). Error for a non-leaf asked to stop requiring grad.
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  auto t = unwrap(info, 0, "tensor");
  const bool flag = napi::read_bool(info, 1, "requiresGrad");
  DLF_THROW_TYPE_IF(flag && t->dtype != DType::F32, "Only float32 tensors can require grad; this one is ",
                    dtype_name(t->dtype));
  DLF_THROW_IF(!flag && t->grad_fn, "requiresGrad can only be turned off on a leaf tensor; use detach()");
  t->requires_grad = flag;
  return info.Env().Undefined();
}

// [sync] requiresGrad(handle) -> boolean
Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrap(info, 0, "tensor")->requires_grad);
}

// [sync] isLeaf(handle) -> boolean
Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrap(info, 0, "tensor")->grad_fn == nullptr);
}

// [sync] gradFnName(handle) -> string | null
Napi::Value GradFnName(const Napi::CallbackInfo& info) {
  auto t = unwrap(info, 0, "tensor");
  if (!t->grad_fn) return info.Env().Null();
  return Napi::String::New(info.Env(), t->grad_fn->name());
}

// [sync] grad(handle) -> handle | null (shares memory with the accumulated gradient)
Napi::Value Grad(const Napi::CallbackInfo& info) {
  auto t = unwrap(info, 0, "tensor");
  if (!t->grad) return info.Env().Null();
  return wrap(info.Env(), t->grad);
}

// [sync] setGrad(handle, grad | null). RangeError if shapes differ.
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  auto t = unwrap(info, 0, "tensor");
  auto g = napi::unwrap_optional(info, 1, "grad");
  if (g) {
    DLF_THROW_RANGE_IF(g->shape != t->shape, "grad of shape ", shape_str(g->shape), " does not match tensor shape ",
                       shape_str(t->shape));
    expect_f32(g, "grad");
    auto own = empty(g->shape);
    copy_into(own, g);
    g = own;
  }
  t->grad = g;
  return info.Env().Undefined();
}

// [sync] backward(handle, grad | null, retainGraph, watched?: handle[], onGradReady?: (i) => void).
// Walks the graph once, iteratively. With watched leaves, onGradReady(i) is called synchronously,
// from inside the walk, once watched[i]'s gradient is final; an exception it throws ends backward.
Napi::Value Backward(const Napi::CallbackInfo& info) {
  auto t = unwrap(info, 0, "tensor");
  auto g = napi::unwrap_optional(info, 1, "gradient");
  const bool retain = napi::read_bool(info, 2, "retainGraph");
  if (info.Length() < 4 || info[3].IsUndefined() || info[3].IsNull()) {
    run_backward(t, g, retain);
  } else {
    DLF_THROW_TYPE_IF(info.Length() < 5 || !info[4].IsFunction(), "Expected a function for onGradReady");
    const Napi::Env env = info.Env();
    const Napi::Function on_ready = info[4].As<Napi::Function>();
    GradReadyHook hook{napi::read_tensor_list(info, 3, "watched"), [&](size_t i) {
                         Napi::HandleScope scope(env);
                         on_ready.Call({Napi::Number::New(env, static_cast<double>(i))});
                       }};
    run_backward(t, g, retain, &hook);
  }
  napi::report_external_memory(info.Env());
  return info.Env().Undefined();
}

// [sync] detach(handle) -> handle sharing memory, without history
Napi::Value Detach(const Napi::CallbackInfo& info) { return wrap(info.Env(), alias(unwrap(info, 0, "tensor"))); }

// [sync] setGradEnabled(flag) -> previous flag
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  const bool prev = grad_enabled();
  set_grad_enabled(napi::read_bool(info, 0, "enabled"));
  return Napi::Boolean::New(info.Env(), prev);
}

// [sync] isGradEnabled() -> boolean
Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), grad_enabled()); }

}  // namespace

void init_autograd(Napi::Env env, Napi::Object exports) {
  DLF_EXPORT(exports, "setRequiresGrad", SetRequiresGrad);
  DLF_EXPORT(exports, "requiresGrad", RequiresGrad);
  DLF_EXPORT(exports, "isLeaf", IsLeaf);
  DLF_EXPORT(exports, "gradFnName", GradFnName);
  DLF_EXPORT(exports, "grad", Grad);
  DLF_EXPORT(exports, "setGrad", SetGrad);
  DLF_EXPORT(exports, "backward", Backward);
  DLF_EXPORT(exports, "detach", Detach);
  DLF_EXPORT(exports, "setGradEnabled", SetGradEnabled);
  DLF_EXPORT(exports, "isGradEnabled", IsGradEnabled);
}

}  // namespace dlf
