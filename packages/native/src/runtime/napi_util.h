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

/** Tells V8 how much native tensor memory the current environment holds, so the GC backstop sees the pressure. */
void report_external_memory(Napi::Env env);

/** Creates the environment's EnvState as its instance data (deleted with the environment). Call once, in Init. */
void attach_env_state(Napi::Env env);
/** The environment's EnvState, or null if attach_env_state was not called. Never throws. */
EnvState* env_state(napi_env env) noexcept;

// Every export runs through here. It makes the caller's environment current for the call: ops deep
// inside use its kernel table, switches and memory account.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvScope scope(env_state(env));
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const RangeError& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const TypeError& e) {
    throw Napi::TypeError::New(env, e.what());
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "dlf: out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  } catch (...) {
    throw Napi::Error::New(env, "dlf: unknown native error");
  }
}

}  // namespace dlf::napi

#define DLF_EXPORT(exports, name, fn) \
  (exports).Set(name, Napi::Function::New((exports).Env(), &::dlf::napi::guarded<fn>, name))
