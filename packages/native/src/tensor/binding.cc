// tensor/ entry points. Shapes arrive resolved from TypeScript; everything that could corrupt
// memory (lengths, bounds, dtypes) is checked again here.
#include <cstring>

#include "runtime/alloc.h"
#include "runtime/napi_util.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"
#include "tensor/random.h"
#include "tensor/views.h"

namespace dlf {
namespace {

using napi::read_int;
using napi::read_number;
using napi::read_shape;
using napi::unwrap;
using napi::wrap;

DType read_dtype(const Napi::CallbackInfo& info, size_t i) {
  const int64_t code = read_int(info, i, "dtype");
  // Check before narrowing: 2^32 must not wrap around to a valid code.
  DLF_THROW_TYPE_IF(code < 0 || code > 2, "unknown dtype code ", code);
  return dtype_from_int(static_cast<int32_t>(code));
}

// Integer dtypes hold only the integers in their range; converting anything else is undefined behaviour.
void check_fits(DType dtype, double v, const char* what) {
  if (dtype == DType::F32) return;
  const double lo = dtype == DType::I32 ? -2147483648.0 : 0.0;
  const double hi = dtype == DType::I32 ? 2147483647.0 : 255.0;
  DLF_THROW_RANGE_IF(!(v >= lo && v <= hi), "Expected a value in [", lo, ", ", hi, "] for ", what, " of dtype ",
                     dtype_name(dtype), " but received ", v);
}

napi_typedarray_type typed_array_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return napi_float32_array;
    case DType::I32:
      return napi_int32_array;
    case DType::U8:
      return napi_uint8_array;
  }
  return napi_uint8_array;
}

// [sync] empty(shape, dtype) -> handle (uninitialised)
Napi::Value Empty(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), empty(read_shape(info, 0, "shape"), read_dtype(info, 1)));
}

// [sync] full(shape, dtype, value) -> handle
Napi::Value Full(const Napi::CallbackInfo& info) {
  const Shape shape = read_shape(info, 0, "shape");
  const DType dtype = read_dtype(info, 1);
  const double value = read_number(info, 2, "value");
  check_fits(dtype, value, "value");
  return wrap(info.Env(), full(shape, value, dtype));
}

// [sync] fromTypedArray(array, shape, dtype) -> handle; copies. RangeError if lengths differ.
Napi::Value FromTypedArray(const Napi::CallbackInfo& info) {
  Shape shape = read_shape(info, 1, "shape");
  DType dtype = read_dtype(info, 2);
  DLF_THROW_TYPE_IF(!info[0].IsTypedArray(), "Expected a typed array for data");
  auto ta = info[0].As<Napi::TypedArray>();
  DLF_THROW_TYPE_IF(ta.TypedArrayType() != typed_array_type(dtype), "Expected a typed array of ", dtype_name(dtype),
                    " for data");
  auto t = empty(shape, dtype);
  DLF_THROW_RANGE_IF(static_cast<int64_t>(ta.ElementLength()) != t->numel(), "data has ", ta.ElementLength(),
                     " elements but shape ", shape_str(shape), " needs ", t->numel());
  const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  if (t->numel() > 0) std::memcpy(t->storage->data, src, t->storage->nbytes);
  return wrap(info.Env(), t);
}

// [sync] write(handle, array): copies a typed array into a contiguous tensor of the same dtype and size.
Napi::Value Write(const Napi::CallbackInfo& info) {
  auto t = unwrap(info, 0, "destination");
  DLF_THROW_IF(!t->is_contiguous(), "write: the destination must be contiguous");
  DLF_THROW_TYPE_IF(!info[1].IsTypedArray(), "Expected a typed array for data");
  auto ta = info[1].As<Napi::TypedArray>();
  DLF_THROW_TYPE_IF(ta.TypedArrayType() != typed_array_type(t->dtype), "Expected a typed array of ",
                    dtype_name(t->dtype), " for data");
  DLF_THROW_RANGE_IF(static_cast<int64_t>(ta.ElementLength()) != t->numel(), "data has ", ta.ElementLength(),
                     " elements but the tensor has ", t->numel());
  const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  if (t->numel() > 0) std::memcpy(t->data<uint8_t>(), src, static_cast<size_t>(t->numel()) * dtype_size(t->dtype));
  return info.Env().Undefined();
}

