// optim/ entry points: one native call updates every parameter of a step.
//
// The kernels follow PyTorch 1.13's single-tensor update rules operation by operation, in float32,
// with every scalar coefficient computed in double and rounded to float once (as PyTorch does when
// it passes a Python float to a float32 tensor op). Parameters without a gradient are skipped and
// their state is left untouched.
#include <cmath>

#include "runtime/napi_util.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

constexpr int64_t kGrain = 65536;

// Reads an array of optional state tensors (one per parameter); null entries have no state yet.
std::vector<TensorPtr> read_state(const Napi::CallbackInfo& info, size_t i, const char* what, size_t n) {
  DLF_THROW_TYPE_IF(info.Length() <= i || !info[i].IsArray(), "Expected an array for ", what);
  auto arr = info[i].As<Napi::Array>();
  DLF_THROW_RANGE_IF(arr.Length() != n, what, ": ", n, " parameters but ", arr.Length(), " entries");
  std::vector<TensorPtr> out(n);
  for (uint32_t k = 0; k < n; ++k) out[k] = napi::unwrap_value(arr.Get(k), what);
  return out;
}

// The parameter's gradient, or null when it has none; throws unless parameter and gradient are
// contiguous float32 of one shape.
const TensorPtr* checked_grad(const TensorPtr& p, size_t i, const char* op) {
  expect_f32(p, "parameter");
  DLF_THROW_IF(!p->is_contiguous(), op, ": parameter ", i, " is not contiguous");
  if (!p->grad) return nullptr;
  const TensorPtr& g = p->grad;
  expect_f32(g, "gradient");
  DLF_THROW_IF(g->shape != p->shape || !g->is_contiguous(), op, ": gradient of parameter ", i, " has shape ",
               shape_str(g->shape), " but the parameter has ", shape_str(p->shape));
  return &g;
}

void check_state(const TensorPtr& s, const TensorPtr& p, size_t i, const char* what) {
  expect_f32(s, what);
  DLF_THROW_RANGE_IF(s->shape != p->shape || !s->is_contiguous(), what, " of parameter ", i, " has shape ",
                     shape_str(s->shape), " but the parameter has ", shape_str(p->shape));
}

// sgd: w, g, buf (same shape).
//   d = g + wd w;  buf = d (first step) or momentum buf + (1 - dampening) d;
//   d = nesterov ? d + momentum buf : buf;  w = w - lr d
// [sync] sgdStep(params[], buffers[] (null: none yet), lr, momentum, dampening, nesterov, weightDecay)
//   -> (handle | null)[]: the momentum buffers created by this call (null elsewhere)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto params = napi::read_tensor_list(info, 0, "params");
  auto bufs = read_state(info, 1, "momentum buffers", params.size());
  const double lr = napi::read_number(info, 2, "lr");
  const double momentum = napi::read_number(info, 3, "momentum");
  const double dampening = napi::read_number(info, 4, "dampening");
  const bool nesterov = napi::read_bool(info, 5, "nesterov");
  const double weight_decay = napi::read_number(info, 6, "weightDecay");
  const float neg_lr = static_cast<float>(-lr);
  const float mom = static_cast<float>(momentum);
  const float one_minus_damp = static_cast<float>(1.0 - dampening);
  const float wd = static_cast<float>(weight_decay);
  for (size_t i = 0; i < params.size(); ++i) {
    const TensorPtr* g = checked_grad(params[i], i, "sgdStep");
    if (g && bufs[i]) check_state(bufs[i], params[i], i, "momentum buffer");
  }
  auto out = Napi::Array::New(env, params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    out.Set(static_cast<uint32_t>(i), env.Null());
    const TensorPtr& p = params[i];
    const TensorPtr* gp = checked_grad(p, i, "sgdStep");
    if (!gp) continue;
    float* w = p->f32();
    const float* gd = (*gp)->f32();
    TensorPtr buf = bufs[i];
    const bool first = momentum != 0.0 && !buf;
    if (first) {
      buf = empty(p->shape);
      out.Set(static_cast<uint32_t>(i), napi::wrap(env, buf));
    }
    float* b = momentum != 0.0 ? buf->f32() : nullptr;
    const bool decay = weight_decay != 0.0;
    parallel_for(p->numel(), kGrain, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        float d = decay ? gd[k] + wd * w[k] : gd[k];
        if (b) {
          b[k] = first ? d : b[k] * mom + one_minus_damp * d;
          d = nesterov ? d + mom * b[k] : b[k];
        }
        w[k] = w[k] + neg_lr * d;
      }
    });
  }
  return out;
}

