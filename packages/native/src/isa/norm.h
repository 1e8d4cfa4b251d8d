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

// The sum of one row's term(offset, count) vectors (lanes beyond count dropped), offsets o..o+n.
// Four accumulators: a quarter of the dependency chain (one chain ran at the FMA latency, not its
// throughput), and the same order every call.
template <typename Term>
inline vf row_sum(int64_t o, int64_t n, const vi& tail, Term term) {
  const int64_t body = n / W * W, rest = n - body;
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
  return (a0 + a1) + (a2 + a3);
}
inline vi tail_lanes(int64_t n) { return lane_iota(1, 0) < static_cast<int32_t>(n % W); }

// Sum over the channel's values of term(offset, count): row sums added in double, rows in order.
template <typename Term>
inline double channel_sum(int64_t N, int64_t stride, int64_t n, Term term) {
  const vi tail = tail_lanes(n);
  vd acc = vd{};
  for (int64_t r = 0; r < N; ++r) add_wide(acc, row_sum(r * stride, n, tail, term));
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
// One row of bn_channel_grad_sums, from offset o: rb, rs = the row's vectors of g' and g' * xhat.
inline void bn_row_grad_sums(const float* g, const float* x, const float* y, float* gy_out, int64_t o, int64_t n,
                             const BnChannel& ch, bool relu, vf& rb, vf& rs) {
  const vf m = broadcast(ch.mean), is = broadcast(ch.invstd), ga = broadcast(ch.gamma), be = broadcast(ch.beta);
  const int64_t body = n / W * W, rest = n - body;
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
  rb = (bs[0] + bs[1]) + (bs[2] + bs[3]);
  rs = (ss[0] + ss[1]) + (ss[2] + ss[3]);
}

inline void bn_channel_grad_sums(const float* g, const float* x, const float* y, int64_t N, int64_t stride, int64_t n,
                                 const BnChannel& ch, bool relu, double* sb, double* sg, float* gy_out) {
  norm::vd b = norm::vd{}, s = norm::vd{};
  for (int64_t r = 0; r < N; ++r) {
    vf rb, rs;
    bn_row_grad_sums(g, x, y, gy_out, r * stride, n, ch, relu, rb, rs);
    norm::add_wide(b, rb);
    norm::add_wide(s, rs);
  }
  *sb = norm::hsum_wide(b);
  *sg = norm::hsum_wide(s);
}

// bn_channel_grad_sums (no residual join) with g's rows g_stride floats apart and x's x_stride: the
// gradient rows come from a scratch of their own (nn/bn_depthwise.cc), with the same arithmetic.
inline void bn_planes_grad_sums(const float* g, int64_t g_stride, const float* x, int64_t x_stride, int64_t N,
                                int64_t n, const BnChannel& ch, bool relu, double* sb, double* sg) {
  norm::vd b = norm::vd{}, s = norm::vd{};
  for (int64_t r = 0; r < N; ++r) {
    vf rb, rs;
    bn_row_grad_sums(g + r * g_stride, x + r * x_stride, nullptr, nullptr, 0, n, ch, relu, rb, rs);
    norm::add_wide(b, rb);
    norm::add_wide(s, rs);
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

// Channels side by side, for planes of a few lines (4x4, 8x8): a channel's rows, one line each a whole
// image apart, left the prefetchers nothing to follow (4x4 planes ran at a third of 16x16's speed).
// The kernels below take nch <= kBnBlockChannels channels at once (channel j at offset j * n of each
// row block, N row blocks `stride` apart) and visit the rows image by image, in memory order; each
// channel's rows are still added in image order with the same arithmetic as the one-channel
// kernels above, so both give the same bits.

// sums[j] = the sum of channel j's x (mean null) or of (x - mean[j])^2
inline void bn_block_stats(const float* x, int64_t N, int64_t stride, int64_t n, int64_t nch, const float* mean,
                           double* sums) {
  norm::vd acc[kBnBlockChannels];
  for (int64_t j = 0; j < nch; ++j) acc[j] = norm::vd{};
  const vi tail = norm::tail_lanes(n);
  for (int64_t r = 0; r < N; ++r)
    for (int64_t j = 0; j < nch; ++j) {
      const float* xc = x + j * n;
      if (!mean) {
        norm::add_wide(acc[j], norm::row_sum(r * stride, n, tail, [&](int64_t o, int64_t c) { return load_n(xc + o, c); }));
        continue;
      }
      const vf m = broadcast(mean[j]);
      norm::add_wide(acc[j], norm::row_sum(r * stride, n, tail, [&](int64_t o, int64_t c) {
                       const vf d = load_n(xc + o, c) - m;
                       return d * d;
                     }));
    }
  for (int64_t j = 0; j < nch; ++j) sums[j] = norm::hsum_wide(acc[j]);
}

// y = bn_channel_apply's values for each channel j of the block (chs[j]), r (or null) added
inline void bn_block_apply(const float* x, const float* r, int64_t N, int64_t stride, int64_t n, int64_t nch,
                           const BnChannel* chs, bool relu, float* y) {
  for (int64_t row = 0; row < N; ++row)
    for (int64_t j = 0; j < nch; ++j) {
      const int64_t o = row * stride + j * n;
      bn_channel_apply(x + o, r ? r + o : nullptr, 1, n, n, chs[j], relu, y + o);
    }
}

// sb[j], sg[j] = bn_channel_grad_sums of channel j (no residual join)
inline void bn_block_grad_sums(const float* g, const float* x, int64_t N, int64_t stride, int64_t n, int64_t nch,
                               const BnChannel* chs, bool relu, double* sb, double* sg) {
  norm::vd b[kBnBlockChannels], s[kBnBlockChannels];
  for (int64_t j = 0; j < nch; ++j) b[j] = s[j] = norm::vd{};
  for (int64_t r = 0; r < N; ++r)
    for (int64_t j = 0; j < nch; ++j) {
      vf rb, rs;
      bn_row_grad_sums(g + j * n, x + j * n, nullptr, nullptr, r * stride, n, chs[j], relu, rb, rs);
      norm::add_wide(b[j], rb);
      norm::add_wide(s[j], rs);
    }
  for (int64_t j = 0; j < nch; ++j) {
    sb[j] = norm::hsum_wide(b[j]);
    sg[j] = norm::hsum_wide(s[j]);
  }
}

// dx = bn_channel_grad_input's values for each channel j (k, mb, mg per channel)
inline void bn_block_grad_input(const float* g, const float* x, int64_t N, int64_t stride, int64_t n, int64_t nch,
                                const BnChannel* chs, bool relu, bool training, const float* k, float M,
                                const float* mb, const float* mg, float* dx) {
  for (int64_t row = 0; row < N; ++row)
    for (int64_t j = 0; j < nch; ++j) {
      const int64_t o = row * stride + j * n;
      bn_channel_grad_input(g + o, x + o, 1, n, n, chs[j], relu, training, k[j], M, mb[j], mg[j], dx + o);
    }
}

}  // namespace dlf::DLF_ISA_NS