// [sync] arange(start, step, n, dtype) -> handle
Napi::Value Arange(const Napi::CallbackInfo& info) {
  const double start = read_number(info, 0, "start");
  const double step = read_number(info, 1, "step");
  const int64_t n = read_int(info, 2, "length");
  DType dtype = read_dtype(info, 3);
  DLF_THROW_TYPE_IF(dtype == DType::U8, "arange does not produce uint8");
  if (n > 0) {
    // The values are monotonic, so the first and last bound them all.
    check_fits(dtype, start, "start");
    check_fits(dtype, start + step * static_cast<double>(n - 1), "the last value");
  }
  auto t = empty({n}, dtype);
  for (int64_t i = 0; i < n; ++i) {
    const double v = start + step * static_cast<double>(i);
    if (dtype == DType::F32) t->data<float>()[i] = static_cast<float>(v);
    else t->data<int32_t>()[i] = static_cast<int32_t>(v);
  }
  return wrap(info.Env(), t);
}

// [sync] randomFill(handle, kind, a, b, seed, offset): fills in place from the Philox stream.
Napi::Value RandomFill(const Napi::CallbackInfo& info) {
  auto t = unwrap(info, 0, "tensor");
  const int64_t kind = read_int(info, 1, "kind");
  DLF_THROW_RANGE_IF(kind < 0 || kind > 3, "unknown random kind ", kind);
  const int64_t seed = read_int(info, 4, "seed");
  const int64_t offset = read_int(info, 5, "offset");
  DLF_THROW_RANGE_IF(seed < 0 || offset < 0, "seed and offset must be non-negative");
  random_fill(t, static_cast<RandomKind>(kind), read_number(info, 2, "a"), read_number(info, 3, "b"),
              static_cast<uint64_t>(seed), static_cast<uint64_t>(offset));
  return info.Env().Undefined();
}

// [sync] reshape(handle, shape) -> handle (view when contiguous)
Napi::Value Reshape(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), reshape(unwrap(info, 0, "tensor"), read_shape(info, 1, "shape")));
}

// [sync] narrow(handle, start, length) -> handle (view of rows along axis 0)
Napi::Value Narrow(const Napi::CallbackInfo& info) {
  return wrap(info.Env(),
              narrow0(unwrap(info, 0, "tensor"), read_int(info, 1, "start"), read_int(info, 2, "length")));
}

// [sync] permute(handle, dims) -> handle (view)
Napi::Value Permute(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), permute(unwrap(info, 0, "tensor"), napi::read_ints(info, 1, "dims")));
}

// [sync] contiguous(handle) -> handle
Napi::Value Contiguous(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), contiguous(unwrap(info, 0, "tensor")));
}

// [sync] clone(handle) -> handle
Napi::Value Clone(const Napi::CallbackInfo& info) { return wrap(info.Env(), clone(unwrap(info, 0, "tensor"))); }

// [sync] cast(handle, dtype, scale) -> handle
Napi::Value Cast(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), cast(unwrap(info, 0, "tensor"), read_dtype(info, 1), read_number(info, 2, "scale")));
}

Napi::Value make_typed_array(Napi::Env env, DType dtype, size_t length, Napi::ArrayBuffer buffer) {
  napi_value out;
  napi_status status = napi_create_typedarray(env, typed_array_type(dtype), length, buffer, 0, &out);
  NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  return Napi::Value(env, out);
}

Napi::Value copy_out(Napi::Env env, const TensorPtr& t_in) {
  auto t = contiguous_data(t_in);
  const size_t bytes = static_cast<size_t>(t->numel()) * dtype_size(t->dtype);
  auto buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) std::memcpy(buffer.Data(), t->data<uint8_t>(), bytes);
  return make_typed_array(env, t->dtype, static_cast<size_t>(t->numel()), buffer);
}

// [sync] toTypedArray(handle) -> a new typed array with a copy of the elements (row-major)
Napi::Value ToTypedArray(const Napi::CallbackInfo& info) { return copy_out(info.Env(), unwrap(info, 0, "tensor")); }

// [sync] dataView(handle) -> typed array over the tensor's own memory (contiguous tensors only).
// The view keeps the storage alive until the view itself is garbage collected.
Napi::Value DataView(const Napi::CallbackInfo& info) {
  auto t = unwrap(info, 0, "tensor");
  DLF_THROW_IF(!t->is_contiguous(), "dataView needs a contiguous tensor");
  const size_t n = static_cast<size_t>(t->numel());
  if (n == 0) return copy_out(info.Env(), t);
  auto* keep = new std::shared_ptr<Storage>(t->storage);
  auto buffer = Napi::ArrayBuffer::New(info.Env(), t->data<uint8_t>(), n * dtype_size(t->dtype),
                                       [](Napi::Env, void*, std::shared_ptr<Storage>* k) { delete k; }, keep);
  return make_typed_array(info.Env(), t->dtype, n, buffer);
}

