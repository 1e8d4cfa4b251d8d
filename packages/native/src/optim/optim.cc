// optim/ entry points: one native call updates every parameter of a step.
#include <cmath>

#include "runtime/napi_util.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

// [sync] sgdStep(params[], buffers[] (null entries start a buffer), lr, momentum, dampening, nesterov,
// weightDecay) -> buffers[] (momentum buffers, null where a parameter has no gradient or momentum is 0)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto params = napi::read_tensor_list(info, 0, "params");
  DLF_THROW_TYPE_IF(info.Length() < 2 || !info[1].IsArray(), "Expected an array for buffers");
  auto buf_arr = info[1].As<Napi::Array>();
  DLF_THROW_RANGE_IF(buf_arr.Length() != params.size(), "sgdStep: ", params.size(), " parameters but ",
                     buf_arr.Length(), " buffers");
  const float lr = static_cast<float>(napi::read_number(info, 2, "lr"));
  const float momentum = static_cast<float>(napi::read_number(info, 3, "momentum"));
  const float dampening = static_cast<float>(napi::read_number(info, 4, "dampening"));
  const bool nesterov = napi::read_bool(info, 5, "nesterov");
  const float wd = static_cast<float>(napi::read_number(info, 6, "weightDecay"));
  std::vector<TensorPtr> bufs(params.size());
  for (uint32_t i = 0; i < params.size(); ++i) bufs[i] = napi::unwrap_value(buf_arr.Get(i), "momentum buffer");
  auto out = Napi::Array::New(env, params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const TensorPtr& p = params[i];
    expect_f32(p, "parameter");
    DLF_THROW_IF(!p->is_contiguous(), "sgdStep: parameter ", i, " is not contiguous");
    if (!p->grad) {
      out.Set(static_cast<uint32_t>(i), bufs[i] ? napi::wrap(env, bufs[i]) : env.Null());
      continue;
    }
    const TensorPtr& g = p->grad;
    DLF_THROW_IF(g->shape != p->shape || !g->is_contiguous(), "sgdStep: gradient of parameter ", i, " has shape ",
                 shape_str(g->shape), " but the parameter has ", shape_str(p->shape));
    float* w = p->f32();
    const float* gd = g->f32();
    const int64_t n = p->numel();
    TensorPtr buf = bufs[i];
    const bool first = momentum != 0.f && !buf;
    if (momentum != 0.f) {
      if (!buf) buf = empty(p->shape);
      DLF_THROW_IF(buf->shape != p->shape, "sgdStep: momentum buffer ", i, " has the wrong shape");
    }
    float* b = buf ? buf->f32() : nullptr;
    parallel_for(n, 65536, [&](int64_t i0, int64_t i1) {
      for (int64_t k = i0; k < i1; ++k) {
        float d = gd[k] + wd * w[k];
        if (b) {
          b[k] = first ? d : momentum * b[k] + (1.f - dampening) * d;
          d = nesterov ? d + momentum * b[k] : b[k];
        }
        w[k] -= lr * d;
      }
    });
    out.Set(static_cast<uint32_t>(i), buf ? napi::wrap(env, buf) : env.Null());
  }
  return out;
}

}  // namespace

void init_optim(Napi::Env env, Napi::Object exports) { DLF_EXPORT(exports, "sgdStep", SgdStep); }

}  // namespace dlf
