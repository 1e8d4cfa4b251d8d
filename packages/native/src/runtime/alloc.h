// 64-byte aligned allocation with a size-keyed cache: a training step that allocates the same
// activation and gradient buffers as the previous one gets them back from the cache, so a
// steady-state step makes no calls to the system allocator. The cache is process-wide; what is
// alive is counted per MemoryAccount (one per Node-API environment, see runtime/env_state.h).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace dlf {

constexpr size_t kAlignment = 64;

/** The blocks one owner (an environment) holds, updated from any thread. */
struct MemoryAccount {
  std::atomic<int64_t> live_blocks{0};
  std::atomic<int64_t> live_bytes{0};
  std::atomic<int64_t> system_allocations{0};  // of this owner's blocks, those the cache could not serve
};

/** Returns at least `bytes` bytes aligned to 64, counted to `account`; throws std::bad_alloc on failure. */
void* aligned_alloc_cached(size_t bytes, MemoryAccount& account);
/** Returns a block obtained from aligned_alloc_cached with the same `bytes` and `account`. */
void aligned_free_cached(void* ptr, size_t bytes, MemoryAccount& account);
/** Frees every cached block. */
void release_cached_memory();

struct MemoryStats {
  int64_t live_blocks;         // the account's
  int64_t live_bytes;          // the account's
  int64_t cached_bytes;        // the process-wide cache's
  int64_t system_allocations;  // the account's calls that reached the system allocator, ever
};
MemoryStats memory_stats(const MemoryAccount& account);

}  // namespace dlf
