#include "nn/conv_depthwise.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "nn/conv_fast.h"
#include "nn/conv_scratch.h"
#include "runtime/env_state.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

DwPlane plane_geometry(const ConvDwShape& s, int64_t vw) {
  const Conv2dParams& p = s.p;
  DwPlane g{};
  g.H = s.H;
  g.W = s.W;
  g.R = s.R;
  g.S = s.S;
  g.sh = p.stride_h;
  g.sw = p.stride_w;
  g.ph = p.pad_h;
  g.pw = p.pad_w;
  g.dh = p.dil_h;
  g.dw = p.dil_w;
  g.P = conv_output_size(s.H, p.pad_h, p.dil_h, s.R, p.stride_h);
  g.Q = conv_output_size(s.W, p.pad_w, p.dil_w, s.S, p.stride_w);
  // Every row a tap reads, and every input row, has a place; likewise columns (+ whole vectors).
  g.Hp = std::max((g.P - 1) * g.sh + (g.R - 1) * g.dh + 1, s.H + g.ph);
  const int64_t cols = std::max(round_up(g.Q, vw) + (g.S - 1) * g.dw / g.sw, (s.W + g.pw + g.sw - 1) / g.sw);
  g.Wph = round_up(cols, vw) + vw;
  return g;
}

int64_t phase_floats(const DwPlane& g) { return g.sw * g.Hp * g.Wph; }

void clear_phases(const DwPlane& g, float* buf) {
  std::memset(buf, 0, sizeof(float) * static_cast<size_t>(phase_floats(g)));
}

// x plane (H,W) -> buf (phase layout). Every call of one geometry writes the same places, so the zeros
// around them stay from one clear_phases per buffer (a clear per plane cost ~10% of a forward).
// Stride 2: input column w sits at padded column w + pw = 2j + f, so the even columns go to phase
// f = pw % 2 from j = pw / 2 on, the odd ones to the other phase from j = (pw + 1) / 2 on.
struct TwoPhases {
  int64_t even_phase, even_first, odd_phase, odd_first;
};
TwoPhases two_phases(const DwPlane& g) { return {g.pw % 2, g.pw / 2, (g.pw + 1) % 2, (g.pw + 1) / 2}; }

void pack_phases(const DwPlane& g, const float* x, float* buf) {
  if (g.sw == 1) {  // one phase: rows are plain copies (the strided loop below cost most of a forward)
    kernels().copy_rows(x, g.W, g.H, g.W, g.W, buf + g.ph * g.Wph + g.pw, g.Wph);
    return;
  }
  if (g.sw == 2) {  // split by shuffles (the strided loop below was ~6x the layer's own arithmetic)
    const TwoPhases tp = two_phases(g);
    const Kernels& kt = kernels();
    for (int64_t h = 0; h < g.H; ++h)
      kt.deinterleave2(x + h * g.W, g.W, buf + (tp.even_phase * g.Hp + h + g.ph) * g.Wph + tp.even_first,
                       buf + (tp.odd_phase * g.Hp + h + g.ph) * g.Wph + tp.odd_first);
    return;
  }
  for (int64_t h = 0; h < g.H; ++h) {
    const float* xr = x + h * g.W;
    for (int64_t f = 0; f < g.sw; ++f) {
      float* row = buf + (f * g.Hp + h + g.ph) * g.Wph;
      // column w sits at padded column w + pw = j * sw + f (no division per element: it costs ~10x)
      const int64_t w0 = ((f - g.pw) % g.sw + g.sw) % g.sw;
      float* out = row + (w0 + g.pw) / g.sw;
      for (int64_t w = w0, j = 0; w < g.W; w += g.sw, ++j) out[j] = xr[w];
    }
  }
}

// buf (phase layout) -> dx plane (H,W): the inverse of pack_phases' placement.
void unpack_phases(const DwPlane& g, const float* buf, float* dx) {
  if (g.sw == 1) {
    kernels().copy_rows(buf + g.ph * g.Wph + g.pw, g.Wph, g.H, g.W, g.W, dx, g.W);
    return;
  }
  if (g.sw == 2) {
    const TwoPhases tp = two_phases(g);
    const Kernels& kt = kernels();
    for (int64_t h = 0; h < g.H; ++h)
      kt.interleave2(buf + (tp.even_phase * g.Hp + h + g.ph) * g.Wph + tp.even_first,
                     buf + (tp.odd_phase * g.Hp + h + g.ph) * g.Wph + tp.odd_first, g.W, dx + h * g.W);
    return;
  }
  for (int64_t h = 0; h < g.H; ++h) {
    float* dr = dx + h * g.W;
    for (int64_t f = 0; f < g.sw; ++f) {
      const int64_t w0 = ((f - g.pw) % g.sw + g.sw) % g.sw;
      const float* in = buf + (f * g.Hp + h + g.ph) * g.Wph + (w0 + g.pw) / g.sw;
      for (int64_t w = w0, j = 0; w < g.W; w += g.sw, ++j) dr[w] = in[j];
    }
  }
}

