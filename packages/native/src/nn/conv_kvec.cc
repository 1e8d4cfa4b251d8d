#include "nn/conv_kvec.h"

#include <algorithm>

#include "nn/conv_padded.h"
#include "nn/conv_scratch.h"
#include "runtime/env_state.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

// A tile runs through every block of output channels while its input rows stay in L1, so all the
// weights pass through it: beyond this many (floats) they no longer stay in L2 and im2col + GEMM
// wins (256 -> 256 channels on 8x8 outputs, batch 64: 7% slower here; 128 -> 256: 5% faster).
constexpr int64_t kMaxWeights = int64_t{3} << 17;
constexpr int64_t kMaxTaps = 64;
// The weight gradient pads and transposes this many floats of images at a time, so that they are
// still in L2 when the sums read them. A fixed count per shape: the chunks, and so the order of
// the sums, do not depend on the thread count.
constexpr int64_t kWgradChunkFloats = int64_t{1} << 18;
// Kernel taps (rows of S) per weight-gradient work item, at least one tile's rows.
constexpr int64_t kWgradItemTaps = 36;

// The padded input buffer of one group: x at column xcol (a vector boundary: aligned copies) and
// row ph; the kernel reads from column xcol - pw, rows and columns of whole tiles.
struct Padded {
  int64_t xcol, Hb, Wb;
};

Padded padded_geometry(const ConvGeom& g, int64_t vw) {
  const int m = kvec_rows_per_tile(g.Q, static_cast<int>(vw));
  const int64_t qt = vw / m, rows = (g.P + m - 1) / m * m, cols = (g.Q + qt - 1) / qt * qt;
  Padded pd{};
  pd.xcol = round_up(g.p.pad_w, vw);
  const int64_t view = pd.xcol - g.p.pad_w;  // the kernel's column 0
  pd.Hb = std::max(g.H + g.p.pad_h, (rows - 1) * g.p.stride_h + g.R);
  pd.Wb = round_up(std::max(pd.xcol + g.W, view + (cols - 1) * g.p.stride_w + g.S), vw);
  return pd;
}

// w: (K, Cg, R, S) -> (G, ceil(Kg/vw), Cg, R, S, vw), lane = output channel, zero past Kg in each
// group; with `by_input`, (G, ceil(Cg/vw), Kg, R, S, vw), lane = input channel (the input gradient's).
TensorPtr pack_weights(const ConvGeom& g, const float* w, int64_t vw, bool by_input) {
  const int64_t taps = g.R * g.S, lanes = by_input ? g.Cg : g.Kg, rows = by_input ? g.Kg : g.Cg;
  const int64_t per = round_up(lanes, vw) * rows * taps;
  auto wp = zeros({g.G * per});
  float* out = wp->f32();
  for (int64_t grp = 0; grp < g.G; ++grp)
    for (int64_t k = 0; k < g.Kg; ++k)
      for (int64_t c = 0; c < g.Cg; ++c) {
        const int64_t l = by_input ? c : k, row = by_input ? k : c;
        for (int64_t t = 0; t < taps; ++t)
          out[grp * per + ((l / vw * rows + row) * taps + t) * vw + l % vw] = w[((grp * g.Kg + k) * g.Cg + c) * taps + t];
      }
  return wp;
}

bool strided_undilated(const ConvGeom& g) {
  const auto& p = g.p;
  return current_env().conv_fast_path && p.dil_h == 1 && p.dil_w == 1 && std::max(p.stride_h, p.stride_w) >= 2 &&
         g.H < (int64_t{1} << 24) && g.W < (int64_t{1} << 24);
}

}  // namespace

bool conv_kvec_applies(const ConvGeom& g) {
  if (!strided_undilated(g) || g.R * g.S > kMaxTaps) return false;
  // 1x1 layers: a tile's few products do not pay for its transpose (im2col + GEMM is ~2x faster)
  if (g.R * g.S == 1) return false;
  return g.Kg * g.Cg * g.R * g.S <= kMaxWeights;
}

