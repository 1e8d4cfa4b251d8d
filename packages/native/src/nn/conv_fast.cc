#include "nn/conv_fast.h"

#include <algorithm>
#include <vector>

#include "nn/conv_padded.h"
#include "nn/conv_scratch.h"
#include "runtime/env_state.h"
#include "runtime/errors.h"
#include "runtime/prefetch.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"
#include "tensor/tensor.h"

namespace dlf {
namespace {

constexpr int64_t kMaxChannels = 64;  // beyond this im2col + GEMM wins
constexpr int64_t kGroup = 4;         // images per weight-gradient call (longer tiles)

// Buffers for one geometry. The forward input buffer holds x at (ph, pw); the output-gradient
// buffer holds gy at (R-1-ph, S-1-pw), which is the padding of the input-gradient convolution.
struct Plan {
  int64_t vw;           // floats per vector in the kernel table used
  int64_t P, Q;         // output size
  int64_t Hb, Wb;       // input buffer plane
  int64_t xcol, xoff;   // x's first column in its buffer; where the kernels' view starts
  int64_t gtop, gleft;  // gy's place relative to the input-gradient convolution's view
  int64_t gcol, goff;   // gy's first column in its buffer; where that view starts
  int64_t gHb, gWb;     // output-gradient buffer plane
  DirectConv fwd;       // x -> y
  DirectConv bwd;       // gy -> dx (weights transposed and flipped)
};


Plan make_plan(const ConvFastShape& s, int64_t vw) {
  Plan pl{};
  pl.vw = vw;
  pl.P = s.H + 2 * s.p.pad_h - s.R + 1;
  pl.Q = s.W + 2 * s.p.pad_w - s.S + 1;
  pl.Hb = s.H + 2 * s.p.pad_h + 1;  // = P + R: a spare zero row for the Winograd row pairs
  // x sits at column xcol (a vector boundary: aligned pad stores) and the kernels see the buffer
  // from xoff = xcol - pw, where column 0 is the first padding column. Rows are whole vectors.
  pl.xcol = round_up(s.p.pad_w, vw);
  pl.xoff = pl.xcol - s.p.pad_w;
  pl.Wb = round_up(std::max(pl.xcol + s.W, pl.xoff + round_up(pl.Q, vw) + s.S - 1), vw);
  pl.gtop = s.R - 1 - s.p.pad_h;
  pl.gleft = s.S - 1 - s.p.pad_w;
  pl.gHb = s.H + s.R;  // the input-gradient convolution's P + R (>= gtop + P)
  // Likewise gy sits at the vector boundary gcol (aligned loads in the weight gradient) and the
  // input-gradient convolution sees the buffer from goff = gcol - gleft.
  pl.gcol = round_up(pl.gleft, vw);
  pl.goff = pl.gcol - pl.gleft;
  pl.gWb = round_up(std::max(pl.goff + round_up(s.W, vw) + s.S - 1, pl.gcol + round_up(pl.Q, vw)), vw);
  pl.fwd = DirectConv{s.C, s.K, s.R, s.S, pl.Hb, pl.Wb, pl.P, pl.Q};
  pl.bwd = DirectConv{s.K, s.C, s.R, s.S, pl.gHb, pl.gWb, s.H, s.W};
  return pl;
}

// Splits the batch over the pool unless the whole job is small: a few chunks per thread, so a
// thread that falls behind (a busy machine) leaves chunks to the others.
int batch_chunks(const ConvFastShape& s, int64_t P, int64_t Q) {
  const double macs = static_cast<double>(s.N) * s.K * s.C * s.R * s.S * P * Q;
  const int threads = num_threads();
  if (macs < 2e5 || threads <= 1) return 1;
  return static_cast<int>(std::min<int64_t>(4 * threads, s.N));
}

}  // namespace

void set_conv_fast_enabled(bool enabled) { current_env().conv_fast_path = enabled; }
bool conv_fast_enabled() { return current_env().conv_fast_path; }

bool conv_fast_applies(const ConvFastShape& s) {
  if (!conv_fast_enabled()) return false;
  const Conv2dParams& p = s.p;
  if (p.stride_h != 1 || p.stride_w != 1 || p.dil_h != 1 || p.dil_w != 1 || p.groups != 1) return false;
  if (s.N < 1 || s.C < 1 || s.K < 1 || s.R < 1 || s.S < 1 || s.H < 1 || s.W < 1) return false;
  if (s.C > kMaxChannels || s.K > kMaxChannels || s.R > 16 || s.S > 16) return false;
  if (p.pad_h < 0 || p.pad_w < 0 || p.pad_h > s.R - 1 || p.pad_w > s.S - 1) return false;
  if (s.H + 2 * p.pad_h < s.R || s.W + 2 * p.pad_w < s.S) return false;  // empty output
  if (s.H > 4096 || s.W > 4096) return false;
  // Pointwise layers are GEMMs over the images in place (conv_gemm.cc): the padded copy and the
  // per-row kernels here ran 1.4-1.8x slower (32 -> 64 channels on 32x32 planes, batch 64: forward
  // 3.3 against 2.1 ms, forward + backward 13.6 against 7.9).
  if (s.R == 1 && s.S == 1 && p.pad_h == 0 && p.pad_w == 0) return false;
  // Wide layers on planes narrower than a vector leave most lanes idle (an 8x8 plane of 64 channels
  // ran at ~20% of peak): the batched GEMM path does better there.
  const int64_t Q = s.W + 2 * p.pad_w - s.S + 1;
  if (Q < kernels().vector_floats && s.C * s.K >= 32 * 32) return false;
  return true;
}

int64_t conv_fast_relu_bits_size(const ConvFastShape& s) {
  const int64_t P = s.H + 2 * s.p.pad_h - s.R + 1, Q = s.W + 2 * s.p.pad_w - s.S + 1;
  return s.N * s.K * P * relu_bits_stride(Q);
}

void conv_fast_forward(const ConvFastShape& s, const float* x, const float* w, const float* b, float* y, bool relu,
                       uint8_t* relu_bits) {
  const Kernels& kt = kernels();
  const Plan pl = make_plan(s, kt.vector_floats);
  auto wp = empty({kt.conv_packed_floats(s.K, s.C, s.R, s.S)});
  kt.conv_pack_weights(w, s.K, s.C, s.R, s.S, false, wp->f32());
  const int64_t xplane = s.C * s.H * s.W, yplane = s.K * pl.P * pl.Q;
  const int64_t bplane = s.K * pl.P * relu_bits_stride(pl.Q);
  uint8_t* bits = relu ? relu_bits : nullptr;
  parallel_chunks(batch_chunks(s, pl.P, pl.Q), [&](int c, int total) {
    const int64_t n0 = s.N * c / total, n1 = s.N * (c + 1) / total;
    if (n0 >= n1) return;
    const Scratch xs = padded_scratch({0, s.C, s.H, s.W, s.p.pad_h, pl.xcol, pl.Hb, pl.Wb});
    float* xb = xs.data;
    for (int64_t n = n0; n < n1; ++n) {
      kt.conv_pad(x + n * xplane, nullptr, nullptr, s.C, s.H, s.W, s.p.pad_h, pl.xcol, pl.Hb, pl.Wb, xb, nullptr);
      kt.conv_direct(pl.fwd, xb + pl.xoff, wp->f32(), b, relu, y + n * yplane, bits ? bits + n * bplane : nullptr);
    }
  });
}

bool conv_fast_pool_applies(const ConvFastShape& s) {
  if (!conv_fast_applies(s) || !kernels().conv_uses_winograd(s.R)) return false;
  const int64_t P = s.H + 2 * s.p.pad_h - s.R + 1, Q = s.W + 2 * s.p.pad_w - s.S + 1;
  return P >= 2 && Q >= 2;
}

void conv_fast_forward_relu_pool(const ConvFastShape& s, const float* x, const float* w, const float* b, float* ypool,
                                 uint8_t* code) {
  const Kernels& kt = kernels();
  const Plan pl = make_plan(s, kt.vector_floats);
  auto wp = empty({kt.conv_packed_floats(s.K, s.C, s.R, s.S)});
  kt.conv_pack_weights(w, s.K, s.C, s.R, s.S, false, wp->f32());
  const int64_t xplane = s.C * s.H * s.W, pplane = s.K * (pl.P / 2) * (pl.Q / 2);
  parallel_chunks(batch_chunks(s, pl.P, pl.Q), [&](int c, int total) {
    const int64_t n0 = s.N * c / total, n1 = s.N * (c + 1) / total;
    if (n0 >= n1) return;
    const Scratch xs = padded_scratch({0, s.C, s.H, s.W, s.p.pad_h, pl.xcol, pl.Hb, pl.Wb});
    for (int64_t n = n0; n < n1; ++n) {
      kt.conv_pad(x + n * xplane, nullptr, nullptr, s.C, s.H, s.W, s.p.pad_h, pl.xcol, pl.Hb, pl.Wb, xs.data,
                  nullptr);
      DLF_THROW_IF(!kt.conv_direct_relu_pool(pl.fwd, xs.data + pl.xoff, wp->f32(), b, ypool + n * pplane, code + n * pplane),
                   "conv2d: the fused ReLU + max pool kernel is not available");
    }
  });
}

void conv_fast_backward(const ConvFastShape& s, const float* x, const float* w, const ConvGradSource& grad, float* dx,
                        float* dw, float* db) {
  const float* gy = grad.gy;
  const float* y = grad.y;
  const uint8_t* relu_bits = grad.relu_bits;
  const Kernels& kt = kernels();
  const Plan pl = make_plan(s, kt.vector_floats);
  const int64_t xplane = s.C * s.H * s.W, yplane = s.K * pl.P * pl.Q;
  const int64_t bplane = s.K * pl.P * relu_bits_stride(pl.Q);
  const int64_t Pp = pl.P / 2, Qp = pl.Q / 2, pplane = s.K * Pp * Qp;
  const int64_t wsize = s.K * s.C * s.R * s.S;
  TensorPtr wp;
  if (dx) {
    wp = empty({kt.conv_packed_floats(s.C, s.K, s.R, s.S)});
    kt.conv_pack_weights(w, s.K, s.C, s.R, s.S, true, wp->f32());
  }
  const int chunks = batch_chunks(s, pl.P, pl.Q);
  std::vector<TensorPtr> dw_part(chunks), db_part(chunks);
  parallel_chunks(chunks, [&](int c, int total) {
    const int64_t n0 = s.N * c / total, n1 = s.N * (c + 1) / total;
    // Images go in groups: one weight-gradient call per group runs each tile over all its images.
    const int64_t gimg = s.K * pl.gHb * pl.gWb, ximg = s.C * pl.Hb * pl.Wb;
    const Scratch gs = padded_scratch({1, kGroup * s.K, pl.P, pl.Q, pl.gtop, pl.gcol, pl.gHb, pl.gWb});
    const Scratch xs = dw ? padded_scratch({0, kGroup * s.C, s.H, s.W, s.p.pad_h, pl.xcol, pl.Hb, pl.Wb}) : Scratch{};
    TensorPtr dwv = dw ? empty({wsize * pl.vw}) : nullptr;  // the chunk's first group overwrites it
    if (dwv && n0 >= n1) std::fill(dwv->f32(), dwv->f32() + wsize * pl.vw, 0.f);
    TensorPtr dbp = db ? zeros({s.K}) : nullptr;
    for (int64_t n = n0; n < n1; n += kGroup) {
      const int64_t nimg = std::min(kGroup, n1 - n);
      for (int64_t j = 0; j < nimg; ++j) {
        const int64_t m = n + j;
        if (grad.gpool) {
          kt.conv_unpool_pad(grad.gpool + m * pplane, grad.ypool + m * pplane, grad.code + m * pplane, s.K, pl.P, pl.Q,
                             Pp, Qp, pl.gtop, pl.gcol, pl.gHb, pl.gWb, gs.data + j * gimg, dbp ? dbp->f32() : nullptr);
        } else {
          kt.conv_pad(gy + m * yplane, relu_bits || !y ? nullptr : y + m * yplane,
                      relu_bits ? relu_bits + m * bplane : nullptr, s.K, pl.P, pl.Q, pl.gtop, pl.gcol, pl.gHb,
                      pl.gWb, gs.data + j * gimg, dbp ? dbp->f32() : nullptr);
        }
        if (dw)
          kt.conv_pad(x + m * xplane, nullptr, nullptr, s.C, s.H, s.W, s.p.pad_h, pl.xcol, pl.Hb, pl.Wb,
                      xs.data + j * ximg, nullptr);
      }
      // The next group's sources stream in while this group's gradients are computed: the copies
      // into the padded buffers above waited on memory (x was written in the forward pass, long out
      // of cache), 10-14% of seed-cnn's 1-thread training step.
      const int64_t next = n + nimg, later = std::min(kGroup, n1 - next);
      if (later > 0) {
        if (dw) prefetch_span(x + next * xplane, later * xplane);
        if (grad.gpool) {
          prefetch_span(grad.gpool + next * pplane, later * pplane);
          prefetch_span(grad.ypool + next * pplane, later * pplane);
        } else {
          prefetch_span(gy + next * yplane, later * yplane);
          if (y && !relu_bits) prefetch_span(y + next * yplane, later * yplane);
        }
      }
      if (dw)
        kt.conv_wgrad(pl.fwd, xs.data + pl.xoff, gs.data, pl.gtop, pl.gcol, pl.gHb, pl.gWb, nimg, ximg, gimg, n > n0,
                      dwv->f32());
      if (dx) {
        for (int64_t j = 0; j < nimg; ++j)
          kt.conv_direct(pl.bwd, gs.data + j * gimg + pl.goff, wp->f32(), nullptr, false, dx + (n + j) * xplane, nullptr);
      }
    }
    dw_part[c] = dwv;
    db_part[c] = dbp;
  });
  // Fixed-order reductions: chunk by chunk, lane by lane.
  if (dw) {
    // Chunk partials summed lane-wise into the first, then each weight's lanes in order.
    float* acc = dw_part[0]->f32();
    for (size_t c = 1; c < dw_part.size(); ++c) {
      const float* pp = dw_part[c]->f32();
      for (int64_t i = 0; i < wsize * pl.vw; ++i) acc[i] += pp[i];
    }
    for (int64_t i = 0; i < wsize; ++i) {
      float v = 0.f;
      for (int64_t l = 0; l < pl.vw; ++l) v += acc[i * pl.vw + l];
      dw[i] = v;
    }
  }
  if (db) {
    std::fill(db, db + s.K, 0.f);
    for (const auto& part : db_part) {
      if (!part) continue;
      for (int64_t k = 0; k < s.K; ++k) db[k] += part->f32()[k];
    }
  }
}

}  // namespace dlf
