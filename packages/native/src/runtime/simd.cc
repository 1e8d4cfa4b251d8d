#include "runtime/simd.h"

#include <cstdlib>
#include <cstring>

#include "runtime/env_state.h"
#include "runtime/isa_dispatch.h"

namespace dlf {
namespace {

const Kernels* pick_default() {
  const char* cap = std::getenv("DLF_SIMD");
  bool allowed = cap == nullptr || *cap == '\0';
  for (const char* const* name_at = isa_order(); *name_at != nullptr; ++name_at) {
    const char* name = *name_at;
    if (!allowed && std::strcmp(cap, name) == 0) allowed = true;
    if (allowed && cpu_has(name)) return table_for(name);
  }
  return table_for("base");
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
