#include <cstring>

#include "autograd/node.h"
#include "isa/relu.h"
#include "nn/ops.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  kernels().sgemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc, GemmEpilogue{});
}

struct LinearBackward final : Node {
  TensorPtr x, w, y;  // y saved only with a fused ReLU
  const char* name() const override { return y ? "LinearReluBackward" : "LinearBackward"; }
  void backward(const TensorPtr& g_in, std::vector<TensorPtr>& gin) override {
    const int64_t in = w->shape[1], out = w->shape[0];
    const int64_t rows = out == 0 ? 0 : g_in->numel() / out;
    TensorPtr g = g_in;
    if (y) {
      g = relu_backward_mask(g_in, y);
    }
    if (needs_grad(0)) {
      auto dx = empty(input_shapes[0]);
      gemm(false, false, rows, in, out, g->f32(), out, w->f32(), in, 0.f, dx->f32(), in);
      gin[0] = dx;
    }
    if (needs_grad(1)) {
      auto dw = empty({out, in});
      gemm(true, false, out, in, rows, g->f32(), out, x->f32(), in, 0.f, dw->f32(), in);
      gin[1] = dw;
    }
    if (needs_grad(2)) {
      auto db = zeros({out});
      float* pb = db->f32();
      const float* pg = g->f32();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < out; ++j) pb[j] += pg[r * out + j];
      gin[2] = db;
    }
  }
  void release_saved() override {
    x.reset();
    w.reset();
    y.reset();
  }
};

}  // namespace

// x: (..., in), w: (out, in), b: (out) -> y: (..., out)
TensorPtr linear(const TensorPtr& x_in, const TensorPtr& w_in, const TensorPtr& b_in, bool relu) {
  expect_f32(x_in, "input");
  expect_f32(w_in, "weight");
  DLF_THROW_RANGE_IF(w_in->dim() != 2, "linear: weight must be 2-D (out, in) but has shape ", shape_str(w_in->shape));
  DLF_THROW_RANGE_IF(x_in->dim() < 1 || x_in->shape.back() != w_in->shape[1], "linear: input shape ",
                     shape_str(x_in->shape), " does not match weight shape ", shape_str(w_in->shape));
  const int64_t out = w_in->shape[0], in = w_in->shape[1];
  if (b_in) {
    expect_f32(b_in, "bias");
    DLF_THROW_RANGE_IF(b_in->dim() != 1 || b_in->shape[0] != out, "linear: bias shape ", shape_str(b_in->shape),
                       " does not match weight shape ", shape_str(w_in->shape));
  }
  auto x = contiguous_data(x_in);
  auto w = contiguous_data(w_in);
  auto b = b_in ? contiguous_data(b_in) : nullptr;
  Shape out_shape = x->shape;
  out_shape.back() = out;
  auto y = empty(out_shape);
  const int64_t rows = in == 0 && x->numel() == 0 ? checked_numel(Shape(x->shape.begin(), x->shape.end() - 1))
                                                   : (in == 0 ? 0 : x->numel() / in);
  float* py = y->f32();
  if (b) {
    for (int64_t r = 0; r < rows; ++r) std::memcpy(py + r * out, b->f32(), sizeof(float) * static_cast<size_t>(out));
  }
  gemm(false, true, rows, out, in, x->f32(), in, w->f32(), in, b ? 1.f : 0.f, py, out);
  if (relu) {
    for (int64_t i = 0, n = y->numel(); i < n; ++i) py[i] = relu_value(py[i]);
  }
  if (any_requires_grad({&x_in, &w_in, &b_in})) {
    auto node = make_node<LinearBackward>();
    node->x = save(x);
    node->w = save(w);
    if (relu) node->y = save(y);
    attach(y, node, {&x_in, &w_in, &b_in});
  }
  return y;
}

}  // namespace dlf