// adam / adamw: w, g, m, v, vmax (same shape); t = the parameter's step count after this step.
//   adam:  g = g + wd w            adamw: w = w (1 - lr wd)
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g g;  vmax = max(vmax, v) (amsgrad)
//   w = w - lr / (1 - beta1^t) * m / (sqrt(amsgrad ? vmax : v) / sqrt(1 - beta2^t) + eps)
// [sync] adamStep(params[], expAvg[], expAvgSq[], maxExpAvgSq[] (null: none yet), steps (Float64Array,
//   incremented in place for every parameter updated), lr, beta1, beta2, eps, weightDecay, amsgrad,
//   decoupled) -> ([m, v, vmax | null] | null)[]: the state created by this call (null elsewhere)
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto params = napi::read_tensor_list(info, 0, "params");
  const size_t n = params.size();
  auto ms = read_state(info, 1, "expAvg", n);
  auto vs = read_state(info, 2, "expAvgSq", n);
  auto vmaxs = read_state(info, 3, "maxExpAvgSq", n);
  DLF_THROW_TYPE_IF(info.Length() <= 4 || !info[4].IsTypedArray() ||
                        info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array,
                    "Expected a Float64Array for steps");
  auto steps_arr = info[4].As<Napi::Float64Array>();
  DLF_THROW_RANGE_IF(steps_arr.ElementLength() != n, "adamStep: ", n, " parameters but ", steps_arr.ElementLength(),
                     " step counts");
  double* steps = steps_arr.Data();
  const double lr = napi::read_number(info, 5, "lr");
  const double beta1 = napi::read_number(info, 6, "beta1");
  const double beta2 = napi::read_number(info, 7, "beta2");
  const double eps = napi::read_number(info, 8, "eps");
  const double weight_decay = napi::read_number(info, 9, "weightDecay");
  const bool amsgrad = napi::read_bool(info, 10, "amsgrad");
  const bool decoupled = napi::read_bool(info, 11, "decoupled");
  // Validate everything before touching anything, so an error leaves parameters and state unchanged.
  for (size_t i = 0; i < n; ++i) {
    if (!checked_grad(params[i], i, "adamStep")) continue;
    const bool has = ms[i] != nullptr;
    DLF_THROW_IF(has != (vs[i] != nullptr) || (amsgrad && has != (vmaxs[i] != nullptr)),
                 "adamStep: incomplete state for parameter ", i);
    if (has) {
      check_state(ms[i], params[i], i, "expAvg");
      check_state(vs[i], params[i], i, "expAvgSq");
      if (amsgrad) check_state(vmaxs[i], params[i], i, "maxExpAvgSq");
    }
  }
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
  const float one_minus_b1 = static_cast<float>(1.0 - beta1), one_minus_b2 = static_cast<float>(1.0 - beta2);
  const float epsf = static_cast<float>(eps);
  const float wd = static_cast<float>(weight_decay);
  const float decay_factor = static_cast<float>(1.0 - lr * weight_decay);
  auto out = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; ++i) {
    out.Set(static_cast<uint32_t>(i), env.Null());
    const TensorPtr& p = params[i];
    const TensorPtr* gp = checked_grad(p, i, "adamStep");
    if (!gp) continue;
    if (!ms[i]) {
      ms[i] = zeros(p->shape);
      vs[i] = zeros(p->shape);
      if (amsgrad) vmaxs[i] = zeros(p->shape);
      auto created = Napi::Array::New(env, 3);
      created.Set(0u, napi::wrap(env, ms[i]));
      created.Set(1u, napi::wrap(env, vs[i]));
      created.Set(2u, amsgrad ? napi::wrap(env, vmaxs[i]) : env.Null());
      out.Set(static_cast<uint32_t>(i), created);
    }
    const double t = steps[i] + 1.0;
    steps[i] = t;
    const double bias_correction1 = 1.0 - std::pow(beta1, t);
    const double bias_correction2 = 1.0 - std::pow(beta2, t);
    const float neg_step_size = static_cast<float>(-(lr / bias_correction1));
    const float bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
    float* w = p->f32();
    const float* gd = (*gp)->f32();
    float* m = ms[i]->f32();
    float* v = vs[i]->f32();
    float* vmax = amsgrad ? vmaxs[i]->f32() : nullptr;
    const bool l2 = !decoupled && weight_decay != 0.0;
    parallel_for(p->numel(), kGrain, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        float g = l2 ? gd[k] + wd * w[k] : gd[k];
        float wk = decoupled ? w[k] * decay_factor : w[k];
        const float mk = m[k] * b1 + one_minus_b1 * g;
        const float vk = v[k] * b2 + one_minus_b2 * g * g;
        m[k] = mk;
        v[k] = vk;
        float second = vk;
        if (vmax) {
          // torch.maximum: NaN from either side propagates.
          second = std::isnan(vk) || vk > vmax[k] ? vk : vmax[k];
          vmax[k] = second;
        }
        const float denom = std::sqrt(second) / bc2_sqrt + epsf;
        w[k] = wk + neg_step_size * mk / denom;
      }
    });
  }
  return out;
}

