// Any other architecture: only the portable baseline table.
#include <cstring>

#include "runtime/isa_dispatch.h"

namespace dlf {

const char* const* isa_order() {
  static const char* const order[] = {"base", nullptr};
  return order;
}

bool cpu_has(const char* name) { return std::strcmp(name, "base") == 0; }

const Kernels* table_for(const char* name) { return kernels_base(); }

}  // namespace dlf
