#include "runtime/simd.h"

#include <cstdlib>
#include <cstring>

#include "runtime/env_state.h"

namespace dlf {
namespace {

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

const Kernels* pick_default() {
  const char* cap = std::getenv("DLF_SIMD");
  const char* order[] = {"avx512", "avx2", "base"};
  bool allowed = cap == nullptr || *cap == '\0';
  for (const char* name : order) {
    if (!allowed && std::strcmp(cap, name) == 0) allowed = true;
    if (allowed && cpu_has(name)) return table_for(name);
  }
  return kernels_base();
}

}  // namespace

const Kernels* default_kernels() {
  static const Kernels* const table = pick_default();
  return table;
}

const Kernels& kernels() { return *current_env().kernels; }

bool select_kernels(const char* name) {
  if (!cpu_has(name)) return false;
  current_env().kernels = table_for(name);
  return true;
}

}  // namespace dlf
