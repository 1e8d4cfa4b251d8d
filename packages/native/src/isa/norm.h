// Batch-norm rows (nn/norm.cc drives them over channels and images): each row is one (image,
// channel) plane. Sums accumulate in float vectors within a row (a few thousand values) and come
// back as doubles the caller adds up over rows in a fixed order.
#pragma once
#include "isa/kernels.h"
#include "isa/simd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace norm {

// Four accumulators per step of four vectors: a quarter of the dependency chain (one chain ran at
// the FMA latency, not its throughput), and the same order every call.
template <typename Term>
inline double row_sum(int64_t n, Term term) {
  vf a0 = vf{}, a1 = vf{}, a2 = vf{}, a3 = vf{};
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    a0 += term(i);
    a1 += term(i + W);
    a2 += term(i + 2 * W);
    a3 += term(i + 3 * W);
  }
  for (; i + W <= n; i += W) a0 += term(i);
  return static_cast<double>(hsum((a0 + a1) + (a2 + a3)));
}

}  // namespace norm

// x: (n) -> the sum of x and of (x - mean)^2 (the second only when `sq` is given)
inline void bn_row_stats(const float* x, int64_t n, float mean, double* sum, double* sq) {
  const int64_t body = n / W * W;
  if (sum) {
    double s = norm::row_sum(body, [&](int64_t i) { return load(x + i); });
    for (int64_t i = body; i < n; ++i) s += x[i];
    *sum = s;
  }
  if (sq) {
    const vf m = broadcast(mean);
    double s = norm::row_sum(body, [&](int64_t i) {
      const vf d = load(x + i) - m;
      return d * d;
    });
    for (int64_t i = body; i < n; ++i) s += static_cast<double>(x[i] - mean) * (x[i] - mean);
    *sq = s;
  }
}

// x: (n) -> y = xhat * gamma + beta (ReLU: v > 0 ? v : 0), xhat = (x - mean) * invstd
inline void bn_row_apply(const float* x, int64_t n, const BnChannel& ch, bool relu, float* y) {
  const vf m = broadcast(ch.mean), is = broadcast(ch.invstd), ga = broadcast(ch.gamma), be = broadcast(ch.beta);
  const int64_t body = n / W * W;
  for (int64_t i = 0; i < body; i += W) {
    vf v = (load(x + i) - m) * is * ga + be;
    if (relu) v = v > vf{} ? v : vf{};
    store(y + i, v);
  }
  for (int64_t i = body; i < n; ++i) {
    const float v = (x[i] - ch.mean) * ch.invstd * ch.gamma + ch.beta;
    y[i] = relu ? (v > 0.f ? v : 0.f) : v;
  }
}

// The backward rows recompute xhat from x (the forward keeps x, not a second tensor of xhat): h is
// the same expression as in bn_row_apply, so the ReLU mask matches the forward's output bit for bit.

// g, x: (n) -> sum of g' and of g' * xhat, g' = g where the fused ReLU passed (xhat * gamma + beta > 0), else 0
inline void bn_row_grad_sums(const float* g, const float* x, int64_t n, const BnChannel& ch, bool relu, double* sb,
                             double* sg) {
  const vf m = broadcast(ch.mean), is = broadcast(ch.invstd), ga = broadcast(ch.gamma), be = broadcast(ch.beta);
  const int64_t body = n / W * W;
  // Four accumulator pairs (vectors i mod 4): a quarter of the dependency chain of one pair.
  vf bs[4] = {vf{}, vf{}, vf{}, vf{}}, ss[4] = {vf{}, vf{}, vf{}, vf{}};
  const auto add = [&](int64_t i, int lane) {
    const vf hv = (load(x + i) - m) * is;
    vf gv = load(g + i);
    if (relu) gv = hv * ga + be > vf{} ? gv : vf{};
    bs[lane] += gv;
    ss[lane] += gv * hv;
  };
  int64_t i = 0;
  for (; i + 4 * W <= body; i += 4 * W)
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) add(i + k * W, k);
  for (; i < body; i += W) add(i, 0);
  const vf b0 = (bs[0] + bs[1]) + (bs[2] + bs[3]), s0 = (ss[0] + ss[1]) + (ss[2] + ss[3]);
  double b = static_cast<double>(hsum(b0)), s = static_cast<double>(hsum(s0));
  for (int64_t j = body; j < n; ++j) {
    const float h = (x[j] - ch.mean) * ch.invstd;
    const float gv = !relu || h * ch.gamma + ch.beta > 0.f ? g[j] : 0.f;
    b += gv;
    s += static_cast<double>(gv) * h;
  }
  *sb = b;
  *sg = s;
}

// g, x: (n) -> dx = k * (M * g' - mb - xhat * mg) in training, k * g' in evaluation (g' as above)
inline void bn_row_grad_input(const float* g, const float* x, int64_t n, const BnChannel& ch, bool relu, bool training,
                              float k, float M, float mb, float mg, float* dx) {
  const vf m = broadcast(ch.mean), is = broadcast(ch.invstd), ga = broadcast(ch.gamma), be = broadcast(ch.beta);
  const vf kv = broadcast(k), Mv = broadcast(M), mbv = broadcast(mb), mgv = broadcast(mg);
  const int64_t body = n / W * W;
  for (int64_t i = 0; i < body; i += W) {
    const vf hv = (load(x + i) - m) * is;
    vf gv = load(g + i);
    if (relu) gv = hv * ga + be > vf{} ? gv : vf{};
    store(dx + i, training ? kv * (Mv * gv - mbv - hv * mgv) : kv * gv);
  }
  for (int64_t i = body; i < n; ++i) {
    const float h = (x[i] - ch.mean) * ch.invstd;
    const float gv = !relu || h * ch.gamma + ch.beta > 0.f ? g[i] : 0.f;
    dx[i] = training ? k * (M * gv - mb - h * mg) : k * gv;
  }
}

}  // namespace dlf::DLF_ISA_NS