void conv_kvec_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu) {
  const Kernels& kt = kernels();
  const int64_t vw = kt.vector_floats;
  const Padded pd = padded_geometry(g, vw);
  const KvecConv kg{g.Cg, g.Kg, g.R, g.S, g.p.stride_h, g.p.stride_w, pd.Hb, pd.Wb, g.P, g.Q};
  const int64_t per = round_up(g.Kg, vw) * g.Cg * g.R * g.S, plane = g.H * g.W;
  auto wp = pack_weights(g, w, vw, false);
  parallel_chunks(static_cast<int>(g.N), [&](int n, int) {
    const Scratch xs = padded_scratch({2, g.Cg, g.H, g.W, g.p.pad_h, pd.xcol, pd.Hb, pd.Wb});
    for (int64_t grp = 0; grp < g.G; ++grp) {
      kt.conv_pad(x + (n * g.C + grp * g.Cg) * plane, nullptr, nullptr, g.Cg, g.H, g.W, g.p.pad_h, pd.xcol, pd.Hb,
                  pd.Wb, xs.data, nullptr);
      kt.kvec_forward(kg, xs.data + pd.xcol - g.p.pad_w, wp->f32() + grp * per, b ? b + grp * g.Kg : nullptr, relu,
                      y + (n * g.K + grp * g.Kg) * g.pq());
    }
  });
}

// Input rows of at most half a vector (8x8 inputs on AVX-512) left most of the input gradient's
// phase-tile lanes idle and ran up to 1.4x slower than im2col + GEMM (128 -> 256 channels, batch
// 64). Wider rows than that win here, gradients of both kinds: 32 -> 64 channels on 14x14 inputs,
// batch 64, input gradient 1.50 -> 1.21 ms, weight gradient the same; 16 -> 32, 0.57 -> 0.47 and
// 0.59 -> 0.41 (forward + gradient, in-process interleaved minima).
bool conv_kvec_wgrad_applies(const ConvGeom& g) {
  return strided_undilated(g) && g.S >= 2 && g.S <= 8 && g.R * g.S <= kMaxTaps &&
         2 * g.W > kernels().vector_floats;
}

void conv_kvec_backward_weights(const ConvGeom& g, const float* x, const float* gy, float* dw) {
  const Kernels& kt = kernels();
  const int64_t vw = kt.vector_floats, kp = round_up(g.Kg, vw), pq = g.pq(), taps = g.R * g.S;
  const Padded pd = padded_geometry(g, vw);
  const KvecConv kg{g.Cg, g.Kg, g.R, g.S, g.p.stride_h, g.p.stride_w, pd.Hb, pd.Wb, g.P, g.Q};
  const int64_t xs = g.Cg * pd.Hb * pd.Wb, gs = pq * kp, view = pd.xcol - g.p.pad_w;
  // Images in groups of about kWgradChunkFloats, evened out (a count per shape, never per thread).
  const int64_t most = std::clamp<int64_t>(kWgradChunkFloats / (xs + gs), 1, g.N);
  const int64_t groups = (g.N + most - 1) / most, chunk = (g.N + groups - 1) / groups;
  const int64_t wsize = kp * g.Cg * taps;
  auto partial = empty({groups * wsize});  // each group's sums, added in group order below
  // Work items: an output-channel block by a run of kernel rows (row c * R + r), whole tiles of rows
  const int64_t tile_rows = kvec_wgrad_rows_per_tile(g.S, static_cast<int>(vw));
  const int64_t item_rows = tile_rows * std::max<int64_t>(1, kWgradItemTaps / (tile_rows * g.S));
  const int64_t rows = g.Cg * g.R, ritems = (rows + item_rows - 1) / item_rows, items = kp / vw * ritems;
  for (int64_t grp = 0; grp < g.G; ++grp) {
    // One group of images: padded and transposed into the calling thread's buffers, then summed into
    // its partial, so that the sums read what this core has just written (in its L2). With one group
    // the images and the items are shared out among the threads instead.
    const auto sum_group = [&](int64_t b, bool share) {
      const int64_t n0 = b * chunk, count = std::min(chunk, g.N - n0);
      const Scratch xbuf = padded_scratch({4, chunk * g.Cg, g.H, g.W, g.p.pad_h, pd.xcol, pd.Hb, pd.Wb});
      float* gbuf = thread_scratch(0, chunk * gs);
      const auto prepare = [&](int i) {
        const int64_t n = n0 + i;
        kt.conv_pad(x + (n * g.C + grp * g.Cg) * g.H * g.W, nullptr, nullptr, g.Cg, g.H, g.W, g.p.pad_h, pd.xcol,
                    pd.Hb, pd.Wb, xbuf.data + i * xs, nullptr);
        kt.kvec_transpose(gy + (n * g.K + grp * g.Kg) * pq, g.Kg, pq, gbuf + i * gs);
      };
      const auto sum_items = [&](int64_t i0, int64_t i1) {
        for (int64_t it = i0; it < i1; ++it) {
          const int64_t k0 = it / ritems * vw, r0 = it % ritems * item_rows;
          kt.kvec_wgrad(kg, xbuf.data + view, xs, gbuf, gs, count, k0, r0, std::min(rows, r0 + item_rows), false,
                        partial->f32() + b * wsize);
        }
      };
      if (!share) {
        for (int i = 0; i < count; ++i) prepare(i);
        sum_items(0, items);
        return;
      }
      parallel_chunks(static_cast<int>(count), [&](int i, int) { prepare(i); });
      parallel_for(items, 1, sum_items);
    };
    if (groups == 1) {
      sum_group(0, true);
    } else {
      parallel_chunks(static_cast<int>(groups), [&](int b, int) { sum_group(b, false); });
    }
    float* pv = partial->f32();
    add_parts_in_order(pv, wsize, groups);
    // pv: (kp/vw, Cg, R, S, vw) -> dw: (Kg, Cg, R, S) of this group
    float* out = dw + grp * g.Kg * g.Cg * taps;
    for (int64_t k = 0; k < g.Kg; ++k)
      for (int64_t ct = 0; ct < g.Cg * taps; ++ct)
        out[k * g.Cg * taps + ct] = pv[(k / vw * g.Cg * taps + ct) * vw + k % vw];
  }
}

