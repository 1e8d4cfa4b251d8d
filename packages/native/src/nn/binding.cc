// nn/ entry points: differentiable ops.
#include "runtime/napi_util.h"

namespace dlf {

void init_nn(Napi::Env env, Napi::Object exports) {}

}  // namespace dlf
