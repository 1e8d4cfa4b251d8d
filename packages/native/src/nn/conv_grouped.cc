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

// n runs of `run` floats, src_step and dst_step floats apart: a group's channels out of every image
// into a contiguous buffer, or back.
void copy_runs(const float* src, int64_t src_step, float* dst, int64_t dst_step, int64_t n, int64_t run) {
  parallel_for(n, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      std::memcpy(dst + i * dst_step, src + i * src_step, static_cast<size_t>(run) * sizeof(float));
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
  const int64_t xrun = g.Cg * xplane, yrun = g.Kg * yplane;  // a group's channels of one image
  auto xg = empty({g.N * xrun});
  auto yg = empty({g.N * yrun});
  for (int64_t grp = 0; grp < g.G; ++grp) {
    copy_runs(x + grp * xrun, g.C * xplane, xg->f32(), xrun, g.N, xrun);
    const float* wg = w + grp * per;
    const float* bg = b ? b + grp * g.Kg : nullptr;
    if (wino) {
      conv_wino_forward(g1, xg->f32(), wg, bg, nullptr, yg->f32(), relu);
    } else {
      conv_fast_forward(fast_shape(g1), xg->f32(), wg, bg, yg->f32(), relu, nullptr);
    }
    copy_runs(yg->f32(), yrun, y + grp * yrun, g.K * yplane, g.N, yrun);
  }
}

void conv_grouped_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* dx, float* dw) {
  const ConvGeom g1 = one_group(g);
  const bool wino = conv_wino_applies(g1);
  const int64_t xplane = g.H * g.W, yplane = g.pq(), per = g.Kg * g.Cg * g.R * g.S;
  const int64_t xrun = g.Cg * xplane, yrun = g.Kg * yplane;  // a group's channels of one image
  auto xg = dw ? empty({g.N * xrun}) : nullptr;  // only the weight gradient reads x
  auto gyg = empty({g.N * yrun});
  auto dxg = dx ? empty({g.N * xrun}) : nullptr;
  for (int64_t grp = 0; grp < g.G; ++grp) {
    if (xg) copy_runs(x + grp * xrun, g.C * xplane, xg->f32(), xrun, g.N, xrun);
    copy_runs(gy + grp * yrun, g.K * yplane, gyg->f32(), yrun, g.N, yrun);
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
    if (dxg) copy_runs(dxg->f32(), xrun, dx + grp * xrun, g.C * xplane, g.N, xrun);
  }
}

}  // namespace dlf
