// 64-byte aligned allocation with a size-keyed cache: a training step that allocates the same
// activation and gradient buffers as the previous one gets them back from the cache, so a
// steady-state step makes no calls to the system allocator.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dlf {

constexpr size_t kAlignment = 64;

/** Returns at least `bytes` bytes aligned to 64; throws std::bad_alloc on failure. */
void* aligned_alloc_cached(size_t bytes);
/** Returns a block obtained from aligned_alloc_cached with the same `bytes`. */
void aligned_free_cached(void* ptr, size_t bytes);
/** Frees every cached block. */
void release_cached_memory();

struct MemoryStats {
  int64_t live_blocks;
  int64_t live_bytes;
  int64_t cached_bytes;
  int64_t system_allocations;  // calls that reached the system allocator, ever
};
MemoryStats memory_stats();

}  // namespace dlf
