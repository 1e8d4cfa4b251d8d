#include "runtime/alloc.h"

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

// Cached bytes above this are returned to the system (DLF_CACHE_MB overrides it).
size_t cache_limit() {
  static const size_t limit = [] {
    const char* env = std::getenv("DLF_CACHE_MB");
    if (env && *env) {
      char* end = nullptr;
      unsigned long long mb = std::strtoull(env, &end, 10);
      if (end && *end == '\0') return static_cast<size_t>(mb) << 20;
    }
    return static_cast<size_t>(1024) << 20;
  }();
  return limit;
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
  account.system_allocations.fetch_add(1, std::memory_order_relaxed);
  account.live_blocks.fetch_add(1, std::memory_order_relaxed);
  account.live_bytes.fetch_add(static_cast<int64_t>(size), std::memory_order_relaxed);
  return p;
}

void aligned_free_cached(void* ptr, size_t bytes, MemoryAccount& account) {
  if (!ptr) return;
  const size_t size = round_size(bytes);
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
