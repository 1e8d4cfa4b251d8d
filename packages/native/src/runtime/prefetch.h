// Software prefetch of plane rows, for access patterns the hardware prefetchers do not follow.
#pragma once
#include <algorithm>
#include <cstdint>

namespace dlf {

// Asks for the rows [r0, r0 + count) of a plane (rows x width floats; rows outside it skipped) to be
// brought into cache, one request per 64-byte line.
inline void prefetch_rows(const float* plane, int64_t r0, int64_t count, int64_t rows, int64_t width) {
  const int64_t first = std::max<int64_t>(r0, 0), last = std::min<int64_t>(r0 + count, rows);
  const float* p = plane + first * width;
  for (int64_t i = 0, n = (last - first) * width; i < n; i += 16) {
    __builtin_prefetch(p + i, 0, 3);
    // A prefetch is no side effect to GCC, which deleted such loops as empty (once for a pointer
    // compared with an end, once for this index); an asm it must keep (empty: no instruction) holds
    // the loop in place.
    asm volatile("" ::"r"(p + i));
  }
}

// Asks for `count` floats from p on to be brought into the outer caches (L2), one request per line.
inline void prefetch_span(const float* p, int64_t count) {
  for (int64_t i = 0; i < count; i += 16) {
    __builtin_prefetch(p + i, 0, 2);
    asm volatile("" ::"r"(p + i));  // kept: see prefetch_rows
  }
}

}  // namespace dlf
