// Philox-4x32-10, a counter-based generator: element i of a fill with (seed, offset) depends only on
// the seed, the offset and i, so every machine and every thread count produces the same stream.
// Each 128-bit counter value yields four 32-bit words; a fill consumes ceil(n / 4) counter values.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace dlf {

enum class RandomKind : int32_t { Uniform = 0, Normal = 1, Integer = 2, Bernoulli = 3 };

/**
 * Fills contiguous tensor t. Uniform: [a, b) floats. Normal: mean a, std b (Box-Muller in double).
 * Integer: [a, b) as int32 or float32. Bernoulli: 1 with probability a, else 0.
 */
void random_fill(const TensorPtr& t, RandomKind kind, double a, double b, uint64_t seed, uint64_t offset);

/** The four words for counter value `counter` under key `seed`. */
void philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]);

/** Maps a 32-bit word to a float in [0, 1) using its top 24 bits. */
inline float uniform01(uint32_t word) { return static_cast<float>(word >> 8) * (1.0f / 16777216.0f); }

}  // namespace dlf
