#include "tensor/random.h"

#include <cmath>

#include "runtime/threadpool.h"

namespace dlf {

void philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(M0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(M1) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n1 = static_cast<uint32_t>(p1);
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    const uint32_t n3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += W0;
    k1 += W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

void random_fill(const TensorPtr& t, RandomKind kind, double a, double b, uint64_t seed, uint64_t offset) {
  DLF_THROW_IF(!t->is_contiguous(), "random fill needs a contiguous tensor");
  const int64_t n = t->numel();
  const int64_t blocks = (n + 3) / 4;
  const bool as_int = t->dtype == DType::I32;
  DLF_THROW_TYPE_IF(t->dtype == DType::U8, "random fill does not support uint8");
  DLF_THROW_TYPE_IF(as_int && kind != RandomKind::Integer, "random fill of an int32 tensor needs integer kind");
  DLF_THROW_RANGE_IF(!std::isfinite(a) || !std::isfinite(b), "random fill bounds must be finite");
  if (kind == RandomKind::Integer) {
    // b - a words are drawn per value: the range must be a whole number of values in (0, 2^32].
    DLF_THROW_RANGE_IF(a != std::floor(a) || b != std::floor(b) || !(b > a) || b - a > 4294967296.0,
                       "random integers need integer bounds low < high with high - low <= 2^32, got [", a, ", ",
                       b, ")");
    DLF_THROW_RANGE_IF(as_int && (a < -2147483648.0 || b > 2147483648.0), "random integers [", a, ", ", b,
                       ") do not fit int32");
  }
  float* f = as_int ? nullptr : t->data<float>();
  int32_t* iv = as_int ? t->data<int32_t>() : nullptr;
  const uint64_t range = kind == RandomKind::Integer ? static_cast<uint64_t>(b - a) : 0;
  parallel_for(blocks, 4096, [&](int64_t b0, int64_t b1) {
    uint32_t w[4];
    for (int64_t blk = b0; blk < b1; ++blk) {
      philox4x32(seed, offset + static_cast<uint64_t>(blk), w);
      double vals[4] = {0, 0, 0, 0};
      switch (kind) {
        case RandomKind::Uniform:
          for (int j = 0; j < 4; ++j) vals[j] = a + (b - a) * static_cast<double>(uniform01(w[j]));
          break;
        case RandomKind::Normal:
          for (int j = 0; j < 4; j += 2) {
            // u1 in (0, 1] so the log is finite.
            const double u1 = (static_cast<double>(w[j] >> 8) + 1.0) / 16777216.0;
            const double u2 = static_cast<double>(w[j + 1] >> 8) / 16777216.0;
            const double r = std::sqrt(-2.0 * std::log(u1));
            const double theta = 6.283185307179586 * u2;
            vals[j] = a + b * r * std::cos(theta);
            vals[j + 1] = a + b * r * std::sin(theta);
          }
          break;
        case RandomKind::Integer:
          for (int j = 0; j < 4; ++j) {
            vals[j] = a + static_cast<double>((static_cast<uint64_t>(w[j]) * range) >> 32);
          }
          break;
        case RandomKind::Bernoulli:
          for (int j = 0; j < 4; ++j) vals[j] = static_cast<double>(uniform01(w[j])) < a ? 1.0 : 0.0;
          break;
      }
      const int64_t base = blk * 4;
      for (int j = 0; j < 4 && base + j < n; ++j) {
        if (as_int) {
          iv[base + j] = static_cast<int32_t>(vals[j]);
        } else {
          float v = static_cast<float>(vals[j]);
          // Rounding to float32 can land on high itself (e.g. [1000, 1001)); step back inside [a, b).
          if (kind == RandomKind::Uniform && v >= b && b > a) v = std::nextafter(v, -INFINITY);
          f[base + j] = v;
        }
      }
    }
  });
}

}  // namespace dlf
