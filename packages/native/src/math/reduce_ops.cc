#include <cmath>
#include <cstring>
#include <limits>

#include "autograd/node.h"
#include "math/ops.h"
#include "runtime/threadpool.h"
#include "tensor/reduce.h"
#include "tensor/views.h"

namespace dlf {
namespace {

Shape kept_shape(const Shape& s, const std::vector<int64_t>& axes) {
  Shape k = s;
  for (int64_t a : axes) k[a] = 1;
  return k;
}

Shape dropped_shape(const Shape& s, const std::vector<int64_t>& axes) {
  Shape out;
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i) {
    bool reduced = false;
    for (int64_t a : axes) reduced = reduced || a == i;
    if (!reduced) out.push_back(s[i]);
  }
  return out;
}

// y = sum(x, axes) [* 1/n]: dx = broadcast(dy reshaped to the kept shape) [* 1/n]
struct SumBackward final : Node {
  Shape keep;
  float scale = 1.f;
  const char* name() const override { return scale == 1.f ? "SumBackward" : "MeanBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    auto gk = make_view(g, keep, contiguous_strides(keep), g->offset);
    auto dx = broadcast_to(gk, input_shapes[0]);
    if (scale != 1.f) dx = affine_scalar(dx, scale, 0.f);
    else if (dx == gk) dx = contiguous_data(alias(dx));
    gin[0] = dx;
  }
};

// (outer, n, inner) view of a contiguous tensor around `axis`
struct Split3 {
  int64_t outer = 1, n = 1, inner = 1;
};
Split3 split_at(const Shape& s, int64_t axis) {
  Split3 r;
  for (int64_t i = 0; i < axis; ++i) r.outer *= s[i];
  r.n = s[axis];
  for (int64_t i = axis + 1; i < static_cast<int64_t>(s.size()); ++i) r.inner *= s[i];
  return r;
}

// y = max(x, axis): dx[argmax] = dy
struct MaxBackward final : Node {
  TensorPtr argmax;  // int32 (outer, inner)
  Split3 dims;
  const char* name() const override { return "MaxBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    auto dx = zeros(input_shapes[0]);
    const float* pg = g->f32();
    const int32_t* am = argmax->data<int32_t>();
    float* pd = dx->f32();
    for (int64_t o = 0; o < dims.outer; ++o)
      for (int64_t i = 0; i < dims.inner; ++i) {
        const int64_t k = o * dims.inner + i;
        pd[(o * dims.n + am[k]) * dims.inner + i] += pg[k];
      }
    gin[0] = dx;
  }
  void release_saved() override { argmax.reset(); }
};

struct SoftmaxBackward final : Node {
  TensorPtr y;
  Split3 dims;
  bool log = false;
  const char* name() const override { return log ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    auto dx = empty(g->shape);
    const float* pg = g->f32();
    const float* py = y->f32();
    float* pd = dx->f32();
    const Split3 d = dims;
    const bool lg = log;
    parallel_for(d.outer * d.inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(d.n, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t o = r / d.inner, i = r % d.inner;
        const int64_t base = o * d.n * d.inner + i;
        double s = 0.0;
        if (lg) {
          for (int64_t k = 0; k < d.n; ++k) s += pg[base + k * d.inner];
          for (int64_t k = 0; k < d.n; ++k) {
            const int64_t idx = base + k * d.inner;
            pd[idx] = pg[idx] - std::exp(py[idx]) * static_cast<float>(s);
          }
        } else {
          for (int64_t k = 0; k < d.n; ++k) s += static_cast<double>(pg[base + k * d.inner]) * py[base + k * d.inner];
          for (int64_t k = 0; k < d.n; ++k) {
            const int64_t idx = base + k * d.inner;
            pd[idx] = py[idx] * (pg[idx] - static_cast<float>(s));
          }
        }
      }
    });
    gin[0] = dx;
  }
  void release_saved() override { y.reset(); }
};

struct ConcatBackward final : Node {
  int64_t axis = 0;
  const char* name() const override { return "ConcatBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    const Split3 out = split_at(g->shape, axis);
    int64_t start = 0;
    for (size_t k = 0; k < input_shapes.size(); ++k) {
      const int64_t len = input_shapes[k][axis];
      if (needs_grad(k)) {
        auto dx = empty(input_shapes[k]);
        for (int64_t o = 0; o < out.outer; ++o) {
          std::memcpy(dx->f32() + o * len * out.inner, g->f32() + (o * out.n + start) * out.inner,
                      sizeof(float) * static_cast<size_t>(len * out.inner));
        }
        gin[k] = dx;
      }
      start += len;
    }
  }
};

}  // namespace

TensorPtr sum(const TensorPtr& x, const std::vector<int64_t>& axes, bool keepdim, bool mean) {
  expect_f32(x, "x");
  for (size_t i = 0; i < axes.size(); ++i) {
    DLF_THROW_RANGE_IF(axes[i] < 0 || axes[i] >= x->dim(), "sum: axis ", axes[i], " out of range for shape ",
                       shape_str(x->shape));
    DLF_THROW_RANGE_IF(i > 0 && axes[i] <= axes[i - 1], "sum: axes must be sorted and unique");
  }
  const Shape keep = kept_shape(x->shape, axes);
  auto y = sum_to_shape(x, keep);
  if (y == x) y = clone(alias(x));
  int64_t count = 1;
  for (int64_t a : axes) count *= x->shape[a];
  const float scale = mean ? (count == 0 ? std::numeric_limits<float>::quiet_NaN() : 1.f / static_cast<float>(count)) : 1.f;
  if (mean) {
    float* p = y->f32();
    for (int64_t i = 0, n = y->numel(); i < n; ++i) p[i] *= scale;
  }
  const Shape out_shape = keepdim ? keep : dropped_shape(x->shape, axes);
  y = make_view(y, out_shape, contiguous_strides(out_shape), y->offset);
  if (any_requires_grad({&x})) {
    auto node = make_node<SumBackward>();
    node->keep = keep;
    node->scale = scale;
    attach(y, node, {&x});
  }
  return y;
}

