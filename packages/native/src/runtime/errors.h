// Errors raised by native code. Kernels and ops throw these C++ exceptions; the binding edge
// (napi::guarded in runtime/napi_util.h) turns them into JS RangeError / TypeError / Error. Native code
// never aborts or exits: every check that protects memory throws instead.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace dlf {

struct RangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

}  // namespace dlf

#define DLF_THROW_RANGE_IF(cond, ...) \
  do {                                \
    if (cond) throw ::dlf::RangeError(::dlf::concat(__VA_ARGS__)); \
  } while (0)
#define DLF_THROW_TYPE_IF(cond, ...) \
  do {                               \
    if (cond) throw ::dlf::TypeError(::dlf::concat(__VA_ARGS__)); \
  } while (0)
#define DLF_THROW_IF(cond, ...) \
  do {                          \
    if (cond) throw ::dlf::Error(::dlf::concat(__VA_ARGS__)); \
  } while (0)
