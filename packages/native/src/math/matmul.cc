#include <cstring>

#include "autograd/node.h"
#include "math/ops.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"
#include "tensor/reduce.h"

namespace dlf {
namespace {

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  kernels().sgemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc, GemmEpilogue{});
}

Shape batch_of(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

// Batched C[b] = op(A[b]) op(B[b]) over the broadcast batch shape `batch`.
// a_shape/b_shape are the operands' full shapes (..., rows, cols) as stored.
void batched_gemm(const Shape& batch, const TensorPtr& a, bool ta, const TensorPtr& b, bool tb, const TensorPtr& c,
                  int64_t M, int64_t N, int64_t K) {
  const int64_t nb = checked_numel(batch);
  const int64_t nd = static_cast<int64_t>(batch.size());
  auto bstr = [&](const TensorPtr& t) {
    Shape s(nd, 0);
    const Shape tb_shape = batch_of(t->shape);
    const int64_t off = nd - static_cast<int64_t>(tb_shape.size());
    const int64_t mat = t->shape[t->dim() - 2] * t->shape[t->dim() - 1];
    Shape cs = contiguous_strides(tb_shape);
    for (int64_t i = 0; i < static_cast<int64_t>(tb_shape.size()); ++i) s[off + i] = tb_shape[i] == 1 ? 0 : cs[i] * mat;
    return s;
  };
  const Shape sa = bstr(a), sb = bstr(b);
  const int64_t lda = a->shape[a->dim() - 1], ldb = b->shape[b->dim() - 1];
  auto one = [&](int64_t i) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int64_t d = nd - 1; d >= 0; --d) {
      const int64_t k = rem % batch[d];
      rem /= batch[d];
      oa += k * sa[d];
      ob += k * sb[d];
    }
    gemm(ta, tb, M, N, K, a->f32() + oa, lda, b->f32() + ob, ldb, 0.f, c->f32() + i * M * N, N);
  };
  if (nb >= 2 && M * N * K < (1 << 18)) {
    parallel_for(nb, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < nb; ++i) one(i);
  }
}

struct MatmulBackward final : Node {
  TensorPtr a, b;
  const char* name() const override { return "MatmulBackward"; }
  void backward(const TensorPtr& g, std::vector<TensorPtr>& gin) override {
    const int64_t M = a->shape[a->dim() - 2], K = a->shape[a->dim() - 1], N = b->shape[b->dim() - 1];
    const Shape batch = batch_of(g->shape);
    if (needs_grad(0)) {
      // dA = dC @ B^T, in the broadcast batch shape; the engine sums it down to A's shape.
      Shape s = batch;
      s.push_back(M);
      s.push_back(K);
      auto da = empty(s);
      batched_gemm(batch, g, false, b, true, da, M, K, N);
      gin[0] = da;
    }
    if (needs_grad(1)) {
      Shape s = batch;
      s.push_back(K);
      s.push_back(N);
      auto db = empty(s);
      if (b->dim() == 2 && a->is_contiguous()) {
        // B shared by every batch: one GEMM over the stacked rows.
        auto db2 = empty({K, N});
        gemm(true, false, K, N, checked_numel(batch) * M, a->f32(), K, g->f32(), N, 0.f, db2->f32(), N);
        gin[1] = db2;
        return;
      }
      batched_gemm(batch, a, true, g, false, db, K, N, M);
      gin[1] = db;
    }
  }
  void release_saved() override {
    a.reset();
    b.reset();
  }
};

}  // namespace

TensorPtr matmul(const TensorPtr& a_in, const TensorPtr& b_in) {
  expect_f32(a_in, "a");
  expect_f32(b_in, "b");
  DLF_THROW_RANGE_IF(a_in->dim() < 2 || b_in->dim() < 2, "matmul: expected tensors of rank >= 2 but received shapes ",
                     shape_str(a_in->shape), " and ", shape_str(b_in->shape));
  const int64_t M = a_in->shape[a_in->dim() - 2], K = a_in->shape[a_in->dim() - 1];
  const int64_t K2 = b_in->shape[b_in->dim() - 2], N = b_in->shape[b_in->dim() - 1];
  DLF_THROW_RANGE_IF(K != K2, "matmul: inner dimensions differ in shapes ", shape_str(a_in->shape), " and ",
                     shape_str(b_in->shape));
  auto a = contiguous_data(a_in);
  auto b = contiguous_data(b_in);
  Shape batch = broadcast_shapes(batch_of(a->shape), batch_of(b->shape), "matmul");
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  auto c = empty(out_shape);
  if (b->dim() == 2) {
    const int64_t rows = checked_numel(batch_of(a->shape)) * M;
    if (checked_numel(batch) * M == rows) {
      gemm(false, false, rows, N, K, a->f32(), K, b->f32(), N, 0.f, c->f32(), N);
    } else {
      batched_gemm(batch, a, false, b, false, c, M, N, K);
    }
  } else {
    batched_gemm(batch, a, false, b, false, c, M, N, K);
  }
  if (any_requires_grad({&a_in, &b_in})) {
    auto node = make_node<MatmulBackward>();
    node->a = save(a);
    node->b = save(b);
    attach(c, node, {&a_in, &b_in});
  }
  return c;
}

}  // namespace dlf
