#include "tensor/views.h"

#include <cmath>

#include "autograd/node.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

// y = reshape(x): dx = reshape(dy, x.shape)
struct ReshapeBackward final : Node {
  const char* name() const override { return "ReshapeBackward"; }
  void backward(const TensorPtr& gout, std::vector<TensorPtr>& gin) override {
    auto g = contiguous_data(gout);
    gin[0] = make_view(g, input_shapes[0], contiguous_strides(input_shapes[0]), g->offset);
  }
};

// y = x[start:start+length]: dx = zeros with dy placed at the rows
struct NarrowBackward final : Node {
  int64_t start = 0;
  const char* name() const override { return "NarrowBackward"; }
  void backward(const TensorPtr& gout, std::vector<TensorPtr>& gin) override {
    auto dx = zeros(input_shapes[0]);
    const int64_t row = dx->shape.empty() ? 1 : dx->numel() / std::max<int64_t>(dx->shape[0], 1);
    auto g = contiguous_data(gout);
    std::copy(g->f32(), g->f32() + g->numel(), dx->f32() + start * row);
    gin[0] = dx;
  }
};

// y = permute(x, dims): dx = permute(dy, inverse(dims))
struct PermuteBackward final : Node {
  std::vector<int64_t> inverse;
  const char* name() const override { return "PermuteBackward"; }
  void backward(const TensorPtr& gout, std::vector<TensorPtr>& gin) override {
    Shape shape(inverse.size()), strides(inverse.size());
    for (size_t i = 0; i < inverse.size(); ++i) {
      shape[i] = gout->shape[inverse[i]];
      strides[i] = gout->strides[inverse[i]];
    }
    gin[0] = contiguous_data(make_view(gout, shape, strides, gout->offset));
  }
};

// Identity for gradients (contiguous, clone, float cast).
struct IdentityBackward final : Node {
  const char* label;
  explicit IdentityBackward(const char* l) : label(l) {}
  const char* name() const override { return label; }
  void backward(const TensorPtr& gout, std::vector<TensorPtr>& gin) override { gin[0] = gout; }
};

// y = x * scale (a float32 -> float32 cast with a scale): dx = dy * scale
struct ScaleBackward final : Node {
  float scale = 1.f;
  const char* name() const override { return "CastBackward"; }
  void backward(const TensorPtr& gout, std::vector<TensorPtr>& gin) override {
    auto g = contiguous_data(gout);
    auto dx = empty(g->shape);
    const float* s = g->f32();
    float* d = dx->f32();
    for (int64_t i = 0, n = g->numel(); i < n; ++i) d[i] = s[i] * scale;
    gin[0] = dx;
  }
};

}  // namespace

TensorPtr reshape(const TensorPtr& t, const Shape& shape) {
  const int64_t n = checked_numel(shape);
  DLF_THROW_RANGE_IF(n != t->numel(), "reshape: cannot reshape a tensor of shape ", shape_str(t->shape), " (",
                     t->numel(), " elements) to ", shape_str(shape), " (", n, " elements)");
  auto base = contiguous_data(t);
  auto out = make_view(base, shape, contiguous_strides(shape), base->offset);
  if (any_requires_grad({&t})) attach(out, make_node<ReshapeBackward>(), {&t});
  return out;
}

TensorPtr narrow0(const TensorPtr& t, int64_t start, int64_t length) {
  DLF_THROW_RANGE_IF(t->dim() == 0, "slice: cannot slice a scalar tensor");
  DLF_THROW_RANGE_IF(start < 0 || length < 0 || start + length > t->shape[0], "slice: rows [", start, ", ",
                     start + length, ") are outside a first axis of length ", t->shape[0]);
  Shape shape = t->shape;
  shape[0] = length;
  auto out = make_view(t, shape, t->strides, t->offset + start * t->strides[0]);
  if (any_requires_grad({&t})) {
    auto node = make_node<NarrowBackward>();
    node->start = start;
    attach(out, node, {&t});
  }
  return out;
}

TensorPtr permute(const TensorPtr& t, const std::vector<int64_t>& dims) {
  const int64_t nd = t->dim();
  DLF_THROW_RANGE_IF(static_cast<int64_t>(dims.size()) != nd, "permute: expected ", nd, " axes but received ",
                     dims.size());
  std::vector<int64_t> inverse(nd, -1);
  Shape shape(nd), strides(nd);
  for (int64_t i = 0; i < nd; ++i) {
    const int64_t d = dims[i];
    DLF_THROW_RANGE_IF(d < 0 || d >= nd || inverse[d] != -1, "permute: ", shape_str(dims),
                       " is not a permutation of the axes of a ", nd, "-d tensor");
    inverse[d] = i;
    shape[i] = t->shape[d];
    strides[i] = t->strides[d];
  }
  auto out = make_view(t, shape, strides, t->offset);
  if (any_requires_grad({&t})) {
    auto node = make_node<PermuteBackward>();
    node->inverse = inverse;
    attach(out, node, {&t});
  }
  return out;
}

TensorPtr contiguous(const TensorPtr& t) {
  if (t->is_contiguous()) return t;
  auto out = contiguous_data(t);
  if (any_requires_grad({&t})) attach(out, make_node<IdentityBackward>("ContiguousBackward"), {&t});
  return out;
}

TensorPtr clone(const TensorPtr& t) {
  auto out = empty(t->shape, t->dtype);
  copy_into(out, t);
  if (any_requires_grad({&t})) attach(out, make_node<IdentityBackward>("CloneBackward"), {&t});
  return out;
}

TensorPtr cast(const TensorPtr& t_in, DType dtype, double scale) {
  auto t = contiguous_data(t_in);
  auto out = empty(t->shape, dtype);
  const int64_t n = t->numel();
  auto convert = [&](auto* src) {
    switch (dtype) {
      case DType::F32: {
        float* d = out->data<float>();
        const float s = static_cast<float>(scale);
        for (int64_t i = 0; i < n; ++i) d[i] = static_cast<float>(src[i]) * s;
        break;
      }
      case DType::I32: {
        int32_t* d = out->data<int32_t>();
        for (int64_t i = 0; i < n; ++i) {
          const double v = std::trunc(static_cast<double>(src[i]) * scale);
          d[i] = std::isnan(v) ? 0 : static_cast<int32_t>(std::fmax(-2147483648.0, std::fmin(2147483647.0, v)));
        }
        break;
      }
      case DType::U8: {
        uint8_t* d = out->data<uint8_t>();
        for (int64_t i = 0; i < n; ++i) {
          const double v = std::round(static_cast<double>(src[i]) * scale);
          d[i] = std::isnan(v) ? 0 : static_cast<uint8_t>(std::fmax(0.0, std::fmin(255.0, v)));
        }
        break;
      }
    }
  };
  switch (t->dtype) {
    case DType::F32:
      convert(t->data<float>());
      break;
    case DType::I32:
      convert(t->data<int32_t>());
      break;
    case DType::U8:
      convert(t->data<uint8_t>());
      break;
  }
  if (dtype == DType::F32 && t_in->dtype == DType::F32 && any_requires_grad({&t_in})) {
    auto node = make_node<ScaleBackward>();
    node->scale = static_cast<float>(scale);
    attach(out, node, {&t_in});
  }
  return out;
}

}  // namespace dlf
