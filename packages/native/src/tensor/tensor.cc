#include "tensor/tensor.h"

#include <cstring>
#include <limits>

#include "runtime/alloc.h"
#include "runtime/env_state.h"
#include "runtime/threadpool.h"

namespace dlf {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::U8:
      return 1;
  }
  return 1;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "float32";
    case DType::I32:
      return "int32";
    case DType::U8:
      return "uint8";
  }
  return "unknown";
}

DType dtype_from_int(int32_t code) {
  DLF_THROW_TYPE_IF(code < 0 || code > 2, "unknown dtype code ", code);
  return static_cast<DType>(code);
}

Storage::Storage(size_t n) : nbytes(n), account(current_env().memory) { data = aligned_alloc_cached(n, *account); }
Storage::~Storage() { aligned_free_cached(data, nbytes, *account); }

int64_t checked_numel(const Shape& shape) {
  constexpr int64_t kMax = int64_t{1} << 53;
  int64_t n = 1;
  bool empty = false;
  for (int64_t d : shape) {
    // Every dimension is checked, also those after a 0: [0, -1] is not a valid shape.
    DLF_THROW_RANGE_IF(d < 0, "dimension ", d, " of shape ", shape_str(shape), " is negative");
    if (d == 0) empty = true;
    if (empty) continue;
    DLF_THROW_RANGE_IF(n > kMax / d, "shape ", shape_str(shape), " has too many elements");
    n *= d;
  }
  return empty ? 0 : n;
}

int64_t TensorImpl::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool TensorImpl::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

TensorPtr empty(const Shape& shape, DType dtype) {
  const int64_t n = checked_numel(shape);
  const size_t max_elems = std::numeric_limits<size_t>::max() / 8;
  DLF_THROW_RANGE_IF(static_cast<uint64_t>(n) > max_elems, "shape ", shape_str(shape), " is too large");
  auto t = std::make_shared<TensorImpl>();
  t->storage = std::make_shared<Storage>(static_cast<size_t>(n) * dtype_size(dtype));
  t->shape = shape;
  t->strides = contiguous_strides(shape);
  t->dtype = dtype;
  return t;
}

TensorPtr zeros(const Shape& shape, DType dtype) {
  auto t = empty(shape, dtype);
  std::memset(t->storage->data, 0, static_cast<size_t>(t->numel()) * dtype_size(dtype));
  return t;
}

TensorPtr full(const Shape& shape, double value, DType dtype) {
  auto t = empty(shape, dtype);
  const int64_t n = t->numel();
  switch (dtype) {
    case DType::F32: {
      float* p = t->data<float>();
      const float v = static_cast<float>(value);
      for (int64_t i = 0; i < n; ++i) p[i] = v;
      break;
    }
    case DType::I32: {
      int32_t* p = t->data<int32_t>();
      const int32_t v = static_cast<int32_t>(value);
      for (int64_t i = 0; i < n; ++i) p[i] = v;
      break;
    }
    case DType::U8:
      std::memset(t->storage->data, static_cast<uint8_t>(value), static_cast<size_t>(n));
      break;
  }
  return t;
}

TensorPtr alias(const TensorPtr& t) {
  auto a = std::make_shared<TensorImpl>();
  a->storage = t->storage;
  a->offset = t->offset;
  a->shape = t->shape;
  a->strides = t->strides;
  a->dtype = t->dtype;
  return a;
}