// Channels in the lanes (isa/conv_dw_blocked.h), one output channel per input channel (the layers of
// depthwise-separable nets), when output rows fill at most half a vector, or less than one at a
// stride (whose plane kernels split and join column phases). The transposes in and out cost about
// what the products do, so fuller rows stay on the plane kernels (MobileNet layers, batch 64, one
// thread, forward + both gradients: 384 channels on 8x8 planes 8.0 -> 4.2 ms, 192 on 16x16 -> 8x8 at
// stride 2 7.1 -> 3.6 ms; 192 on 14x14 at stride 1 6.0 on the plane kernels, 6.3 here).
bool use_blocked(const ConvDwShape& s, const DwPlane& g, int64_t vw) {
  if (!conv_dw_blocked_enabled() || s.K != s.C) return false;
  return 2 * g.Q <= vw || (g.Q < vw && (g.sh > 1 || g.sw > 1));
}

DwBlocked blocked_geometry(const DwPlane& g) {
  return DwBlocked{g.H, g.W, g.P, g.Q, g.R, g.S, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.H + 2 * g.ph, g.W + 2 * g.pw};
}

// Every block's tap vectors, then its bias vector, laid out once per call in the calling thread's
// slot 3 (per image and block they cost ~20% of a 5x5 forward on 8x8 planes):
// wb[(cb * (taps + 1) + t) * vw + l] = w[(cb * vw + l) * taps + t], zero for channels from C on.
float* block_weights(const float* w, const float* b, int64_t C, int64_t taps, int64_t vw) {
  const int64_t blocks = (C + vw - 1) / vw;
  float* wb = thread_scratch(3, blocks * (taps + 1) * vw);
  for (int64_t cb = 0; cb < blocks; ++cb) {
    float* blk = wb + cb * (taps + 1) * vw;
    for (int64_t l = 0; l < vw; ++l) {
      const int64_t c = cb * vw + l;
      for (int64_t t = 0; t < taps; ++t) blk[t * vw + l] = c < C ? w[c * taps + t] : 0.f;
      blk[taps * vw + l] = b && c < C ? b[c] : 0.f;
    }
  }
  return wb;
}

// The (image, block) pairs [i0, i1) of the blocked forward, with wall from block_weights.
void blocked_forward_range(const ConvDwShape& s, const DwPlane& pg, const float* x, const float* wall, float* y,
                           bool relu, int64_t i0, int64_t i1) {
  const Kernels& kt = kernels();
  const int64_t vw = kt.vector_floats, blocks = (s.C + vw - 1) / vw, taps = s.R * s.S;
  const DwBlocked g = blocked_geometry(pg);
  const int64_t xplane = s.H * s.W, yplane = g.P * g.Q, padded = g.Hp * g.Wp * vw;
  float* xb = thread_scratch(0, padded);
  float* yb = thread_scratch(1, yplane * vw);
  std::fill(xb, xb + padded, 0.f);  // the border stays zero: every image writes the same pixels
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t n = i / blocks, cb = i % blocks, c0 = cb * vw, nch = std::min(vw, s.C - c0);
    const float* wb = wall + cb * (taps + 1) * vw;
    const float* bias = wb + taps * vw;
    kt.dwb_pack(x + (n * s.C + c0) * xplane, xplane, nch, s.H, s.W, xb, g.ph * g.Wp + g.pw, g.Wp);
    kt.dwb_forward(g, xb, wb, bias, relu, yb);
    kt.dwb_unpack(yb, 0, g.Q, nch, g.P, g.Q, y + (n * s.K + c0) * yplane, yplane);
  }
}

// The (image, input channel) planes [i0, i1) of the plane-kernel forward.
void plane_forward_range(const ConvDwShape& s, const DwPlane& g, const float* x, const float* w, const float* b,
                         float* y, bool relu, int64_t i0, int64_t i1) {
  const Kernels& kt = kernels();
  const int64_t mult = s.K / s.C, xplane = s.H * s.W, yplane = g.P * g.Q;
  float* buf = thread_scratch(0, phase_floats(g));
  clear_phases(g, buf);
  for (int64_t i = i0; i < i1; ++i) {
    pack_phases(g, x + i * xplane, buf);
    const int64_t c = i % s.C, n = i / s.C;
    for (int64_t m = 0; m < mult; ++m) {
      const int64_t k = c * mult + m;
      kt.conv_dw_forward(g, buf, w + k * s.R * s.S, b ? b[k] : 0.f, relu, y + (n * s.K + k) * yplane);
    }
  }
}

