// arm64: the NEON table and the generic baseline. Advanced SIMD is part of ARMv8-A, but the kernel
// still asks (HWCAP_ASIMD) so a core or emulator without it falls back instead of faulting.
#include <sys/auxv.h>

#include <cstring>

#include "runtime/isa_dispatch.h"

#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif

namespace dlf {

const char* const* isa_order() {
  static const char* const order[] = {"neon", "base", nullptr};
  return order;
}

bool cpu_has(const char* name) {
  if (std::strcmp(name, "neon") == 0) return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
  return std::strcmp(name, "base") == 0;
}

const Kernels* table_for(const char* name) {
  if (std::strcmp(name, "neon") == 0) return kernels_neon();
  return kernels_base();
}

}  // namespace dlf