namespace {

// Copies a strided source into contiguous memory, element size `es`, innermost dim as a run.
void strided_gather(char* dst, const char* src_base, const Shape& shape, const Shape& strides, size_t es) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (nd == 0) {
    std::memcpy(dst, src_base, es);
    return;
  }
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  if (total == 0) return;
  const int64_t inner = shape[nd - 1];
  const int64_t inner_stride = strides[nd - 1];
  const int64_t outer = total / inner;
  auto copy_rows = [&](int64_t r0, int64_t r1) {
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 1, 0);
    // Decompose r0 into a multi-index over the outer dims.
    int64_t rem = r0;
    for (int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      int64_t off = 0;
      for (int64_t d = 0; d < nd - 1; ++d) off += idx[d] * strides[d];
      const char* s = src_base + off * static_cast<int64_t>(es);
      char* o = dst + r * inner * static_cast<int64_t>(es);
      if (inner_stride == 1) {
        std::memcpy(o, s, static_cast<size_t>(inner) * es);
      } else if (es == 4) {
        const uint32_t* s4 = reinterpret_cast<const uint32_t*>(s);
        uint32_t* o4 = reinterpret_cast<uint32_t*>(o);
        for (int64_t i = 0; i < inner; ++i) o4[i] = s4[i * inner_stride];
      } else {
        for (int64_t i = 0; i < inner; ++i) std::memcpy(o + i * es, s + i * inner_stride * es, es);
      }
      for (int64_t d = nd - 2; d >= 0; --d) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
  };
  parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), copy_rows);
}

}  // namespace

void copy_into(const TensorPtr& dst, const TensorPtr& src) {
  DLF_THROW_RANGE_IF(dst->shape != src->shape, "copy: shape ", shape_str(src->shape), " does not match ",
                     shape_str(dst->shape));
  DLF_THROW_TYPE_IF(dst->dtype != src->dtype, "copy: dtype ", dtype_name(src->dtype), " does not match ",
                    dtype_name(dst->dtype));
  DLF_THROW_IF(!dst->is_contiguous(), "copy: destination must be contiguous");
  const size_t es = dtype_size(src->dtype);
  if (src->is_contiguous()) {
    std::memmove(dst->data<char>(), src->data<char>(), static_cast<size_t>(src->numel()) * es);
    return;
  }
  strided_gather(dst->data<char>(), src->data<char>(), src->shape, src->strides, es);
}

TensorPtr contiguous_data(const TensorPtr& t) {
  if (t->is_contiguous()) return t;
  auto out = empty(t->shape, t->dtype);
  copy_into(out, t);
  return out;
}

TensorPtr make_view(const TensorPtr& base, const Shape& shape, const Shape& strides, int64_t offset) {
  DLF_THROW_RANGE_IF(shape.size() != strides.size(), "view: shape ", shape_str(shape), " and strides ",
                     shape_str(strides), " differ in rank");
  DLF_THROW_RANGE_IF(offset < 0, "view: negative offset ", offset);
  const int64_t n = checked_numel(shape);
  const int64_t capacity = static_cast<int64_t>(base->storage->nbytes / dtype_size(base->dtype));
  if (n > 0) {
    // The lowest and highest element the view can reach must lie inside the storage.
    int64_t lo = offset, hi = offset;
    for (size_t i = 0; i < shape.size(); ++i) {
      DLF_THROW_RANGE_IF(strides[i] < -(int64_t{1} << 40) || strides[i] > (int64_t{1} << 40),
                         "view: stride ", strides[i], " out of range");
      const int64_t span = (shape[i] - 1) * strides[i];
      if (span < 0) lo += span;
      else hi += span;
    }
    DLF_THROW_RANGE_IF(lo < 0 || hi >= capacity, "view of shape ", shape_str(shape), " with strides ",
                       shape_str(strides), " and offset ", offset, " reaches outside a storage of ", capacity,
                       " elements");
  } else {
    DLF_THROW_RANGE_IF(offset > capacity, "view: offset ", offset, " past the end of the storage");
  }
  auto v = std::make_shared<TensorImpl>();
  v->storage = base->storage;
  v->offset = offset;
  v->shape = shape;
  v->strides = strides;
  v->dtype = base->dtype;
  return v;
}

void expect_f32(const TensorPtr& t, const char* what) {
  DLF_THROW_TYPE_IF(t->dtype != DType::F32, "Expected float32 for ", what, " but received ", dtype_name(t->dtype));
}

}  // namespace dlf