// The weight gradient takes one block of channels per task, all images in order: the same bits at
// any thread count. The input gradient (no sums across images) goes with it, or, when there are fewer
// blocks than threads, runs separately over (image, block) pairs.
void blocked_backward(const ConvDwShape& s, const DwPlane& pg, const float* x, const float* w, const float* gy,
                      float* dx, float* dw) {
  const Kernels& kt = kernels();
  const int64_t vw = kt.vector_floats, blocks = (s.C + vw - 1) / vw, taps = s.R * s.S;
  const DwBlocked g = blocked_geometry(pg);
  const int64_t xplane = s.H * s.W, yplane = g.P * g.Q, padded = g.Hp * g.Wp * vw;
  if (dx && dw && blocks < num_threads()) {
    blocked_backward(s, pg, x, w, gy, dx, nullptr);
    dx = nullptr;
  }
  const int64_t tasks = dw ? blocks : s.N * blocks;  // input gradient alone: (image, block) pairs
  const DwbGather gm = dwb_gather(g);
  const int64_t gy_margined = dx ? gm.rows * gm.cols * vw : 0;
  const float* wall = dx ? block_weights(w, nullptr, s.C, taps, vw) : nullptr;  // dw does not read them
  parallel_for(tasks, 1, [&](int64_t b0, int64_t b1) {
    float* xb = thread_scratch(0, padded);
    float* gyb = thread_scratch(1, yplane * vw);
    float* dwv = thread_scratch(2, taps * vw + xplane * vw + gy_margined);
    float* dxb = dwv + taps * vw;        // (H, W) pixels
    float* gym = dxb + xplane * vw;      // gy with margins, zero for every image
    if (dw) std::fill(xb, xb + padded, 0.f);
    if (dx) std::fill(gym, gym + gy_margined, 0.f);
    for (int64_t task = b0; task < b1; ++task) {
      const int64_t cb = dw ? task : task % blocks, c0 = cb * vw, nch = std::min(vw, s.C - c0);
      const int64_t n_first = dw ? 0 : task / blocks, n_end = dw ? s.N : n_first + 1;
      const float* wb = dx ? wall + cb * (taps + 1) * vw : nullptr;
      if (dw) std::fill(dwv, dwv + taps * vw, 0.f);
      for (int64_t n = n_first; n < n_end; ++n) {
        const float* gyn = gy + (n * s.K + c0) * yplane;
        // With both gradients, gy is packed once, with the input gradient's margins, and the weight
        // gradient reads it from there.
        if (dx) kt.dwb_pack(gyn, yplane, nch, g.P, g.Q, gym, gm.top * gm.cols + gm.left, gm.cols);
        if (dw) {
          if (!dx) kt.dwb_pack(gyn, yplane, nch, g.P, g.Q, gyb, 0, g.Q);
          kt.dwb_pack(x + (n * s.C + c0) * xplane, xplane, nch, s.H, s.W, xb, g.ph * g.Wp + g.pw, g.Wp);
          if (dx) {
            kt.dwb_wgrad(g, xb, gym + (gm.top * gm.cols + gm.left) * vw, gm.cols, dwv);
          } else {
            kt.dwb_wgrad(g, xb, gyb, g.Q, dwv);
          }
        }
        if (dx) {
          kt.dwb_dgrad(g, gm, gym, wb, dxb);
          kt.dwb_unpack(dxb, 0, s.W, nch, s.H, s.W, dx + (n * s.C + c0) * xplane, xplane);
        }
      }
      if (dw)
        for (int64_t l = 0; l < nch; ++l)
          for (int64_t t = 0; t < taps; ++t) dw[(c0 + l) * taps + t] = dwv[t * vw + l];
    }
  });
}

// The forward's tasks ((image, block) pairs or (image, channel) planes), given to run(tasks, fn),
// which calls fn(i0, i1) over ranges covering [0, tasks).
template <typename Run>
void forward_tasks(const ConvDwShape& s, const float* x, const float* w, const float* b, float* y, bool relu,
                   Run run) {
  const int64_t vw = kernels().vector_floats;
  const DwPlane g = plane_geometry(s, vw);
  if (use_blocked(s, g, vw)) {
    const float* wall = block_weights(w, b, s.C, s.R * s.S, vw);
    run(s.N * ((s.C + vw - 1) / vw), [&](int64_t i0, int64_t i1) { blocked_forward_range(s, g, x, wall, y, relu, i0, i1); });
    return;
  }
  run(s.N * s.C, [&](int64_t i0, int64_t i1) { plane_forward_range(s, g, x, w, b, y, relu, i0, i1); });
}

}  // namespace

