#include "tensor/reduce.h"

#include <algorithm>
#include <vector>

#include "runtime/threadpool.h"

namespace dlf {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    DLF_THROW_RANGE_IF(da != db && da != 1 && db != 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
                       " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {
// x: (n) -> their sum in double, four running sums (i mod 4) added pairwise at the end: one chain
// of dependent adds cost 4 cycles a value.
double row_sum(const float* x, int64_t n) {
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) s[j] += x[i + j];
  for (int j = 0; i < n; ++i, ++j) s[j] += x[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}
}  // namespace

TensorPtr sum_to_shape(const TensorPtr& t_in, const Shape& shape) {
  if (t_in->shape == shape) return t_in;
  expect_f32(t_in, "sum_to_shape input");
  auto t = contiguous_data(t_in);
  const Shape& src = t->shape;
  const int64_t nd = static_cast<int64_t>(src.size());
  const int64_t lead = nd - static_cast<int64_t>(shape.size());
  DLF_THROW_IF(lead < 0, "sum_to_shape: cannot reduce ", shape_str(src), " to ", shape_str(shape));
  // Output strides over the source's dims: 0 on reduced dims.
  Shape full_out(nd, 1);
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    full_out[lead + i] = shape[i];
    DLF_THROW_IF(shape[i] != 1 && shape[i] != src[lead + i], "sum_to_shape: cannot reduce ", shape_str(src),
                 " to ", shape_str(shape));
  }
  Shape ostrides = contiguous_strides(full_out);
  for (int64_t i = 0; i < nd; ++i) {
    if (full_out[i] == 1 && src[i] != 1) ostrides[i] = 0;
  }
  auto out = zeros(shape);
  const int64_t n_out = out->numel();
  std::vector<double> acc(static_cast<size_t>(n_out), 0.0);
  const float* x = t->f32();
  const int64_t total = t->numel();
  if (total == 0) return out;
  // Walk the source in order; the innermost dim is either kept (stride 1) or reduced (stride 0).
  const int64_t inner = src[nd - 1];
  const int64_t inner_ostride = ostrides[nd - 1];
  std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
  for (int64_t row = 0; row < total / inner; ++row) {
    int64_t o = 0;
    for (int64_t d = 0; d < nd - 1; ++d) o += idx[d] * ostrides[d];
    const float* xr = x + row * inner;
    if (inner_ostride == 0) {
      acc[o] += row_sum(xr, inner);
    } else {
      double* a = acc.data() + o;
      for (int64_t i = 0; i < inner; ++i) a[i] += xr[i];
    }
    for (int64_t d = nd - 2; d >= 0; --d) {
      if (++idx[d] < src[d]) break;
      idx[d] = 0;
    }
  }
  float* y = out->f32();
  for (int64_t i = 0; i < n_out; ++i) y[i] = static_cast<float>(acc[i]);
  return out;
}

void add_inplace(const TensorPtr& dst, const TensorPtr& src_in) {
  DLF_THROW_IF(dst->shape != src_in->shape, "add_inplace: shape ", shape_str(src_in->shape), " does not match ",
               shape_str(dst->shape));
  DLF_THROW_IF(!dst->is_contiguous(), "add_inplace: destination must be contiguous");
  auto src = contiguous_data(src_in);
  float* d = dst->f32();
  const float* s = src->f32();
  parallel_for(dst->numel(), 32768, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) d[i] += s[i];
  });
}

}  // namespace dlf

namespace dlf {

TensorPtr broadcast_to(const TensorPtr& t_in, const Shape& shape) {
  if (t_in->shape == shape) return t_in;
  auto t = contiguous_data(t_in);
  const int64_t nd = static_cast<int64_t>(shape.size());
  DLF_THROW_IF(t->dim() > nd, "broadcast_to: cannot broadcast ", shape_str(t->shape), " to ", shape_str(shape));
  Shape s(nd, 0);
  Shape cs = contiguous_strides(t->shape);
  const int64_t off = nd - t->dim();
  for (int64_t i = 0; i < t->dim(); ++i) {
    DLF_THROW_IF(t->shape[i] != 1 && t->shape[i] != shape[off + i], "broadcast_to: cannot broadcast ",
                 shape_str(t->shape), " to ", shape_str(shape));
    s[off + i] = t->shape[i] == 1 ? 0 : cs[i];
  }
  auto out = empty(shape, t->dtype);
  const int64_t inner = nd == 0 ? 1 : shape[nd - 1];
  const int64_t rows = inner == 0 ? 0 : out->numel() / inner;
  const int64_t is = nd == 0 ? 0 : s[nd - 1];
  const float* src = t->f32();
  float* dst = out->f32();
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t rem = r, o = 0;
      for (int64_t d = nd - 2; d >= 0; --d) {
        o += (rem % shape[d]) * s[d];
        rem /= shape[d];
      }
      float* row = dst + r * inner;
      if (is == 0) std::fill(row, row + inner, src[o]);
      else std::copy(src + o, src + o + inner, row);
    }
  });
  return out;
}

}  // namespace dlf
