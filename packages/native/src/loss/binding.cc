// loss/ entry points.
#include "loss/loss.h"
#include "runtime/napi_util.h"

namespace dlf {
namespace {

Reduction read_reduction(const Napi::CallbackInfo& info, size_t i) {
  const int64_t red = napi::read_int(info, i, "reduction");
  DLF_THROW_RANGE_IF(red < 0 || red > 2, "unknown reduction code ", red);
  return static_cast<Reduction>(red);
}

// [sync] crossEntropy(logits, targets, weight|null, reduction 0|1|2, ignoreIndex, labelSmoothing) -> handle
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  return napi::wrap(info.Env(), cross_entropy(napi::unwrap(info, 0, "logits"), napi::unwrap(info, 1, "targets"),
                                              napi::unwrap_optional(info, 2, "weight"), read_reduction(info, 3),
                                              napi::read_int(info, 4, "ignoreIndex"),
                                              napi::read_number(info, 5, "labelSmoothing")));
}

// [sync] nllLoss(logProbs, targets, weight|null, reduction, ignoreIndex) -> handle
Napi::Value NllLoss(const Napi::CallbackInfo& info) {
  return napi::wrap(info.Env(), nll_loss(napi::unwrap(info, 0, "logProbs"), napi::unwrap(info, 1, "targets"),
                                         napi::unwrap_optional(info, 2, "weight"), read_reduction(info, 3),
                                         napi::read_int(info, 4, "ignoreIndex")));
}

// [sync] mseLoss(input, target, reduction) -> handle
Napi::Value MseLoss(const Napi::CallbackInfo& info) {
  return napi::wrap(info.Env(), mse_loss(napi::unwrap(info, 0, "input"), napi::unwrap(info, 1, "target"),
                                         read_reduction(info, 2)));
}

// [sync] bceWithLogits(logits, targets, weight|null, posWeight|null, reduction) -> handle
Napi::Value BceWithLogits(const Napi::CallbackInfo& info) {
  return napi::wrap(info.Env(),
                    bce_with_logits(napi::unwrap(info, 0, "logits"), napi::unwrap(info, 1, "targets"),
                                    napi::unwrap_optional(info, 2, "weight"),
                                    napi::unwrap_optional(info, 3, "posWeight"), read_reduction(info, 4)));
}

// [sync] topk(x, k) -> [values, indices]
Napi::Value TopK(const Napi::CallbackInfo& info) {
  TensorPtr values, indices;
  topk(napi::unwrap(info, 0, "x"), napi::read_int(info, 1, "k"), values, indices);
  auto out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, napi::wrap(info.Env(), values));
  out.Set(1u, napi::wrap(info.Env(), indices));
  return out;
}

// [sync] countCorrect(logits, targets, k) -> number
Napi::Value CountCorrect(const Napi::CallbackInfo& info) {
  const int64_t n =
      count_correct(napi::unwrap(info, 0, "logits"), napi::unwrap(info, 1, "targets"), napi::read_int(info, 2, "k"));
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

}  // namespace

void init_loss(Napi::Env env, Napi::Object exports) {
  DLF_EXPORT(exports, "crossEntropy", CrossEntropy);
  DLF_EXPORT(exports, "nllLoss", NllLoss);
  DLF_EXPORT(exports, "mseLoss", MseLoss);
  DLF_EXPORT(exports, "bceWithLogits", BceWithLogits);
  DLF_EXPORT(exports, "topk", TopK);
  DLF_EXPORT(exports, "countCorrect", CountCorrect);
}

}  // namespace dlf
