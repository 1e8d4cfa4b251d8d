// What each CPU architecture offers the run-time kernel choice in runtime/simd.cc. Exactly one of
// runtime/isa_x86.cc, isa_arm64.cc or isa_generic.cc is built (CMakeLists.txt picks it by
// CMAKE_SYSTEM_PROCESSOR), so no architecture's intrinsics or CPU probes reach another's build.
#pragma once
#include "isa/kernels.h"

namespace dlf {

/** Table names, best first, ending with nullptr; the last name is supported everywhere. */
const char* const* isa_order();
/** True when this CPU can run the table `name` (false for names this architecture lacks). */
bool cpu_has(const char* name);
/** The table `name`; the baseline table for an unknown name. */
const Kernels* table_for(const char* name);

}  // namespace dlf
