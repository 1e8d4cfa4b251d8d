// Run-time choice of the kernel table: the best instruction set this CPU supports, capped by
// DLF_SIMD=avx512|avx2|base (useful to test every path on one machine). The choice is per
// environment (runtime/env_state.h): two worker threads may run different tables at once.
#pragma once
#include "isa/kernels.h"

namespace dlf {

/** The kernel table of the current environment. */
const Kernels& kernels();
/** Selects the current environment's table by name ("avx512", "avx2", "base"); false if unsupported here. */
bool select_kernels(const char* name);
/** The table a new environment starts with: the best this CPU supports, capped by DLF_SIMD. */
const Kernels* default_kernels();

}  // namespace dlf
