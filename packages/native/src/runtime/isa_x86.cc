// x86-64: AVX-512, AVX2+FMA and the SSE2 baseline, probed with the compiler's cpuid helpers.
#include <cstring>

#include "runtime/isa_dispatch.h"

namespace dlf {

const char* const* isa_order() {
  static const char* const order[] = {"avx512", "avx2", "base", nullptr};
  return order;
}

bool cpu_has(const char* name) {
  if (std::strcmp(name, "avx512") == 0) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("fma");
  }
  if (std::strcmp(name, "avx2") == 0) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return std::strcmp(name, "base") == 0;
}

const Kernels* table_for(const char* name) {
  if (std::strcmp(name, "avx512") == 0) return kernels_avx512();
  if (std::strcmp(name, "avx2") == 0) return kernels_avx2();
  return kernels_base();
}

}  // namespace dlf
