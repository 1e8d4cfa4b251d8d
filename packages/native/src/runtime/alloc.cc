#include "runtime/alloc.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#ifdef __linux__
#include <sys/mman.h>
#endif
#include <vector>

namespace dlf {
namespace {

// DLF_CACHE_MB in bytes, or SIZE_MAX when it is not set (or not a number).
size_t env_cache_limit() {
  static const size_t limit = [] {
    const char* env = std::getenv("DLF_CACHE_MB");
    if (env && *env) {
      char* end = nullptr;
      unsigned long long mb = std::strtoull(env, &end, 10);
      if (end && *end == '\0') return static_cast<size_t>(mb) << 20;
    }
    return SIZE_MAX;
  }();
  return limit;
}

// Bytes of blocks alive in the whole process (every account), and the most there ever were.
std::atomic<size_t> process_live{0}, process_peak{0};

void count_live(size_t size) {
  const size_t now = process_live.fetch_add(size, std::memory_order_relaxed) + size;
  size_t peak = process_peak.load(std::memory_order_relaxed);
  while (now > peak && !process_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

// Cached bytes above this are returned to the system. DLF_CACHE_MB sets it; by default it is twice
// the process's peak of live bytes, and at least 1 GB. Blocks are reused by exact size, so a step
// holds, over its course, up to the sum of each size's own peak, which is more than the peak of all
// sizes at once: with the limit at that peak, a 3 GB MobileNet step at batch 256 still gave ~20
// blocks a step back to the system and paged them in again (and with a fixed 1 GB, ~40: a third of
// its time). Twice the peak holds a repeating step's every block; a workload whose sizes keep
// changing still cannot make the cache grow past it.
size_t cache_limit() {
  const size_t env = env_cache_limit();
  if (env != SIZE_MAX) return env;
  const size_t peak = process_peak.load(std::memory_order_relaxed);
  return std::max(static_cast<size_t>(1024) << 20, peak > SIZE_MAX / 2 ? SIZE_MAX : 2 * peak);
}

size_t round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  return (bytes + kAlignment - 1) & ~(kAlignment - 1);
}

// Blocks of at least this size are placed on 2 MB boundaries and marked for transparent huge pages
// (where the kernel offers them on request): one page fault and one TLB entry per 2 MB of a large
// activation instead of 512.
constexpr size_t kHugePage = size_t{2} << 20;

void* system_alloc(size_t size) {
#ifdef __linux__
  if (size >= kHugePage && size <= SIZE_MAX - kHugePage) {  // the rounding below cannot wrap
    const size_t rounded = (size + kHugePage - 1) & ~(kHugePage - 1);
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (p) madvise(p, rounded, MADV_HUGEPAGE);  // advice only: nothing to do when refused
    return p;
  }
#endif
  return std::aligned_alloc(kAlignment, size);
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  size_t cached = 0;
};
Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: blocks may be freed during static teardown
  return *c;
}

}  // namespace

void* aligned_alloc_cached(size_t bytes, MemoryAccount& account) {
  const size_t size = round_size(bytes);
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached -= size;
      count_live(size);
      account.live_blocks.fetch_add(1, std::memory_order_relaxed);
      account.live_bytes.fetch_add(static_cast<int64_t>(size), std::memory_order_relaxed);
      return p;
    }
  }
  void* p = system_alloc(size);
  if (!p) {
    release_cached_memory();
    p = system_alloc(size);
    if (!p) throw std::bad_alloc();
  }
  count_live(size);
  account.system_allocations.fetch_add(1, std::memory_order_relaxed);
  account.live_blocks.fetch_add(1, std::memory_order_relaxed);
  account.live_bytes.fetch_add(static_cast<int64_t>(size), std::memory_order_relaxed);
  return p;
}

void aligned_free_cached(void* ptr, size_t bytes, MemoryAccount& account) {
  if (!ptr) return;
  const size_t size = round_size(bytes);
  process_live.fetch_sub(size, std::memory_order_relaxed);
  account.live_blocks.fetch_sub(1, std::memory_order_relaxed);
  account.live_bytes.fetch_sub(static_cast<int64_t>(size), std::memory_order_relaxed);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.cached + size <= cache_limit()) {
      c.free_blocks[size].push_back(ptr);
      c.cached += size;
      return;
    }
  }
  std::free(ptr);
}

void release_cached_memory() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [size, blocks] : c.free_blocks) {
    for (void* p : blocks) std::free(p);
  }
  c.free_blocks.clear();
  c.cached = 0;
}

MemoryStats memory_stats(const MemoryAccount& account) {
  MemoryStats s{};
  s.live_blocks = account.live_blocks.load(std::memory_order_relaxed);
  s.live_bytes = account.live_bytes.load(std::memory_order_relaxed);
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    s.cached_bytes = static_cast<int64_t>(c.cached);
  }
  s.system_allocations = account.system_allocations.load(std::memory_order_relaxed);
  return s;
}

}  // namespace dlf
