#include <cmath>

#include "autograd/node.h"
#include "nn/ops.h"
#include "runtime/threadpool.h"
#include "tensor/reduce.h"

namespace dlf {
namespace {

constexpr int64_t kGrain = 16384;

// Runs f(out_index_range, a_ptr, b_ptr, out_ptr, a_inner_stride, b_inner_stride, inner) over the
// broadcast of contiguous a and b: rows of the innermost output dim.
template <typename F>
void broadcast_rows(const TensorPtr& a, const TensorPtr& b, const TensorPtr& out, F f) {
  const Shape& os = out->shape;
  const int64_t nd = static_cast<int64_t>(os.size());
  auto bstrides = [&](const TensorPtr& t) {
    Shape s(nd, 0);
    const int64_t off = nd - t->dim();
    Shape cs = contiguous_strides(t->shape);
    for (int64_t i = 0; i < t->dim(); ++i) s[off + i] = t->shape[i] == 1 ? 0 : cs[i];
    return s;
  };
  const Shape sa = bstrides(a), sb = bstrides(b);
  const int64_t inner = nd == 0 ? 1 : os[nd - 1];
  const int64_t rows = inner == 0 ? 0 : out->numel() / inner;
  const float* pa = a->f32();
  const float* pb = b->f32();
  float* po = out->f32();
  const int64_t ia = nd == 0 ? 0 : sa[nd - 1], ib = nd == 0 ? 0 : sb[nd - 1];
  parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t rem = r, oa = 0, ob = 0;
      for (int64_t d = nd - 2; d >= 0; --d) {
        const int64_t i = rem % os[d];
        rem /= os[d];
        oa += i * sa[d];
        ob += i * sb[d];
      }
      f(pa + oa, pb + ob, po + r * inner, ia, ib, inner);
    }
  });
}

template <typename Op>
TensorPtr apply_binary(const TensorPtr& a_in, const TensorPtr& b_in, const Shape& out_shape, Op op) {
  auto a = contiguous_data(a_in);
  auto b = contiguous_data(b_in);
  auto out = empty(out_shape);
  if (a->shape == b->shape) {
    const float* pa = a->f32();
    const float* pb = b->f32();
    float* po = out->f32();
    parallel_for(out->numel(), kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) po[i] = op(pa[i], pb[i]);
    });
    return out;
  }
  broadcast_rows(a, b, out, [&](const float* pa, const float* pb, float* po, int64_t ia, int64_t ib, int64_t n) {
    if (ia == 1 && ib == 1) {
      for (int64_t i = 0; i < n; ++i) po[i] = op(pa[i], pb[i]);
    } else if (ia == 1) {
      const float bv = pb[0];
      for (int64_t i = 0; i < n; ++i) po[i] = op(pa[i], bv);
    } else if (ib == 1) {
      const float av = pa[0];
      for (int64_t i = 0; i < n; ++i) po[i] = op(av, pb[i]);
    } else {
      const float v = op(pa[0], pb[0]);
      for (int64_t i = 0; i < n; ++i) po[i] = v;
    }
  });
  return out;
}

TensorPtr mul_t(const TensorPtr& a, const TensorPtr& b) {
  return apply_binary(a, b, broadcast_shapes(a->shape, b->shape, "mul"), [](float x, float y) { return x * y; });
}
TensorPtr div_t(const TensorPtr& a, const TensorPtr& b) {
  return apply_binary(a, b, broadcast_shapes(a->shape, b->shape, "div"), [](float x, float y) { return x / y; });
}

// out = a (broadcast shape); gradients are summed down to input shapes by the engine.
struct BinaryBackward final : Node {
  BinaryOp op;
  TensorPtr a, b;  // saved for mul / div
  explicit BinaryBackward(BinaryOp o) : op(o) {}
  const char* name() const override {
    switch (op) {
      case BinaryOp::Add: return "AddBackward";
      case BinaryOp::Sub: return "SubBackward";
      case BinaryOp::Mul: return "MulBackward";
      case BinaryOp::Div: return "DivBackward";
    }
    return "BinaryBackward";
  }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    switch (op) {
      case BinaryOp::Add:
        if (needs_grad(0)) gin[0] = g;
        if (needs_grad(1)) gin[1] = g;
        break;
      case BinaryOp::Sub:
        if (needs_grad(0)) gin[0] = g;
        if (needs_grad(1)) gin[1] = unary(UnaryOp::Neg, g, 0.f);
        break;
      case BinaryOp::Mul:
        if (needs_grad(0)) gin[0] = mul_t(g, b);
        if (needs_grad(1)) gin[1] = mul_t(g, a);
        break;
      case BinaryOp::Div:
        if (needs_grad(0)) gin[0] = div_t(g, b);
        if (needs_grad(1)) {
          // d(a/b)/db = -a / b^2
          auto t = div_t(mul_t(g, a), mul_t(b, b));
          gin[1] = unary(UnaryOp::Neg, t, 0.f);
        }
        break;
    }
  }
  void release_saved() override {
    a.reset();
    b.reset();
  }
};

inline float sigmoidf(float x) { return x >= 0 ? 1.f / (1.f + std::exp(-x)) : std::exp(x) / (1.f + std::exp(x)); }

