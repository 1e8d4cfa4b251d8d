// PyTorch's ReLU on one float, for the scalar loops (the op table, GEMM edges, epilogues): v < 0 ? 0 : v,
// so NaN and -0 pass through (v > 0 ? v : 0 would turn a NaN into 0 and hide it). Vector kernels use
// vrelu (isa/simd.h), the same rule.
#pragma once

namespace dlf {

inline float relu_value(float v) { return v < 0.f ? 0.f : v; }

}  // namespace dlf
