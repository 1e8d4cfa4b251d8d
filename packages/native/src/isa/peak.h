// The FMA throughput probe behind `testing.measureFmaPeak()` (the benchmark's "% of peak"): 12
// independent multiply-add chains of the table's vector width keep both FMA pipes of a core busy
// (latency 4 x 2 pipes = 8 chains in flight at least).
#pragma once
#include <chrono>

#include "isa/simd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

// GFLOP/s of one thread over about `seconds` of chained FMAs (2 FLOPs per lane and FMA).
inline double fma_peak_gflops(double seconds) {
  constexpr int kChains = 12;
  constexpr int64_t kSteps = 1 << 16;
  vf acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = broadcast(static_cast<float>(i));
  const vf a = broadcast(0.999999f), b = broadcast(1e-7f);
  const auto start = std::chrono::steady_clock::now();
  int64_t rounds = 0;
  double elapsed = 0.0;
  do {
    for (int64_t s = 0; s < kSteps; ++s) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * a + b;
    }
    ++rounds;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds);
  vf sum = vf{};
  for (int i = 0; i < kChains; ++i) sum += in_register(acc[i]);
  // Consumed so the chains are not optimised away; always finite and positive.
  const double keep = hsum(sum) > 0.f ? 0.0 : 1e-30;
  return static_cast<double>(rounds) * kSteps * kChains * W * 2.0 / elapsed / 1e9 + keep;
}

}  // namespace dlf::DLF_ISA_NS