// Wide layers on rows narrower than a vector keep im2col + GEMM for the input gradient: 128 -> 256
// channels on 14x14 and 10x10 inputs ran 7-14% slower here.
bool conv_kvec_dgrad_applies(const ConvGeom& g) {
  return conv_kvec_wgrad_applies(g) && g.R == 3 && g.S == 3 && g.p.stride_h == 2 && g.p.stride_w == 2 &&
         (g.W >= kernels().vector_floats || g.Cg * g.Kg <= 64 * 64);
}

void conv_kvec_backward_data(const ConvGeom& g, const float* w, const float* gy, float* dx) {
  const Kernels& kt = kernels();
  const int64_t vw = kt.vector_floats, cp = round_up(g.Cg, vw), pq = g.pq();
  // gy at (1, 1) of a zero-padded buffer covering every phase row and column a tile reads (tiles
  // of 2 * vw input columns: phase columns up to (last x0 + pw) / 2 + vw)
  const int64_t last_x0 = (g.W - 1) / (2 * vw) * (2 * vw);
  const int64_t Pg = std::max(g.P + 1, (g.H + g.p.pad_h) / 2 + 3);
  const int64_t Qg = std::max(g.Q + 1, (last_x0 + g.p.pad_w) / 2 + vw + 2);
  const KvecDgrad d{g.Cg, g.Kg, g.H, g.W, g.p.pad_h, g.p.pad_w, Pg, Qg};
  const int64_t per = cp * g.Kg * 9;
  auto wT = pack_weights(g, w, vw, true);
  parallel_chunks(static_cast<int>(g.N), [&](int n, int) {
    const Scratch gs = padded_scratch({3, g.Kg, g.P, g.Q, 1, 1, Pg, Qg});
    for (int64_t grp = 0; grp < g.G; ++grp) {
      kt.conv_pad(gy + (n * g.K + grp * g.Kg) * pq, nullptr, nullptr, g.Kg, g.P, g.Q, 1, 1, Pg, Qg, gs.data, nullptr);
      kt.kvec_dgrad3s2(d, gs.data, wT->f32() + grp * per, dx + (n * g.C + grp * g.Cg) * g.H * g.W);
    }
  });
}

}  // namespace dlf