float unary_fwd(UnaryOp op, float x, float p) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Relu: return x > 0.f ? x : 0.f;
    case UnaryOp::Sigmoid: return sigmoidf(x);
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::LeakyRelu: return x > 0.f ? x : x * p;
    case UnaryOp::Pow: return std::pow(x, p);
    case UnaryOp::Abs: return std::fabs(x);
  }
  return x;
}

// dx from g, the input x and the output y.
float unary_bwd(UnaryOp op, float g, float x, float y, float p) {
  switch (op) {
    case UnaryOp::Neg: return -g;
    case UnaryOp::Exp: return g * y;
    case UnaryOp::Log: return g / x;
    case UnaryOp::Sqrt: return g * 0.5f / y;
    case UnaryOp::Relu: return y > 0.f ? g : 0.f;
    case UnaryOp::Sigmoid: return g * y * (1.f - y);
    case UnaryOp::Tanh: return g * (1.f - y * y);
    case UnaryOp::LeakyRelu: return x > 0.f ? g : g * p;
    case UnaryOp::Pow: return p == 0.f ? 0.f : g * p * std::pow(x, p - 1.f);
    case UnaryOp::Abs: return x > 0.f ? g : (x < 0.f ? -g : 0.f);
  }
  return g;
}

struct UnaryBackward final : Node {
  UnaryOp op;
  float param;
  TensorPtr x, y;
  UnaryBackward(UnaryOp o, float p) : op(o), param(p) {}
  const char* name() const override {
    static const char* names[] = {"NegBackward", "ExpBackward", "LogBackward", "SqrtBackward", "ReluBackward",
                                  "SigmoidBackward", "TanhBackward", "LeakyReluBackward", "PowBackward",
                                  "AbsBackward"};
    return names[static_cast<int>(op)];
  }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    auto dx = empty(g->shape);
    const float* pg = g->f32();
    const float* px = x ? x->f32() : nullptr;
    const float* py = y ? y->f32() : nullptr;
    float* pd = dx->f32();
    const UnaryOp o = op;
    const float p = param;
    parallel_for(dx->numel(), kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pd[i] = unary_bwd(o, pg[i], px ? px[i] : 0.f, py ? py[i] : 0.f, p);
    });
    gin[0] = dx;
  }
  void release_saved() override {
    x.reset();
    y.reset();
  }
};

bool needs_input(UnaryOp op) {
  return op == UnaryOp::Log || op == UnaryOp::LeakyRelu || op == UnaryOp::Pow || op == UnaryOp::Abs;
}
bool needs_output(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Sqrt || op == UnaryOp::Relu || op == UnaryOp::Sigmoid ||
         op == UnaryOp::Tanh;
}

struct AffineBackward final : Node {
  float scale;
  explicit AffineBackward(float s) : scale(s) {}
  const char* name() const override { return "AffineBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    gin[0] = affine_scalar(g, scale, 0.f);
  }
};

}  // namespace

TensorPtr binary(BinaryOp op, const TensorPtr& a, const TensorPtr& b) {
  expect_f32(a, "a");
  expect_f32(b, "b");
  const Shape out_shape = broadcast_shapes(a->shape, b->shape, "binary op");
  TensorPtr out;
  switch (op) {
    case BinaryOp::Add:
      out = apply_binary(a, b, out_shape, [](float x, float y) { return x + y; });
      break;
    case BinaryOp::Sub:
      out = apply_binary(a, b, out_shape, [](float x, float y) { return x - y; });
      break;
    case BinaryOp::Mul:
      out = apply_binary(a, b, out_shape, [](float x, float y) { return x * y; });
      break;
    case BinaryOp::Div:
      out = apply_binary(a, b, out_shape, [](float x, float y) { return x / y; });
      break;
  }
  if (any_requires_grad({&a, &b})) {
    auto node = make_node<BinaryBackward>(op);
    if (op == BinaryOp::Mul || op == BinaryOp::Div) {
      node->a = save(a);
      node->b = save(b);
    }
    attach(out, node, {&a, &b});
  }
  return out;
}

TensorPtr unary(UnaryOp op, const TensorPtr& x_in, float param) {
  expect_f32(x_in, "x");
  auto x = contiguous_data(x_in);
  auto y = empty(x->shape);
  const float* px = x->f32();
  float* py = y->f32();
  parallel_for(y->numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) py[i] = unary_fwd(op, px[i], param);
  });
  if (any_requires_grad({&x_in})) {
    auto node = make_node<UnaryBackward>(op, param);
    if (needs_input(op)) node->x = save(x);
    if (needs_output(op)) node->y = save(y);
    attach(y, node, {&x_in});
  }
  return y;
}

TensorPtr affine_scalar(const TensorPtr& x_in, float scale, float shift) {
  expect_f32(x_in, "x");
  auto x = contiguous_data(x_in);
  auto y = empty(x->shape);
  const float* px = x->f32();
  float* py = y->f32();
  parallel_for(y->numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) py[i] = px[i] * scale + shift;
  });
  if (any_requires_grad({&x_in})) attach(y, make_node<AffineBackward>(scale), {&x_in});
  return y;
}

}  // namespace dlf
