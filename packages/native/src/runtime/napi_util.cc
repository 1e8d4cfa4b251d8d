#include "runtime/napi_util.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "runtime/alloc.h"

namespace dlf::napi {
namespace {

const napi_type_tag kTensorTag = {0x646c662d74656e73ULL, 0x6f722d68616e646cULL};

struct Holder {
  TensorPtr tensor;
};

}  // namespace

void attach_env_state(Napi::Env env) { env.SetInstanceData(new EnvState()); }

EnvState* env_state(napi_env env) noexcept {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) != napi_ok) return nullptr;
  return static_cast<EnvState*>(data);
}

void throw_js(napi_env env, JsErrorKind kind, const char* message) noexcept {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return;
  // Each fails only when no JavaScript can run any more; there is nobody to tell then.
  switch (kind) {
    case JsErrorKind::RangeError:
      napi_throw_range_error(env, nullptr, message);
      break;
    case JsErrorKind::TypeError:
      napi_throw_type_error(env, nullptr, message);
      break;
    case JsErrorKind::Error:
      napi_throw_error(env, nullptr, message);
      break;
  }
}

void throw_js(napi_env env, const Napi::Error& error) noexcept {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return;
  try {
    napi_throw(env, error.Value());
  } catch (...) {
    // Reading the error back fails only while the environment shuts down.
  }
}

// V8 hears the most tensor memory that was live over the last window, not the live count itself:
// a training step's activations come and go every step, and each fall and rise reported as it
// happened looked like hundreds of MB of new external memory a step to V8, which then ran a full
// mark-compact every step (ResNet-20, batch 64; at 2 threads its concurrent marker took the second
// core and steps ran 11% slower). A rise is reported at once, so tensors left to the GC backstop
// still bring collections on; a fall waits for the window to end.
constexpr auto kExternalWindow = std::chrono::seconds(2);

void report_external_memory(Napi::Env env) {
  EnvState& state = current_env();
  const int64_t live = state.memory->live_bytes.load(std::memory_order_relaxed);
  state.external_window_peak = std::max(state.external_window_peak, live);
  int64_t target = std::max(state.reported_external_bytes, live);
  const auto now = std::chrono::steady_clock::now();
  if (now - state.external_window_start >= kExternalWindow) {
    target = state.external_window_peak;  // the window's peak (live included)
    state.external_window_peak = live;
    state.external_window_start = now;
  }
  const int64_t delta = target - state.reported_external_bytes;
  // Only meaningful changes: the call is cheap but not free.
  if (delta > (1 << 20) || delta < -(1 << 20)) {
    Napi::MemoryManagement::AdjustExternalMemory(env, delta);
    state.reported_external_bytes = target;
  }
}

Napi::Value wrap(Napi::Env env, TensorPtr t) {
  auto* holder = new Holder{std::move(t)};
  auto ext = Napi::External<Holder>::New(env, holder, [](Napi::Env, Holder* h) { delete h; });
  ext.TypeTag(&kTensorTag);
  report_external_memory(env);
  return ext;
}

static Holder* holder_of(const Napi::Value& v) {
  if (!v.IsExternal()) return nullptr;
  auto ext = v.As<Napi::External<Holder>>();
  if (!ext.CheckTypeTag(&kTensorTag)) return nullptr;
  return ext.Data();
}

TensorPtr unwrap_optional(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return nullptr;
  return unwrap(info, i, what);
}

TensorPtr unwrap(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Holder* h = i < info.Length() ? holder_of(info[i]) : nullptr;
  DLF_THROW_TYPE_IF(h == nullptr, "Expected a tensor for ", what, " but received something else");
  DLF_THROW_IF(!h->tensor, "Tensor ", what, " was used after dispose()");
  return h->tensor;
}

TensorPtr unwrap_value(const Napi::Value& v, const char* what) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  Holder* h = holder_of(v);
  DLF_THROW_TYPE_IF(h == nullptr, "Expected a tensor for ", what, " but received something else");
  DLF_THROW_IF(!h->tensor, "Tensor ", what, " was used after dispose()");
  return h->tensor;
}

