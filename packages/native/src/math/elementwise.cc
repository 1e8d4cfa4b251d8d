#include <algorithm>
#include <cmath>
#include <string_view>

#include "autograd/node.h"
#include "isa/kernels.h"
#include "isa/relu.h"
#include "math/ops.h"
#include "runtime/simd.h"
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
    // The chunk's first row's index (outer dims), then an odometer: short rows (a (N,C,H,W) tensor
    // times an (N,C,1,1) gate on 4x4 planes) cost more in divisions than in their arithmetic.
    Shape idx(static_cast<size_t>(std::max<int64_t>(nd - 1, 0)), 0);
    int64_t oa = 0, ob = 0;
    for (int64_t d = nd - 2, rem = r0; d >= 0; --d) {
      idx[d] = rem % os[d];
      rem /= os[d];
      oa += idx[d] * sa[d];
      ob += idx[d] * sb[d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      f(pa + oa, pb + ob, po + r * inner, ia, ib, inner);
      for (int64_t d = nd - 2; d >= 0; --d) {
        oa += sa[d];
        ob += sb[d];
        if (++idx[d] < os[d]) break;
        oa -= os[d] * sa[d];
        ob -= os[d] * sb[d];
        idx[d] = 0;
      }
    }
  });
}

// When `per_row` holds one value per row of `full`'s last `inner` values (an (N,C,1,1) gate on an
// (N,C,H,W) tensor: inner = H * W), returns inner; otherwise 0.
int64_t row_scalar_inner(const Shape& full, const Shape& per_row) {
  const int64_t nd = static_cast<int64_t>(full.size()), off = nd - static_cast<int64_t>(per_row.size());
  if (off < 0) return 0;
  const auto dim = [&](int64_t d) { return d < off ? 1 : per_row[d - off]; };
  int64_t k = nd;
  while (k > 0 && dim(k - 1) == 1) --k;
  if (k == nd) return 0;
  for (int64_t d = 0; d < k; ++d)
    if (dim(d) != full[d]) return 0;
  int64_t inner = 1;
  for (int64_t d = k; d < nd; ++d) inner *= full[d];
  return inner > 1 ? inner : 0;
}

template <typename Op>
TensorPtr apply_binary(const TensorPtr& a_in, const TensorPtr& b_in, const Shape& out_shape, Op op) {
  auto a = contiguous_data(a_in);
  auto b = contiguous_data(b_in);
  auto out = empty(out_shape);
  const int64_t b_rows = a->shape == out_shape ? row_scalar_inner(out_shape, b->shape) : 0;
  const int64_t a_rows = b->shape == out_shape ? row_scalar_inner(out_shape, a->shape) : 0;
  if (b_rows > 0 || a_rows > 0) {  // one operand a value per row: no index arithmetic per row
    const int64_t inner = std::max(a_rows, b_rows), rows = out->numel() / inner;
    const float* pa = a->f32();
    const float* pb = b->f32();
    float* po = out->f32();
    parallel_for(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t o = r * inner;
        if (b_rows > 0) {
          const float bv = pb[r];
          for (int64_t i = 0; i < inner; ++i) po[o + i] = op(pa[o + i], bv);
        } else {
          const float av = pa[r];
          for (int64_t i = 0; i < inner; ++i) po[o + i] = op(av, pb[o + i]);
        }
      }
    });
    return out;
  }
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

// The gradient of `self` in out = self * other: g * other, summed by the engine down to self's
// shape. When self holds one value per row of g (a channel gate) and other is g's shape, each row's
// sum of the products (float, as g * other rounds them) is taken in double here, without writing the
// products out.
TensorPtr row_dots_or_mul(const TensorPtr& g_in, const TensorPtr& other_in, const TensorPtr& self) {
  const int64_t inner = other_in->shape == g_in->shape ? row_scalar_inner(g_in->shape, self->shape) : 0;
  if (inner == 0) return mul_t(g_in, other_in);
  auto g = contiguous_data(g_in);
  auto other = contiguous_data(other_in);
  auto out = empty(self->shape);
  const float* pg = g->f32();
  const float* px = other->f32();
  float* po = out->f32();
  parallel_for(out->numel(), std::max<int64_t>(1, kGrain / inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      double s[4] = {0.0, 0.0, 0.0, 0.0};
      const float* gr = pg + r * inner;
      const float* xr = px + r * inner;
      int64_t i = 0;
      for (; i + 4 <= inner; i += 4)
        for (int j = 0; j < 4; ++j) s[j] += gr[i + j] * xr[i + j];
      for (int j = 0; i < inner; ++i, ++j) s[j] += gr[i] * xr[i];
      po[r] = static_cast<float>((s[0] + s[1]) + (s[2] + s[3]));
    }
  });
  return out;
}

