#include "runtime/simd.h"

#include <cstdlib>
#include <cstring>

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

const Kernels* g_table = nullptr;

}  // namespace

const Kernels& kernels() {
  if (!g_table) g_table = pick_default();
  return *g_table;
}

bool select_kernels(const char* name) {
  if (!cpu_has(name)) return false;
  g_table = table_for(name);
  return true;
}

}  // namespace dlf
