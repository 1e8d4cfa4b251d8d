// Module entry: each slice registers its entry points on an object of its own (`binding.tensor`,
// `binding.math`, ...), which its TypeScript package reaches through `@dlf/native/<slice>`; tests
// reach the test-only switches of `binding.testing` through `@dlf/native/testing`.
#include <napi.h>

#include "runtime/napi_util.h"

namespace dlf {
void init_tensor(Napi::Env env, Napi::Object exports);
void init_math(Napi::Env env, Napi::Object exports);
void init_autograd(Napi::Env env, Napi::Object exports);
void init_nn(Napi::Env env, Napi::Object exports);
void init_loss(Napi::Env env, Napi::Object exports);
void init_optim(Napi::Env env, Napi::Object exports);
void init_testing(Napi::Env env, Napi::Object exports);
}  // namespace dlf

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Once per environment: the main thread and every worker thread that loads the addon.
  dlf::napi::attach_env_state(env);
  const auto slice = [&](const char* name, void (*init)(Napi::Env, Napi::Object)) {
    Napi::Object object = Napi::Object::New(env);
    init(env, object);
    exports.Set(name, object);
  };
  slice("tensor", dlf::init_tensor);
  slice("math", dlf::init_math);
  slice("autograd", dlf::init_autograd);
  slice("nn", dlf::init_nn);
  slice("loss", dlf::init_loss);
  slice("optim", dlf::init_optim);
  slice("testing", dlf::init_testing);
  exports.Set("version", Napi::String::New(env, DLF_VERSION));
  return exports;
}

NODE_API_MODULE(dlf, Init)
