#include "nn/conv_kvec.h"

#include <algorithm>

#include "nn/conv_padded.h"
#include "nn/conv_scratch.h"
#include "runtime/env_state.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

// Wider layers on planes narrower than a vector re-read their padded input from L2 for every
// block of output channels: 64 -> 128 channels on 8x8 outputs ran at 45% of peak here against 56%
// through im2col + GEMM, while 32 -> 64 on 8x8 and every layer with rows of 16 outputs or more ran
// faster here (batch 64, 1 thread).
constexpr int64_t kMaxNarrowChannels = 32;
constexpr int64_t kMaxTaps = 64;

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

// w: (K, Cg, R, S) -> (G, ceil(Kg/vw), Cg, R, S, vw), zero past Kg in each group.
TensorPtr pack_weights(const ConvGeom& g, const float* w, int64_t vw) {
  const int64_t taps = g.R * g.S, kp = round_up(g.Kg, vw), per = kp * g.Cg * taps;
  auto wp = zeros({g.G * per});
  float* out = wp->f32();
  for (int64_t grp = 0; grp < g.G; ++grp)
    for (int64_t k = 0; k < g.Kg; ++k)
      for (int64_t c = 0; c < g.Cg; ++c)
        for (int64_t t = 0; t < taps; ++t)
          out[grp * per + ((k / vw * g.Cg + c) * taps + t) * vw + k % vw] = w[((grp * g.Kg + k) * g.Cg + c) * taps + t];
  return wp;
}

}  // namespace

bool conv_kvec_applies(const ConvGeom& g) {
  if (!current_env().conv_fast_path) return false;
  const auto& p = g.p;
  if (p.dil_h != 1 || p.dil_w != 1 || std::max(p.stride_h, p.stride_w) < 2) return false;
  if (g.R * g.S > kMaxTaps || g.H >= (int64_t{1} << 24) || g.W >= (int64_t{1} << 24)) return false;
  // 1x1 layers: a tile's few products do not pay for its transpose (im2col + GEMM is ~2x faster)
  if (g.R * g.S == 1) return false;
  return g.Q >= kernels().vector_floats || g.Cg <= kMaxNarrowChannels;
}

void conv_kvec_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu) {
  const Kernels& kt = kernels();
  const int64_t vw = kt.vector_floats;
  const Padded pd = padded_geometry(g, vw);
  const KvecConv kg{g.Cg, g.Kg, g.R, g.S, g.p.stride_h, g.p.stride_w, pd.Hb, pd.Wb, g.P, g.Q};
  const int64_t per = round_up(g.Kg, vw) * g.Cg * g.R * g.S, plane = g.H * g.W;
  auto wp = pack_weights(g, w, vw);
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

}  // namespace dlf
