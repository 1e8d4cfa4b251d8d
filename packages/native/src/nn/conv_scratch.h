// Shared by the convolution paths (conv_gemm.cc, conv_depthwise.cc, conv_wino.cc, conv_fast.cc, conv_kvec.cc).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

#include "runtime/threadpool.h"

namespace dlf {

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// p: (parts, n) partial sums -> p[0..n): each sum's parts added in order, whichever thread adds it,
// so the bits depend on the parts (a count per shape), not on the thread count. Ranges of sums go
// to the threads (64 -> 128 channels, 5x5, 8x8 planes, batch 64, Winograd weight gradient at 2
// threads: 4.2 ms with one thread adding its 8 parts of 36 x 128 x 256 sums, 3.5 ms).
inline void add_parts_in_order(float* p, int64_t n, int64_t parts) {
  if (parts < 2) return;
  parallel_for(n, int64_t{1} << 14, [&](int64_t i0, int64_t i1) {
    for (int64_t s = 1; s < parts; ++s) {
      const float* q = p + s * n;
      for (int64_t i = i0; i < i1; ++i) p[i] += q[i];
    }
  });
}

// A thread's scratch floats: 64-byte aligned, grown when a call needs more and then kept, so a steady
// state allocates nothing. Contents are not kept when a buffer grows. A path may hold slots 0..2 at
// once within one call; no path keeps a slot across a call into another path. Slot 3 is the calling
// thread's, filled before a parallel_for and only read by its workers (weights laid out once per call).
// Slots 4 and 5 hold a conv chain's intermediate images (conv_chain.cc) while its stages use 0..3.
inline float* thread_scratch(int slot, int64_t floats) {
  struct Buffer {
    std::unique_ptr<float, void (*)(void*)> data{nullptr, std::free};
    int64_t floats = 0;
  };
  thread_local Buffer buffers[6];
  Buffer& b = buffers[slot];
  if (b.floats < floats) {
    const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
    b.data.reset();  // the old buffer goes first: the peak holds one of them, not both
    float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p) throw std::bad_alloc();
    b.data.reset(p);
    b.floats = floats;
  }
  return b.data.get();
}

}  // namespace dlf