TensorPtr max(const TensorPtr& x_in, int64_t axis, bool keepdim) {
  expect_f32(x_in, "x");
  DLF_THROW_RANGE_IF(axis < 0 || axis >= x_in->dim(), "max: axis ", axis, " out of range for shape ",
                     shape_str(x_in->shape));
  DLF_THROW_RANGE_IF(x_in->shape[axis] == 0, "max: cannot reduce an empty axis of shape ", shape_str(x_in->shape));
  auto x = contiguous_data(x_in);
  const Split3 d = split_at(x->shape, axis);
  Shape keep = x->shape;
  keep[axis] = 1;
  auto y = empty(keep);
  auto am = empty({d.outer, d.inner}, DType::I32);
  const float* px = x->f32();
  float* py = y->f32();
  int32_t* pa = am->data<int32_t>();
  for (int64_t o = 0; o < d.outer; ++o)
    for (int64_t i = 0; i < d.inner; ++i) {
      const float* base = px + o * d.n * d.inner + i;
      float best = base[0];
      int32_t bi = 0;
      for (int64_t k = 1; k < d.n; ++k) {
        const float v = base[k * d.inner];
        if (v > best || (std::isnan(v) && !std::isnan(best))) {
          best = v;
          bi = static_cast<int32_t>(k);
        }
      }
      py[o * d.inner + i] = best;
      pa[o * d.inner + i] = bi;
    }
  const Shape out_shape = keepdim ? keep : dropped_shape(x->shape, {axis});
  y = make_view(y, out_shape, contiguous_strides(out_shape), 0);
  if (any_requires_grad({&x_in})) {
    auto node = make_node<MaxBackward>();
    node->argmax = am;
    node->dims = d;
    attach(y, node, {&x_in});
  }
  return y;
}

TensorPtr softmax(const TensorPtr& x_in, int64_t axis, bool log) {
  expect_f32(x_in, "x");
  DLF_THROW_RANGE_IF(axis < 0 || axis >= x_in->dim(), "softmax: axis ", axis, " out of range for shape ",
                     shape_str(x_in->shape));
  auto x = contiguous_data(x_in);
  const Split3 d = split_at(x->shape, axis);
  auto y = empty(x->shape);
  const float* px = x->f32();
  float* py = y->f32();
  parallel_for(d.outer * d.inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(d.n, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / d.inner, i = r % d.inner;
      const int64_t base = o * d.n * d.inner + i;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t k = 0; k < d.n; ++k) m = std::max(m, px[base + k * d.inner]);
      double s = 0.0;
      for (int64_t k = 0; k < d.n; ++k) s += std::exp(static_cast<double>(px[base + k * d.inner] - m));
      if (log) {
        const float lse = m + static_cast<float>(std::log(s));
        for (int64_t k = 0; k < d.n; ++k) py[base + k * d.inner] = px[base + k * d.inner] - lse;
      } else {
        const double inv = 1.0 / s;
        for (int64_t k = 0; k < d.n; ++k) {
          py[base + k * d.inner] = static_cast<float>(std::exp(static_cast<double>(px[base + k * d.inner] - m)) * inv);
        }
      }
    }
  });
  if (any_requires_grad({&x_in})) {
    auto node = make_node<SoftmaxBackward>();
    node->y = save(y);
    node->dims = d;
    node->log = log;
    attach(y, node, {&x_in});
  }
  return y;
}

TensorPtr concat(const std::vector<TensorPtr>& xs_in, int64_t axis) {
  DLF_THROW_RANGE_IF(xs_in.empty(), "concat: needs at least one tensor");
  const Shape& first = xs_in[0]->shape;
  DLF_THROW_RANGE_IF(axis < 0 || axis >= static_cast<int64_t>(first.size()), "concat: axis ", axis,
                     " out of range for shape ", shape_str(first));
  std::vector<TensorPtr> xs;
  Shape out_shape = first;
  out_shape[axis] = 0;
  for (const auto& t : xs_in) {
    expect_f32(t, "concat input");
    DLF_THROW_RANGE_IF(t->dim() != static_cast<int64_t>(first.size()), "concat: shapes ", shape_str(first), " and ",
                       shape_str(t->shape), " differ in rank");
    for (int64_t i = 0; i < t->dim(); ++i) {
      DLF_THROW_RANGE_IF(i != axis && t->shape[i] != first[i], "concat: shapes ", shape_str(first), " and ",
                         shape_str(t->shape), " differ outside axis ", axis);
    }
    out_shape[axis] += t->shape[axis];
    xs.push_back(contiguous_data(t));
  }
  auto out = empty(out_shape);
  const Split3 d = split_at(out_shape, axis);
  int64_t start = 0;
  for (const auto& t : xs) {
    const int64_t len = t->shape[axis];
    for (int64_t o = 0; o < d.outer; ++o) {
      std::memcpy(out->f32() + (o * d.n + start) * d.inner, t->f32() + o * len * d.inner,
                  sizeof(float) * static_cast<size_t>(len * d.inner));
    }
    start += len;
  }
  bool any = false;
  if (grad_enabled())
    for (const auto& t : xs_in) any = any || t->requires_grad;
  if (any) {
    auto node = make_node<ConcatBackward>();
    node->axis = axis;
    attach_list(out, node, xs_in);
  }
  return out;
}

}  // namespace dlf
