// loss/ entry points.
#include "loss/loss.h"
#include "runtime/napi_util.h"

namespace dlf {
namespace {

// [sync] crossEntropy(logits, targets, weight|null, reduction 0|1|2, ignoreIndex, labelSmoothing) -> handle
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  const int64_t red = napi::read_int(info, 3, "reduction");
  DLF_THROW_RANGE_IF(red < 0 || red > 2, "unknown reduction code ", red);
  return napi::wrap(info.Env(), cross_entropy(napi::unwrap(info, 0, "logits"), napi::unwrap(info, 1, "targets"),
                                              napi::unwrap_optional(info, 2, "weight"), static_cast<Reduction>(red),
                                              napi::read_int(info, 4, "ignoreIndex"),
                                              napi::read_number(info, 5, "labelSmoothing")));
}

}  // namespace

void init_loss(Napi::Env env, Napi::Object exports) { DLF_EXPORT(exports, "crossEntropy", CrossEntropy); }

}  // namespace dlf