void set_conv_dw_blocked_enabled(bool enabled) { current_env().conv_dw_blocked = enabled; }
bool conv_dw_blocked_enabled() { return current_env().conv_dw_blocked; }

bool conv_depthwise_applies(const ConvDwShape& s) {
  if (!conv_fast_enabled()) return false;
  return s.p.groups > 1 && s.p.groups == s.C && s.K % s.C == 0 && s.R * s.S <= kDwMaxTaps && s.N >= 1 &&
         s.H >= 1 && s.W >= 1;
}

void conv_depthwise_forward(const ConvDwShape& s, const float* x, const float* w, const float* b, float* y,
                            bool relu) {
  forward_tasks(s, x, w, b, y, relu, [](int64_t tasks, const auto& fn) { parallel_for(tasks, 1, fn); });
}

void conv_depthwise_forward_serial(const ConvDwShape& s, const float* x, const float* w, const float* b, float* y,
                                   bool relu) {
  forward_tasks(s, x, w, b, y, relu, [](int64_t tasks, const auto& fn) { fn(0, tasks); });
}

// The input gradient of a stride-1 depthwise layer whose padding is within the kernel's reach is a
// forward convolution of the output gradient with the flipped kernel, padded by reach - padding: the
// geometry of that convolution (it maps (P,Q) planes back to (H,W)).
bool transposed_geometry(const ConvDwShape& s, int64_t vw, DwPlane& gt) {
  const Conv2dParams& p = s.p;
  const int64_t top = (s.R - 1) * p.dil_h - p.pad_h, left = (s.S - 1) * p.dil_w - p.pad_w;
  if (s.K != s.C || p.stride_h != 1 || p.stride_w != 1 || top < 0 || left < 0) return false;
  const int64_t P = s.H + 2 * p.pad_h - p.dil_h * (s.R - 1), Q = s.W + 2 * p.pad_w - p.dil_w * (s.S - 1);
  const ConvDwShape t{s.N, s.C, P, Q, s.K, s.R, s.S, Conv2dParams{1, 1, top, left, p.dil_h, p.dil_w, p.groups}};
  gt = plane_geometry(t, vw);
  return gt.P == s.H && gt.Q == s.W;
}

DwPlaneBackward::DwPlaneBackward(const ConvDwShape& s, bool dx, bool dw)
    : vw_(kernels().vector_floats), g_(plane_geometry(s, vw_)), dw_(dw) {
  const int64_t Qv = round_up(g_.Q, vw_);
  dx_forward_ = dx && transposed_geometry(s, vw_, gt_);
  // Column stride 2: the input gradient gathers from gy rows laid out with zero margins (gr_).
  dx_gather_ = dx && !dx_forward_ && g_.sw == 2;
  dx_scatter_ = dx && !dx_forward_ && !dx_gather_;
  gr_ = dx_gather_ ? dw_gather_rows(g_, vw_) : DwGatherRows{0, Qv, 0, g_.P};
}

bool DwPlaneBackward::uses_plane_kernels(const ConvDwShape& s) {
  const int64_t vw = kernels().vector_floats;
  return !use_blocked(s, plane_geometry(s, vw), vw);
}

DwPlaneBackward::Buffers DwPlaneBackward::buffers(int64_t extra_floats) const {
  float* xbuf = thread_scratch(0, phase_floats(g_));
  float* dbuf = thread_scratch(1, dx_forward_ ? phase_floats(gt_) : phase_floats(g_));
  float* gbuf = thread_scratch(2, gr_.rows * gr_.stride + extra_floats);
  clear_phases(g_, xbuf);  // (also for callers that pack planes only to convolve them forward)
  if (dx_forward_) clear_phases(gt_, dbuf);
  if (dx_gather_) std::fill(gbuf, gbuf + gr_.rows * gr_.stride, 0.f);  // the margins stay zero
  return {xbuf, dbuf, gbuf, gbuf + gr_.rows * gr_.stride};
}

void DwPlaneBackward::pack_input(const Buffers& b, const float* x_plane) const { pack_phases(g_, x_plane, b.xbuf); }

void DwPlaneBackward::begin_plane(const Buffers& b) const {
  if (dx_scatter_) clear_phases(g_, b.dbuf);
}