void release(const Napi::Value& handle) {
  Holder* h = holder_of(handle);
  DLF_THROW_TYPE_IF(h == nullptr, "Expected a tensor handle to release");
  h->tensor.reset();
  report_external_memory(handle.Env());
}

static double number_at(const Napi::CallbackInfo& info, size_t i, const char* what) {
  DLF_THROW_TYPE_IF(i >= info.Length() || !info[i].IsNumber(), "Expected a number for ", what);
  return info[i].As<Napi::Number>().DoubleValue();
}

Attributes::Attributes(const Napi::CallbackInfo& info, size_t i, const char* op) : op_(op) {
  DLF_THROW_TYPE_IF(i >= info.Length() || !info[i].IsObject(), "Expected an attributes object for ", op);
  object_ = info[i].As<Napi::Object>();
}

double Attributes::number(const char* name) const {
  Napi::Value v = object_.Get(name);
  DLF_THROW_TYPE_IF(!v.IsNumber(), "Expected a number for ", op_, " attribute ", name);
  return v.As<Napi::Number>().DoubleValue();
}

int64_t Attributes::integer(const char* name) const {
  const double v = number(name);
  DLF_THROW_RANGE_IF(!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9007199254740991.0,
                     "Expected an integer for ", op_, " attribute ", name, " but received ", v);
  return static_cast<int64_t>(v);
}

int64_t read_int(const Napi::CallbackInfo& info, size_t i, const char* what) {
  const double v = number_at(info, i, what);
  DLF_THROW_RANGE_IF(!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9007199254740991.0,
                     "Expected an integer for ", what, " but received ", v);
  return static_cast<int64_t>(v);
}

double read_number(const Napi::CallbackInfo& info, size_t i, const char* what) { return number_at(info, i, what); }

bool read_bool(const Napi::CallbackInfo& info, size_t i, const char* what) {
  DLF_THROW_TYPE_IF(i >= info.Length() || !info[i].IsBoolean(), "Expected a boolean for ", what);
  return info[i].As<Napi::Boolean>().Value();
}

std::vector<int64_t> read_ints(const Napi::CallbackInfo& info, size_t i, const char* what) {
  DLF_THROW_TYPE_IF(i >= info.Length(), "Expected an array of integers for ", what);
  std::vector<int64_t> out;
  Napi::Value v = info[i];
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    DLF_THROW_TYPE_IF(ta.TypedArrayType() != napi_int32_array, "Expected an Int32Array for ", what);
    auto arr = v.As<Napi::Int32Array>();
    out.assign(arr.Data(), arr.Data() + arr.ElementLength());
    return out;
  }
  DLF_THROW_TYPE_IF(!v.IsArray(), "Expected an array of integers for ", what);
  auto arr = v.As<Napi::Array>();
  const uint32_t n = arr.Length();
  DLF_THROW_RANGE_IF(n > 64, "Expected at most 64 entries for ", what, " but received ", n);
  out.reserve(n);
  for (uint32_t k = 0; k < n; ++k) {
    Napi::Value e = arr.Get(k);
    DLF_THROW_TYPE_IF(!e.IsNumber(), "Expected integers in ", what);
    const double d = e.As<Napi::Number>().DoubleValue();
    DLF_THROW_RANGE_IF(!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9007199254740991.0,
                       "Expected integers in ", what, " but received ", d);
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

Shape read_shape(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Shape s = read_ints(info, i, what);
  DLF_THROW_RANGE_IF(s.size() > 16, "Expected at most 16 dimensions for ", what);
  checked_numel(s);
  return s;
}

std::vector<TensorPtr> read_tensor_list(const Napi::CallbackInfo& info, size_t i, const char* what) {
  DLF_THROW_TYPE_IF(i >= info.Length() || !info[i].IsArray(), "Expected an array of tensors for ", what);
  auto arr = info[i].As<Napi::Array>();
  std::vector<TensorPtr> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Holder* h = holder_of(arr.Get(k));
    DLF_THROW_TYPE_IF(h == nullptr, "Expected tensors in ", what);
    DLF_THROW_IF(!h->tensor, "A tensor in ", what, " was used after dispose()");
    out.push_back(h->tensor);
  }
  return out;
}

}  // namespace dlf::napi
