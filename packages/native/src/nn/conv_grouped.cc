#include "nn/conv_grouped.h"

#include <cstring>

#include "nn/conv_fast.h"
#include "nn/conv_wino.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

// The geometry of one group as a convolution of its own.
ConvGeom one_group(const ConvGeom& g) {
  Conv2dParams p = g.p;
  p.groups = 1;
  return geometry({g.N, g.Cg, g.H, g.W}, {g.Kg, g.Cg, g.R, g.S}, p);
}

ConvFastShape fast_shape(const ConvGeom& g) { return ConvFastShape{g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.p}; }

// all: (N, channels, plane), part: (N, count, plane) holding channels [first, first + count) of all.
// `to_part` copies all's channels into part, else part's into all.
void copy_channels(bool to_part, int64_t N, int64_t channels, int64_t first, int64_t count, int64_t plane,
                   const float* src, float* dst) {
  const int64_t run = count * plane;
  parallel_for(N, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const int64_t at_all = (n * channels + first) * plane, at_part = n * run;
      if (to_part) {
        std::memcpy(dst + at_part, src + at_all, static_cast<size_t>(run) * sizeof(float));
      } else {
        std::memcpy(dst + at_all, src + at_part, static_cast<size_t>(run) * sizeof(float));
      }
    }
  });
}

}  // namespace

bool conv_grouped_applies(const ConvGeom& g) {
  // 1x1 layers: the GEMM path already runs one GEMM a group, with no im2col.
  if (g.G <= 1 || g.Cg * g.G != g.C || g.Kg * g.G != g.K || g.R * g.S == 1) return false;
  const ConvGeom g1 = one_group(g);
  return conv_wino_applies(g1) || conv_fast_applies(fast_shape(g1));
}

void conv_grouped_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu) {
  const ConvGeom g1 = one_group(g);
  const bool wino = conv_wino_applies(g1);
  const int64_t xplane = g.H * g.W, yplane = g.pq(), per = g.Kg * g.Cg * g.R * g.S;
  auto xg = empty({g.N * g.Cg * xplane});
  auto yg = empty({g.N * g.Kg * yplane});
  for (int64_t grp = 0; grp < g.G; ++grp) {
    copy_channels(true, g.N, g.C, grp * g.Cg, g.Cg, xplane, x, xg->f32());
    const float* wg = w + grp * per;
    const float* bg = b ? b + grp * g.Kg : nullptr;
    if (wino) {
      conv_wino_forward(g1, xg->f32(), wg, bg, nullptr, yg->f32(), relu);
    } else {
      conv_fast_forward(fast_shape(g1), xg->f32(), wg, bg, yg->f32(), relu, nullptr);
    }
    copy_channels(false, g.N, g.K, grp * g.Kg, g.Kg, yplane, yg->f32(), y);
  }
}

void conv_grouped_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* dx, float* dw) {
  const ConvGeom g1 = one_group(g);
  const bool wino = conv_wino_applies(g1);
  const int64_t xplane = g.H * g.W, yplane = g.pq(), per = g.Kg * g.Cg * g.R * g.S;
  auto xg = dw ? empty({g.N * g.Cg * xplane}) : nullptr;  // only the weight gradient reads x
  auto gyg = empty({g.N * g.Kg * yplane});
  auto dxg = dx ? empty({g.N * g.Cg * xplane}) : nullptr;
  for (int64_t grp = 0; grp < g.G; ++grp) {
    if (xg) copy_channels(true, g.N, g.C, grp * g.Cg, g.Cg, xplane, x, xg->f32());
    copy_channels(true, g.N, g.K, grp * g.Kg, g.Kg, yplane, gy, gyg->f32());
    const float* xp = xg ? xg->f32() : nullptr;
    const float* wg = w + grp * per;
    float* dwg = dw ? dw + grp * per : nullptr;
    float* dxp = dxg ? dxg->f32() : nullptr;
    if (wino) {
      conv_wino_backward(g1, xp, wg, gyg->f32(), dxp, dwg);
    } else {
      ConvGradSource src;
      src.gy = gyg->f32();
      conv_fast_backward(fast_shape(g1), xp, wg, src, dxp, dwg, nullptr);
    }
    if (dxg) copy_channels(false, g.N, g.C, grp * g.Cg, g.Cg, xplane, dxg->f32(), dx);
  }
}

}  // namespace dlf
