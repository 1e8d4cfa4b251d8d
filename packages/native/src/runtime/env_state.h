// Per-environment native state. Every Node-API environment (the main thread and each worker
// thread) that loads the addon gets its own EnvState, kept as the environment's instance data and
// deleted with it: the kernel table, the test switches, the thread count and the memory account of
// the tensors it creates. Native code deep inside an op has no Napi::Env, so the binding edge
// (napi::guarded) makes the caller's state current on its thread for the length of the call, and
// the thread pool makes the submitter's state current on the workers that run its job.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>

#include "isa/kernels.h"
#include "runtime/alloc.h"

namespace dlf {

struct EnvState {
  /** Kernel table from DLF_SIMD and the CPU, conv fast path on, threads from DLF_NUM_THREADS. */
  EnvState();
  EnvState(const EnvState&) = delete;
  EnvState& operator=(const EnvState&) = delete;

  const Kernels* kernels;      // the instruction set this environment's ops use
  bool conv_fast_path = true;  // false forces the general convolution (tests compare the two)
  bool conv_winograd = true;   // false turns Winograd F(4x4,3x3) off (tests compare it with the other paths)
  bool conv_dw_blocked = true;  // false keeps small-plane depthwise layers on the plane kernels (tests)
  int threads;                 // threads a parallel op of this environment may use, the caller included
  // Tensors created here, wherever they are freed. Shared with each storage, so a tensor that
  // outlives its environment (finalized at teardown, or freed later) still has an account to update.
  std::shared_ptr<MemoryAccount> memory;
  int64_t reported_external_bytes = 0;  // what this environment's V8 heap was told is alive
  // The most live tensor memory seen since the current reporting window began (runtime/napi_util.cc).
  int64_t external_window_peak = 0;
  std::chrono::steady_clock::time_point external_window_start = std::chrono::steady_clock::now();
};

/**
 * The state of the environment whose call this thread runs (on a pool worker: the job submitter's).
 * Outside any call it is a process-wide default state, never null.
 */
EnvState& current_env();

/** Makes `state` current on this thread until the scope ends (nested scopes restore the previous one). */
class EnvScope {
 public:
  explicit EnvScope(EnvState* state);
  ~EnvScope();
  EnvScope(const EnvScope&) = delete;
  EnvScope& operator=(const EnvScope&) = delete;

 private:
  EnvState* previous_;
};

}  // namespace dlf
