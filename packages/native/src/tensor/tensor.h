// The native tensor: a view (shape, strides, offset) over reference-counted storage, plus the
// autograd fields that the autograd/ slice reads and writes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/errors.h"

namespace dlf {

enum class DType : int32_t { F32 = 0, I32 = 1, U8 = 2 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
DType dtype_from_int(int32_t code);  // throws TypeError for unknown codes

struct MemoryAccount;

/**
 * A block of 64-byte aligned memory. Freed (back to the cache) when the last reference goes, on
 * whichever thread that is; counted to the account of the environment that created it.
 */
struct Storage {
  explicit Storage(size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  size_t nbytes = 0;
  std::shared_ptr<MemoryAccount> account;  // kept alive by the storage: it may outlive its environment
};

using Shape = std::vector<int64_t>;
struct Node;
struct TensorImpl;
using TensorPtr = std::shared_ptr<TensorImpl>;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::F32;

  // Autograd. A tensor with grad_fn is the output of a recorded op; a leaf has requires_grad and
  // no grad_fn. grad_accumulator is the leaf's AccumulateGrad node, shared by every use of it.
  bool requires_grad = false;
  TensorPtr grad;
  std::shared_ptr<Node> grad_fn;
  std::weak_ptr<Node> grad_accumulator;

  int64_t dim() const { return static_cast<int64_t>(shape.size()); }
  int64_t numel() const;
  bool is_contiguous() const;
  template <typename T>
  T* data() const {
    return reinterpret_cast<T*>(static_cast<char*>(storage->data) + offset * dtype_size(dtype));
  }
  float* f32() const { return data<float>(); }
};

/** Product of dims; throws RangeError for negative dims or overflow past 2^53. */
int64_t checked_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);

/** New contiguous tensor, contents uninitialised. */
TensorPtr empty(const Shape& shape, DType dtype = DType::F32);
TensorPtr zeros(const Shape& shape, DType dtype = DType::F32);
TensorPtr full(const Shape& shape, double value, DType dtype = DType::F32);
/** A new tensor sharing `t`'s storage and layout, with no autograd history. */
TensorPtr alias(const TensorPtr& t);
/** A contiguous copy (or `t` itself when already contiguous). Not recorded by autograd. */
TensorPtr contiguous_data(const TensorPtr& t);
/** Copies src's elements into dst (same shape and dtype; dst contiguous). */
void copy_into(const TensorPtr& dst, const TensorPtr& src);
/** A view with the given layout; throws RangeError if it reaches outside the storage. */
TensorPtr make_view(const TensorPtr& base, const Shape& shape, const Shape& strides, int64_t offset);

/** Throws TypeError unless t is float32; `what` names the argument. */
void expect_f32(const TensorPtr& t, const char* what);

}  // namespace dlf
