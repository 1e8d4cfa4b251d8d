// The arm64 backend of isa/simd.h: 4-wide NEON (Advanced SIMD, part of every ARMv8-A core) with
// fused multiply-add and 32 vector registers, so the kernels use the larger register tiles.
#pragma once
#include <arm_neon.h>

#define DLF_SIMD_NEON 1

namespace dlf::simd {

inline vf broadcast(float x) { return reinterpret_cast<vf>(vdupq_n_f32(x)); }
// Bit i set when lane i of v is not <= 0 (positive or NaN): the all-ones lanes of the negated
// compare select 1, 2, 4, 8.
inline uint32_t relu_pass_bits(vf v) {
  const uint32x4_t pass = vmvnq_u32(vcleq_f32(reinterpret_cast<float32x4_t>(v), vdupq_n_f32(0.f)));
  const uint32_t weights[4] = {1, 2, 4, 8};
  return vaddvq_u32(vandq_u32(pass, vld1q_u32(weights)));
}
// Forces v into a register here (see isa/simd_x86.h); "w" is an FP/SIMD register on AArch64.
inline vf in_register(vf v) {
  __asm__("" : "+w"(v));
  return v;
}

}  // namespace dlf::simd