// ema: a (the average), s (its source), same shape.
//   a = decay a + (1 - decay) s   (PyTorch's a.mul_(decay).add_(s, alpha=1 - decay))
// In place, so keeping an average allocates nothing after its tensors exist.
// [sync] emaUpdate(averages[], sources[], decay in [0, 1]) -> undefined
Napi::Value EmaUpdate(const Napi::CallbackInfo& info) {
  auto averages = napi::read_tensor_list(info, 0, "averages");
  auto sources = napi::read_tensor_list(info, 1, "sources");
  DLF_THROW_RANGE_IF(averages.size() != sources.size(), "emaUpdate: ", averages.size(), " averages but ",
                     sources.size(), " sources");
  const double decay = napi::read_number(info, 2, "decay");
  DLF_THROW_RANGE_IF(!(decay >= 0.0 && decay <= 1.0), "emaUpdate: decay must be in [0, 1], not ", decay);
  // Validate everything before touching anything, so an error leaves every average unchanged.
  for (size_t i = 0; i < averages.size(); ++i) {
    expect_f32(sources[i], "source");
    DLF_THROW_IF(!sources[i]->is_contiguous(), "emaUpdate: source ", i, " is not contiguous");
    check_state(averages[i], sources[i], i, "average");
  }
  const float keep = static_cast<float>(decay);
  const float take = static_cast<float>(1.0 - decay);
  for (size_t i = 0; i < averages.size(); ++i) {
    float* a = averages[i]->f32();
    const float* s = sources[i]->f32();
    parallel_for(averages[i]->numel(), kGrain, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) a[k] = a[k] * keep + take * s[k];
    });
  }
  return info.Env().Undefined();
}

}  // namespace

void init_optim(Napi::Env env, Napi::Object exports) {
  DLF_EXPORT(exports, "sgdStep", SgdStep);
  DLF_EXPORT(exports, "adamStep", AdamStep);
  DLF_EXPORT(exports, "emaUpdate", EmaUpdate);
}

}  // namespace dlf