// [sync] item(handle) -> number (one-element tensors)
Napi::Value Item(const Napi::CallbackInfo& info) {
  auto t = unwrap(info, 0, "tensor");
  DLF_THROW_RANGE_IF(t->numel() != 1, "item() needs a one-element tensor but the shape is ", shape_str(t->shape));
  switch (t->dtype) {
    case DType::F32:
      return Napi::Number::New(info.Env(), *t->data<float>());
    case DType::I32:
      return Napi::Number::New(info.Env(), *t->data<int32_t>());
    case DType::U8:
      return Napi::Number::New(info.Env(), *t->data<uint8_t>());
  }
  return info.Env().Undefined();
}

// [sync] layout(handle) -> { shape, strides, offset, dtype, contiguous }
Napi::Value Layout(const Napi::CallbackInfo& info) {
  auto t = unwrap(info, 0, "tensor");
  Napi::Env env = info.Env();
  auto obj = Napi::Object::New(env);
  auto shape = Napi::Array::New(env, t->shape.size());
  auto strides = Napi::Array::New(env, t->strides.size());
  for (size_t i = 0; i < t->shape.size(); ++i) {
    shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t->shape[i])));
    strides.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t->strides[i])));
  }
  obj.Set("shape", shape);
  obj.Set("strides", strides);
  obj.Set("offset", Napi::Number::New(env, static_cast<double>(t->offset)));
  obj.Set("dtype", Napi::Number::New(env, static_cast<int32_t>(t->dtype)));
  obj.Set("contiguous", Napi::Boolean::New(env, t->is_contiguous()));
  obj.Set("sharesStorageWith", Napi::Number::New(env, static_cast<double>(t->storage.use_count())));
  return obj;
}

// [sync] release(handle): drops the handle's reference; idempotent.
Napi::Value Release(const Napi::CallbackInfo& info) {
  DLF_THROW_TYPE_IF(info.Length() < 1, "release needs a handle");
  napi::release(info[0]);
  return info.Env().Undefined();
}

// [sync] memoryStats() -> { liveBlocks, liveBytes, cachedBytes, systemAllocations }: the blocks of
// tensors this environment created (wherever they are freed); the cache is the process's.
Napi::Value MemoryStatsJs(const Napi::CallbackInfo& info) {
  const MemoryStats s = memory_stats(*current_env().memory);
  auto obj = Napi::Object::New(info.Env());
  obj.Set("liveBlocks", Napi::Number::New(info.Env(), static_cast<double>(s.live_blocks)));
  obj.Set("liveBytes", Napi::Number::New(info.Env(), static_cast<double>(s.live_bytes)));
  obj.Set("cachedBytes", Napi::Number::New(info.Env(), static_cast<double>(s.cached_bytes)));
  obj.Set("systemAllocations", Napi::Number::New(info.Env(), static_cast<double>(s.system_allocations)));
  return obj;
}

// [sync] releaseCachedMemory(): returns cached blocks to the system.
Napi::Value ReleaseCache(const Napi::CallbackInfo& info) {
  release_cached_memory();
  return info.Env().Undefined();
}

// [sync] numThreads() -> number; setNumThreads(n)
Napi::Value NumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), num_threads()); }
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  const int64_t n = read_int(info, 0, "threads");
  DLF_THROW_RANGE_IF(n < 1 || n > 256, "Expected an integer in [1, 256] for threads but received ", n);
  set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

// [sync] simd() -> "avx512" | "avx2" | "base": the calling thread's kernel table
Napi::Value Simd(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kernels().name); }

}  // namespace

void init_tensor(Napi::Env env, Napi::Object exports) {
  DLF_EXPORT(exports, "empty", Empty);
  DLF_EXPORT(exports, "full", Full);
  DLF_EXPORT(exports, "fromTypedArray", FromTypedArray);
  DLF_EXPORT(exports, "write", Write);
  DLF_EXPORT(exports, "arange", Arange);
  DLF_EXPORT(exports, "randomFill", RandomFill);
  DLF_EXPORT(exports, "reshape", Reshape);
  DLF_EXPORT(exports, "narrow", Narrow);
  DLF_EXPORT(exports, "permute", Permute);
  DLF_EXPORT(exports, "contiguous", Contiguous);
  DLF_EXPORT(exports, "clone", Clone);
  DLF_EXPORT(exports, "cast", Cast);
  DLF_EXPORT(exports, "toTypedArray", ToTypedArray);
  DLF_EXPORT(exports, "dataView", DataView);
  DLF_EXPORT(exports, "item", Item);
  DLF_EXPORT(exports, "layout", Layout);
  DLF_EXPORT(exports, "release", Release);
  DLF_EXPORT(exports, "memoryStats", MemoryStatsJs);
  DLF_EXPORT(exports, "releaseCachedMemory", ReleaseCache);
  DLF_EXPORT(exports, "numThreads", NumThreads);
  DLF_EXPORT(exports, "setNumThreads", SetNumThreads);
  DLF_EXPORT(exports, "simd", Simd);
}

}  // namespace dlf
