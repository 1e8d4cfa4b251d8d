// Run-time choice of the kernel table: the best instruction set this CPU supports, capped by
// DLF_SIMD=avx512|avx2|base on x86-64 or neon|base on arm64 (useful to test every path on one machine).
#pragma once
#include "isa/kernels.h"

namespace dlf {

/** The kernel table in use. */
const Kernels& kernels();
/** Selects a table by name ("avx512", "avx2", "neon", "base"); returns false if unsupported here. */
bool select_kernels(const char* name);

}  // namespace dlf