// out = a (broadcast shape); gradients are summed down to input shapes by the engine.
struct BinaryBackward final : Node {
  BinaryOp op;
  TensorPtr a, b;  // saved for mul / div
  explicit BinaryBackward(BinaryOp o) : op(o) {}
  const char* name() const override {
    switch (op) {
#define DLF_UNARY(E, name, slice, attr, saves, fwd, bwd)
#define DLF_BINARY(E, name, fwd) \
  case BinaryOp::E:              \
    return #E "Backward";
#include "ops.def"
#undef DLF_UNARY
#undef DLF_BINARY
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
        if (needs_grad(0)) gin[0] = row_dots_or_mul(g, b, a);
        if (needs_grad(1)) gin[1] = row_dots_or_mul(g, a, b);
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
constexpr float kSqrtHalf = 0.70710678118654752f;    // 1/sqrt(2), for GELU
constexpr float kInvSqrt2Pi = 0.39894228040143268f;  // 1/sqrt(2*pi), for GELU's derivative

enum Saves : int { NONE = 0, X = 1, Y = 2 };

constexpr int kUnarySaves[] = {
#define DLF_UNARY(E, name, slice, attr, saves, fwd, bwd) saves,
#define DLF_BINARY(E, name, fwd)
#include "ops.def"
#undef DLF_UNARY
#undef DLF_BINARY
};

// Applies f elementwise over n floats, in parallel chunks.
template <typename F>
void map1(const float* px, float* py, int64_t n, F f) {
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) py[i] = f(px[i]);
  });
}

// The unary ops with vector kernels in the kernel table (isa/activation.h); false for the others.
bool vector_activation(UnaryOp op, ActivationKind& a) {
  switch (op) {
    case UnaryOp::LeakyRelu: a = ActivationKind::LeakyRelu; return true;
    case UnaryOp::Sigmoid: a = ActivationKind::Sigmoid; return true;
    case UnaryOp::Tanh: a = ActivationKind::Tanh; return true;
    case UnaryOp::Silu: a = ActivationKind::Silu; return true;
    case UnaryOp::Gelu: a = ActivationKind::Gelu; return true;
    case UnaryOp::Hardswish: a = ActivationKind::Hardswish; return true;
    case UnaryOp::Relu: a = ActivationKind::Relu; return true;
    case UnaryOp::Relu6: a = ActivationKind::Relu6; return true;
    default: return false;
  }
}

void unary_forward(UnaryOp op, const float* px, float* py, int64_t n, float p) {
  if (ActivationKind a; vector_activation(op, a)) {
    const Kernels& kt = kernels();
    parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) { kt.activation_forward(a, px + i0, py + i0, i1 - i0, p); });
    return;
  }
  switch (op) {
#define DLF_UNARY(E, name, slice, attr, saves, fwd, bwd)       \
  case UnaryOp::E:                                              \
    map1(px, py, n, [p](float x) -> float { return (fwd); }); \
    break;
#define DLF_BINARY(E, name, fwd)
#include "ops.def"
#undef DLF_UNARY
#undef DLF_BINARY
  }
}

// dx from the incoming gradient g and the saved input x and/or output y (null when not saved).
void unary_backward(UnaryOp op, const float* pg, const float* px, const float* py, float* pd, int64_t n, float p) {
  if (ActivationKind a; vector_activation(op, a)) {
    const Kernels& kt = kernels();
    parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
      kt.activation_backward(a, pg + i0, px ? px + i0 : nullptr, py ? py + i0 : nullptr, pd + i0, i1 - i0, p);
    });
    return;
  }
  switch (op) {
#define DLF_UNARY(E, name, slice, attr, saves, fwd, bwd)                    \
  case UnaryOp::E:                                                           \
    parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {                    \
      for (int64_t i = i0; i < i1; ++i) {                                    \
        const float g = pg[i], x = px ? px[i] : 0.f, y = py ? py[i] : 0.f; \
        (void)x;                                                             \
        (void)y;                                                             \
        pd[i] = (bwd);                                                       \
      }                                                                      \
    });                                                                      \
    break;
