// The binding edge: tensor handles, argument readers, and the guard that turns C++ exceptions
// into JS errors. Every exported function is registered through DLF_EXPORT so none can escape.
#pragma once
#include <napi.h>

#include <cstdint>
#include <new>
#include <string>
#include <vector>

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

/** Tells V8 how much native tensor memory is alive, so the GC backstop sees the pressure. */
void report_external_memory(Napi::Env env);

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
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