void DwPlaneBackward::plane(const Buffers& b, const float* gp, const float* w_k, const float* flipped_k,
                            bool accumulate, float* dwv, float* dx_plane) const {
  const Kernels& kt = kernels();
  if (dx_forward_) {  // one output channel per input channel; the weight gradient reads gy from the padded copy
    pack_phases(gt_, gp, b.dbuf);
    if (dw_) kt.conv_dw_wgrad(g_, b.xbuf, b.dbuf + gt_.ph * gt_.Wph + gt_.pw, gt_.Wph, dwv);
    kt.conv_dw_forward(gt_, b.dbuf, flipped_k, 0.f, false, dx_plane);
    return;
  }
  float* gy_rows = b.gbuf + gr_.top * gr_.stride;
  float* gyb = gy_rows + gr_.left;
  kt.copy_rows(gp, g_.Q, g_.P, g_.Q, gr_.stride - gr_.left, gyb, gr_.stride);
  if (dw_) kt.conv_dw_wgrad(g_, b.xbuf, gyb, gr_.stride, dwv);
  if (dx_gather_) kt.conv_dw_dgrad_s2(g_, gy_rows, gr_, w_k, accumulate, dx_plane);
  if (dx_scatter_) kt.conv_dw_backward_data(g_, gyb, w_k, b.dbuf);
}

void DwPlaneBackward::end_plane(const Buffers& b, float* dx_plane) const {
  if (dx_scatter_) unpack_phases(g_, b.dbuf, dx_plane);
}

void conv_depthwise_backward(const ConvDwShape& s, const float* x, const float* w, const float* gy, float* dx,
                             float* dw) {
  const int64_t vw = kernels().vector_floats;
  if (const DwPlane g = plane_geometry(s, vw); use_blocked(s, g, vw)) return blocked_backward(s, g, x, w, gy, dx, dw);
  const DwPlaneBackward pb(s, dx != nullptr, dw != nullptr);
  const int64_t mult = s.K / s.C, xplane = s.H * s.W, yplane = pb.geometry().P * pb.geometry().Q;
  const int64_t taps = s.R * s.S;
  // Tasks take channels; within a task, chunks of channels go image by image, so the planes stream
  // in memory order (channel by channel, each image's plane was a jump of C planes: the weight
  // gradient of 72 channels on 32x32 planes waited on memory for ~3/4 of its time). Every channel
  // still sums its images in order: the same bits at any thread count.
  constexpr int64_t kChunk = 32;
  const int64_t per_channel = mult * taps * vw;
  parallel_for(s.C, 1, [&](int64_t c0, int64_t c1) {
    const DwPlaneBackward::Buffers bufs = pb.buffers(kChunk * (per_channel + taps));
    float* dwv_all = bufs.extra;
    float* flipped_all = dwv_all + kChunk * per_channel;
    for (int64_t cc = c0; cc < c1; cc += kChunk) {
      const int64_t ce = std::min(c1, cc + kChunk);
      std::fill(dwv_all, dwv_all + (ce - cc) * per_channel, 0.f);
      if (pb.flips_weights())
        for (int64_t c = cc; c < ce; ++c) flip_kernel(w + c * taps, taps, flipped_all + (c - cc) * taps);
      for (int64_t n = 0; n < s.N; ++n)
        for (int64_t c = cc; c < ce; ++c) {
          float* dwv = dwv_all + (c - cc) * per_channel;
          float* dxp = dx ? dx + (n * s.C + c) * xplane : nullptr;
          if (dw) pb.pack_input(bufs, x + (n * s.C + c) * xplane);
          pb.begin_plane(bufs);
          for (int64_t m = 0; m < mult; ++m) {
            const int64_t k = c * mult + m;
            pb.plane(bufs, gy + (n * s.K + k) * yplane, w + k * taps, flipped_all + (c - cc) * taps, m > 0,
                     dwv + m * taps * vw, dxp);
          }
          pb.end_plane(bufs, dxp);
        }
      if (dw)
        for (int64_t c = cc; c < ce; ++c) reduce_weight_lanes(dwv_all + (c - cc) * per_channel, mult * taps, vw, dw + c * mult * taps);
    }
  });
}

void flip_kernel(const float* w, int64_t taps, float* flipped) {
  for (int64_t t = 0; t < taps; ++t) flipped[t] = w[taps - 1 - t];
}

void reduce_weight_lanes(const float* dwv, int64_t taps, int64_t vw, float* dw) {
  for (int64_t t = 0; t < taps; ++t) {
    const float* lanes = dwv + t * vw;
    float sum = 0.f;
    for (int64_t l = 0; l < vw; ++l) sum += lanes[l];
    dw[t] = sum;
  }
}

}  // namespace dlf