#define DLF_BINARY(E, name, fwd)
#include "ops.def"
#undef DLF_UNARY
#undef DLF_BINARY
  }
}

struct UnaryBackward final : Node {
  UnaryOp op;
  float param;
  TensorPtr x, y;
  UnaryBackward(UnaryOp o, float p) : op(o), param(p) {}
  const char* name() const override {
    switch (op) {
#define DLF_UNARY(E, name, slice, attr, saves, fwd, bwd) \
  case UnaryOp::E:                                        \
    return #E "Backward";
#define DLF_BINARY(E, name, fwd)
#include "ops.def"
#undef DLF_UNARY
#undef DLF_BINARY
    }
    return "UnaryBackward";
  }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    auto dx = empty(g->shape);
    unary_backward(op, g->f32(), x ? x->f32() : nullptr, y ? y->f32() : nullptr, dx->f32(), dx->numel(), param);
    gin[0] = dx;
  }
  void release_saved() override {
    x.reset();
    y.reset();
  }
};

struct AffineBackward final : Node {
  float scale;
  explicit AffineBackward(float s) : scale(s) {}
  const char* name() const override { return "AffineBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    gin[0] = affine_scalar(g, scale, 0.f);
  }
};

}  // namespace

TensorPtr relu_backward_mask(const TensorPtr& g, const TensorPtr& y) {
  DLF_THROW_RANGE_IF(g->numel() != y->numel(), "relu backward: gradient of ", shape_str(g->shape),
                     " for an output of ", shape_str(y->shape));
  auto d = empty(g->shape);
  unary_backward(UnaryOp::Relu, g->f32(), nullptr, y->f32(), d->f32(), d->numel(), 0.f);
  return d;
}

TensorPtr binary(BinaryOp op, const TensorPtr& a, const TensorPtr& b) {
  expect_f32(a, "a");
  expect_f32(b, "b");
  const Shape out_shape = broadcast_shapes(a->shape, b->shape, "binary op");
  TensorPtr out;
  switch (op) {
#define DLF_UNARY(E, name, slice, attr, saves, fwd, bwd)
#define DLF_BINARY(E, name, fwd)                                                                 \
  case BinaryOp::E:                                                                              \
    out = apply_binary(a, b, out_shape, [](float a, float b) -> float { return (fwd); });   \
    break;
#include "ops.def"
#undef DLF_UNARY
#undef DLF_BINARY
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
  unary_forward(op, x->f32(), y->f32(), y->numel(), param);
  if (any_requires_grad({&x_in})) {
    auto node = make_node<UnaryBackward>(op, param);
    const int saves = kUnarySaves[static_cast<int>(op)];
    if (saves & X) node->x = save(x);
    if (saves & Y) node->y = save(y);
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

const UnaryOpInfo* unary_op_info(int64_t code) {
  static const UnaryOpInfo table[] = {
#define DLF_UNARY(E, name, slice, attr, saves, fwd, bwd) \
  {#name, OpSlice::slice, std::string_view(#attr) == "none" ? nullptr : #attr},
#define DLF_BINARY(E, name, fwd)
#include "ops.def"
#undef DLF_UNARY
#undef DLF_BINARY
  };
  constexpr int64_t n = sizeof(table) / sizeof(table[0]);
  return code >= 0 && code < n ? &table[code] : nullptr;
}

const BinaryOpInfo* binary_op_info(int64_t code) {
  static const BinaryOpInfo table[] = {
#define DLF_UNARY(E, name, slice, attr, saves, fwd, bwd)
#define DLF_BINARY(E, name, fwd) {#name},
#include "ops.def"
#undef DLF_UNARY
#undef DLF_BINARY
  };
  constexpr int64_t n = sizeof(table) / sizeof(table[0]);
  return code >= 0 && code < n ? &table[code] : nullptr;
}

}  // namespace dlf
