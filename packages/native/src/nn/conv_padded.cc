#include "nn/conv_padded.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace dlf {
namespace {

// Buffers up to this size are kept per thread (at most kScratchEntries of them); larger ones come
// from the allocator, zeroed, for one call.
constexpr size_t kScratchMaxBytes = size_t{2} << 20;
constexpr size_t kScratchEntries = 16;

}  // namespace

Scratch padded_scratch(const PadKey& key) {
  struct Entry {
    PadKey key;
    std::unique_ptr<float, void (*)(void*)> data;
  };
  thread_local std::vector<Entry> cache;  // a few geometries per model
  const int64_t floats = key.planes * key.Hb * key.Wb;
  const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
  Scratch out;
  if (bytes > kScratchMaxBytes) {
    out.owned = zeros({floats});
    out.data = out.owned->f32();
    return out;
  }
  for (auto& e : cache) {
    if (e.key == key) {
      out.data = e.data.get();
      return out;
    }
  }
  if (cache.size() >= kScratchEntries) cache.erase(cache.begin());
  float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  cache.push_back(Entry{key, std::unique_ptr<float, void (*)(void*)>(p, std::free)});
  out.data = p;
  return out;
}

}  // namespace dlf
