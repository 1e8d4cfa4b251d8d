#include "runtime/env_state.h"

#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

thread_local EnvState* t_current = nullptr;

EnvState& default_state() {
  static EnvState* state = new EnvState();  // never destroyed: storages may point at its account
  return *state;
}

}  // namespace

EnvState::EnvState()
    : kernels(default_kernels()), threads(default_threads()), memory(std::make_shared<MemoryAccount>()) {}

EnvState& current_env() { return t_current ? *t_current : default_state(); }

EnvScope::EnvScope(EnvState* state) : previous_(t_current) { t_current = state; }

EnvScope::~EnvScope() { t_current = previous_; }

}  // namespace dlf
