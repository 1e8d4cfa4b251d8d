// Batch-norm channels (nn/norm.cc drives them over channels): a channel is N rows of n values (one
// (image, channel) plane each) `stride` floats apart. Sums accumulate in float vectors within a row
// and in double vectors across rows, so a channel of small planes (4x4, 8x8) pays one horizontal sum
// and one call, not one per plane; the last partial vector of a row is read and written masked.
#pragma once
#include "isa/activation.h"
#include "isa/kernels.h"
#include "isa/simd.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace norm {

typedef double vd __attribute__((vector_size(W * sizeof(double))));
// By reference: a double vector twice the float width is wider than the table's registers (an ABI
// change GCC warns about when passed by value).
inline void add_wide(vd& acc, vf v) { acc += __builtin_convertvector(v, vd); }
inline double hsum_wide(const vd& v) {
  double s = 0.0;
  for (int i = 0; i < W; ++i) s += v[i];
  return s;
}

// Sum over the channel's values of term(offset, count), a vector of the `count` values from offset
// (lanes beyond count are dropped). Four accumulators per row: a quarter of the dependency chain
// (one chain ran at the FMA latency, not its throughput), and the same order every call.
template <typename Term>
inline double channel_sum(int64_t N, int64_t stride, int64_t n, Term term) {
  const int64_t body = n / W * W, rest = n - body;
  const vi tail = lane_iota(1, 0) < static_cast<int32_t>(rest);
  vd acc = vd{};
  for (int64_t r = 0; r < N; ++r) {
    const int64_t o = r * stride;
    vf a0 = vf{}, a1 = vf{}, a2 = vf{}, a3 = vf{};
    int64_t i = 0;
    for (; i + 4 * W <= body; i += 4 * W) {
      a0 += term(o + i, W);
      a1 += term(o + i + W, W);
      a2 += term(o + i + 2 * W, W);
      a3 += term(o + i + 3 * W, W);
    }
    for (; i < body; i += W) a0 += term(o + i, W);
    if (rest) a1 += tail ? term(o + body, rest) : vf{};
    add_wide(acc, (a0 + a1) + (a2 + a3));
  }
  return hsum_wide(acc);
}

// Each vector of the channel, out(offset, count, value) writing the `count` values of value(offset, count).
template <typename Value>
inline void channel_map(int64_t N, int64_t stride, int64_t n, float* out, Value value) {
  const int64_t body = n / W * W, rest = n - body;
  for (int64_t r = 0; r < N; ++r) {
    const int64_t o = r * stride;
    for (int64_t i = 0; i < body; i += W) store(out + o + i, value(o + i, W));
    if (rest) store_n(out + o + body, value(o + body, rest), rest);
  }
}

}  // namespace norm

// x: the channel -> the sum of x and of (x - mean)^2 (each skipped when null)
inline void bn_channel_stats(const float* x, int64_t N, int64_t stride, int64_t n, float mean, double* sum,
                             double* sq) {
  if (sum) *sum = norm::channel_sum(N, stride, n, [&](int64_t o, int64_t c) { return load_n(x + o, c); });
  if (sq) {
    const vf m = broadcast(mean);
    *sq = norm::channel_sum(N, stride, n, [&](int64_t o, int64_t c) {
      const vf d = load_n(x + o, c) - m;
      return d * d;
    });
  }
}

// x, r (or null): the channel -> y = xhat * gamma + beta (+ r), then with `relu` v < 0 ? 0 : min(v, clip)
// (ReLU with clip +inf, ReLU6 with clip 6; NaN passes, as in PyTorch), xhat = (x - mean) * invstd
inline void bn_channel_apply(const float* x, const float* r, int64_t N, int64_t stride, int64_t n, const BnChannel& ch,
                             bool relu, float* y) {
  const vf m = broadcast(ch.mean), is = broadcast(ch.invstd), ga = broadcast(ch.gamma), be = broadcast(ch.beta);
  const vf hi = broadcast(ch.clip);
  norm::channel_map(N, stride, n, y, [&](int64_t o, int64_t c) {
    vf v = (load_n(x + o, c) - m) * is * ga + be;
    if (r) v = v + load_n(r + o, c);  // after the affine step, rounded as a separate add
    if (relu && ch.hardswish) return act::vhardswish(v);
    return relu ? (vf{} > v ? vf{} : (v > hi ? hi : v)) : v;
  });
}

