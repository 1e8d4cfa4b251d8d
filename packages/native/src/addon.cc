// Module entry: each slice registers its own entry points.
#include <napi.h>

#include "runtime/napi_util.h"

namespace dlf {
void init_tensor(Napi::Env env, Napi::Object exports);
void init_autograd(Napi::Env env, Napi::Object exports);
void init_nn(Napi::Env env, Napi::Object exports);
void init_loss(Napi::Env env, Napi::Object exports);
void init_optim(Napi::Env env, Napi::Object exports);
}  // namespace dlf

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Once per environment: the main thread and every worker thread that loads the addon.
  dlf::napi::attach_env_state(env);
  dlf::init_tensor(env, exports);
  dlf::init_autograd(env, exports);
  dlf::init_nn(env, exports);
  dlf::init_loss(env, exports);
  dlf::init_optim(env, exports);
  exports.Set("version", Napi::String::New(env, DLF_VERSION));
  return exports;
}

NODE_API_MODULE(dlf, Init)
