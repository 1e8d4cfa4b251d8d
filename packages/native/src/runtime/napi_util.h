// The binding edge: tensor handles, argument readers, and the guard that turns C++ exceptions
// into JS errors. Every exported function is registered through DLF_EXPORT so none can escape.
#pragma once
#include <napi.h>

#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "runtime/env_state.h"
#include "runtime/errors.h"
#include "tensor/tensor.h"

namespace dlf::napi {

/** A JS handle is an External holding a TensorPtr, type-tagged so foreign externals are rejected. */
Napi::Value wrap(Napi::Env env, TensorPtr t);
/** The tensor behind argument i; throws TypeError if it is not a live dlf handle. */
TensorPtr unwrap(const Napi::CallbackInfo& info, size_t i, const char* what);
/** Like unwrap, but returns null for undefined or null. */
TensorPtr unwrap_optional(const Napi::CallbackInfo& info, size_t i, const char* what);
/** The tensor behind a value, or null for undefined / null; throws TypeError for anything else. */
TensorPtr unwrap_value(const Napi::Value& v, const char* what);
/** Drops the handle's reference (dispose). Safe to call twice. */
void release(const Napi::Value& handle);

Shape read_shape(const Napi::CallbackInfo& info, size_t i, const char* what);
std::vector<int64_t> read_ints(const Napi::CallbackInfo& info, size_t i, const char* what);
int64_t read_int(const Napi::CallbackInfo& info, size_t i, const char* what);
double read_number(const Napi::CallbackInfo& info, size_t i, const char* what);
bool read_bool(const Napi::CallbackInfo& info, size_t i, const char* what);
std::vector<TensorPtr> read_tensor_list(const Napi::CallbackInfo& info, size_t i, const char* what);

/** An op's named attributes, passed as a plain object (`{ strideH: 1, padH: 0, ... }`). */
class Attributes {
 public:
  Attributes(const Napi::CallbackInfo& info, size_t i, const char* op);
  /** A finite number; TypeError naming the op and attribute when missing or not a number. */
  double number(const char* name) const;
  /** An integer (a safe integer, as a JS number); RangeError otherwise. */
  int64_t integer(const char* name) const;

 private:
  Napi::Object object_;
  const char* op_;
};

/** Tells V8 how much native tensor memory the current environment holds, so the GC backstop sees the pressure. */
void report_external_memory(Napi::Env env);

/** Creates the environment's EnvState as its instance data (deleted with the environment). Call once, in Init. */
void attach_env_state(Napi::Env env);
/** The environment's EnvState, or null if attach_env_state was not called. Never throws. */
EnvState* env_state(napi_env env) noexcept;

enum class JsErrorKind { Error, TypeError, RangeError };
/**
 * Throws a JS error of `kind` unless an exception is already pending. Never throws in C++: while the
 * environment shuts down (worker.terminate(), process exit) no JavaScript can run, and the error is
 * dropped, since no code is left to catch it.
 */
void throw_js(napi_env env, JsErrorKind kind, const char* message) noexcept;
/** Throws an error that node-addon-api raised as a C++ exception back into JS; never throws. */
void throw_js(napi_env env, const Napi::Error& error) noexcept;

// Every export runs through here. It makes the caller's environment current for the call (ops deep
// inside use its kernel table, switches and memory account) and turns every C++ exception into a
// JS exception itself, without letting any escape into Node-API: throwing at an environment that is
// terminating fails, and a C++ exception raised from node-addon-api's own callback wrapper would
// abort the whole process.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  const napi_env env = info.Env();
  EnvScope scope(env_state(env));
  try {
    return F(info);
  } catch (const Napi::Error& e) {
    throw_js(env, e);
  } catch (const RangeError& e) {
    throw_js(env, JsErrorKind::RangeError, e.what());
  } catch (const TypeError& e) {
    throw_js(env, JsErrorKind::TypeError, e.what());
  } catch (const std::bad_alloc&) {
    throw_js(env, JsErrorKind::Error, "dlf: out of memory");
  } catch (const std::exception& e) {
    throw_js(env, JsErrorKind::Error, e.what());
  } catch (...) {
    throw_js(env, JsErrorKind::Error, "dlf: unknown native error");
  }
  return Napi::Value();
}

}  // namespace dlf::napi

#define DLF_EXPORT(exports, name, fn) \
  (exports).Set(name, Napi::Function::New((exports).Env(), &::dlf::napi::guarded<fn>, name))