// Where a fused ReLU (not v <= 0) or ReLU6 (not v <= 0 or v >= 6, as PyTorch's hardtanh) passes its
// gradient: NaN passes, as in PyTorch.
inline vi passes(vf v, const BnChannel& ch) {
  return ~(ch.clip < __builtin_inff() ? (v <= vf{}) | (v >= broadcast(ch.clip)) : v <= vf{});
}

// g through the fused activation at its input v (the normalised value): masked by ReLU / ReLU6, or
// times hardswish's derivative (0 below -3, v / 3 + 1/2 up to 3, 1 above and at NaN), as the
// standalone ops compute them.
inline vf activation_grad(vf g, vf v, const BnChannel& ch) {
  return ch.hardswish ? act::vhardswish_grad(g, v) : (passes(v, ch) ? g : vf{});
}

// The backward recomputes xhat from x (the forward keeps x, not a second tensor of xhat): h is the
// same expression as in bn_channel_apply, so the ReLU mask matches the forward's output bit for bit.

// g, x: the channel -> sums of g' and of g' * xhat, g' = g where the fused ReLU passed (`passes` of
// xhat * gamma + beta), else 0; or, given y (a residual join's output), g' = g where y passes, also
// written to gy_out (the gradient the join passes on)
inline void bn_channel_grad_sums(const float* g, const float* x, const float* y, int64_t N, int64_t stride, int64_t n,
                                 const BnChannel& ch, bool relu, double* sb, double* sg, float* gy_out) {
  const vf m = broadcast(ch.mean), is = broadcast(ch.invstd), ga = broadcast(ch.gamma), be = broadcast(ch.beta);
  const int64_t body = n / W * W, rest = n - body;
  norm::vd b = norm::vd{}, s = norm::vd{};
  for (int64_t r = 0; r < N; ++r) {
    const int64_t o = r * stride;
    // Four accumulator pairs (vectors i mod 4): a quarter of the dependency chain of one pair.
    vf bs[4] = {vf{}, vf{}, vf{}, vf{}}, ss[4] = {vf{}, vf{}, vf{}, vf{}};
    const auto add = [&](int64_t i, int64_t count, int lane) {
      const vf hv = (load_n(x + i, count) - m) * is;
      vf gv = load_n(g + i, count);
      if (relu) gv = activation_grad(gv, hv * ga + be, ch);
      if (y) {
        gv = passes(load_n(y + i, count), ch) ? gv : vf{};
        store_n(gy_out + i, gv, count);
      }
      bs[lane] += gv;
      ss[lane] += gv * hv;
    };
    int64_t i = 0;
    for (; i + 4 * W <= body; i += 4 * W)
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) add(o + i + k * W, W, k);
    for (; i < body; i += W) add(o + i, W, 0);
    // The lanes beyond rest add 0: g' is 0 there, and xhat finite (or the channel's sums are NaN anyway).
    if (rest) add(o + body, rest, 1);
    norm::add_wide(b, (bs[0] + bs[1]) + (bs[2] + bs[3]));
    norm::add_wide(s, (ss[0] + ss[1]) + (ss[2] + ss[3]));
  }
  *sb = norm::hsum_wide(b);
  *sg = norm::hsum_wide(s);
}

// g, x: the channel -> dx = k * (M * g' - mb - xhat * mg) in training, k * g' in evaluation (g' as above)
inline void bn_channel_grad_input(const float* g, const float* x, int64_t N, int64_t stride, int64_t n,
                                  const BnChannel& ch, bool relu, bool training, float k, float M, float mb, float mg,
                                  float* dx) {
  const vf m = broadcast(ch.mean), is = broadcast(ch.invstd), ga = broadcast(ch.gamma), be = broadcast(ch.beta);
  const vf kv = broadcast(k), Mv = broadcast(M), mbv = broadcast(mb), mgv = broadcast(mg);
  norm::channel_map(N, stride, n, dx, [&](int64_t o, int64_t c) {
    const vf hv = (load_n(x + o, c) - m) * is;
    vf gv = load_n(g + o, c);
    if (relu) gv = activation_grad(gv, hv * ga + be, ch);
    return training ? kv * (Mv * gv - mbv - hv * mgv) : kv * gv;
  });
}

}  // namespace dlf::DLF_ISA_NS
