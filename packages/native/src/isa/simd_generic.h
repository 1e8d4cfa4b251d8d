// The portable backend of isa/simd.h: plain vector extensions with no intrinsics, for CPUs without a
// dedicated backend and for the "base" table on arm64. The compiler lowers it to whatever the
// target offers.
#pragma once

namespace dlf::simd {

inline vf broadcast(float x) {
  vf v;
  for (int i = 0; i < W; ++i) v[i] = x;
  return v;
}
// Bit i set when lane i of v is not <= 0 (positive or NaN).
inline uint32_t relu_pass_bits(vf v) {
  uint32_t bits = 0;
  for (int i = 0; i < W; ++i) bits |= (v[i] <= 0.f ? 0u : 1u) << i;
  return bits;
}
inline vf in_register(vf v) { return v; }

}  // namespace dlf::simd
