#include "nn/conv_gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "isa/relu.h"
#include "nn/conv_scratch.h"
#include "runtime/prefetch.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

// Columns a batch aims at: the micro-kernel's panels then stay long (packing cost amortised) while
// one batch's im2col matrix stays in the L2 cache. Measured on Zen 4 (64-128 channels, 4x4 to 16x16
// planes): 128 and 256 columns run alike, 512 is ~10% slower, 1024 ~2x slower.
constexpr int64_t kTargetColumns = 256;
// A batch's im2col matrix is kept below this many floats (16 MB) for the widest layers; one image's,
// beyond it, is lowered a span of output positions at a time (a 2048x2048 image of 64 channels under
// a dilated 3x3 kernel asked for a 9.6 GB matrix).
constexpr int64_t kMaxColFloats = int64_t{4} << 20;
// The lowering table's entries (an offset and a mask bit per tap and output position) stay below this:
// beyond it the row copies lower the image instead.
constexpr int64_t kMaxTableEntries = int64_t{4} << 20;
// Spans of output positions start at multiples of this (a whole number of the table's mask words).
constexpr int64_t kSpanAlign = 64;

int64_t images_per_batch(const ConvGeom& g) {
  const int64_t pq = g.pq();
  // A 1x1 layer of 128+ outputs a plane runs one image a GEMM, read and written in place: a batch
  // of them needs copies in and out unless its planes fill whole panels (segmented), and on 14x14
  // planes the copies made each pass 10-25% slower than the image's ragged last panel.
  if (g.is_pointwise() && pq >= 128) return 1;
  int64_t nb = std::max<int64_t>(1, (kTargetColumns + pq - 1) / pq);
  nb = std::min(nb, std::max<int64_t>(1, kMaxColFloats / std::max<int64_t>(1, g.col_rows() * pq)));
  // At least two batches when there are two images: a batch is one task, and a weight gradient's
  // partials are summed by batch, so the split cannot follow the thread count (the bits would).
  // 512 -> 512 channels on 2x2 planes, batch 64: one batch of 256 columns left a second thread idle.
  return std::min(nb, (g.N + 1) / 2);
}

// The output columns [lo, hi) whose input column ow * stride + off lies in [0, W).
void valid_columns(int64_t off, int64_t stride, int64_t W, int64_t Q, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : std::min<int64_t>(Q, (-off + stride - 1) / stride);
  hi = W - off <= 0 ? 0 : std::min<int64_t>(Q, (W - off + stride - 1) / stride);
  hi = std::max(hi, lo);
}

// Where each im2col row reads the input: for kernel tap (r, s), the offset in an input plane of
// each output position, and bit masks (per vector of positions) of those inside the plane. Strided,
// dilated and narrow layers lower through it (a gather per vector); wide stride-1 rows are copied.
class LoweringTable {
 public:
  explicit LoweringTable(const ConvGeom& g) {
    const auto& p = g.p;
    constexpr int64_t kNarrow = 16;  // output rows shorter than this lower faster by the table
    if (g.is_pointwise()) return;  // no im2col: the image is its own matrix
    if (p.stride_w == 1 && p.dil_w == 1 && g.Q >= kNarrow) return;
    if (g.H * g.W >= (int64_t{1} << 31)) return;  // offsets are int32
    if (g.R * g.S * g.pq() > kMaxTableEntries) return;
    W_ = kernels().vector_floats;
    n_ = g.pq();
    stride_ = round_up(n_, W_);
    idx_.assign(static_cast<size_t>(g.R * g.S * stride_), 0);
    mask_.assign(static_cast<size_t>(g.R * g.S * stride_ / W_), 0u);
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t tap = r * g.S + s;
        int32_t* idx = idx_.data() + tap * stride_;
        uint32_t* mask = mask_.data() + tap * stride_ / W_;
        for (int64_t oh = 0; oh < g.P; ++oh)
          for (int64_t ow = 0; ow < g.Q; ++ow) {
            const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h, iw = ow * p.stride_w - p.pad_w + s * p.dil_w;
            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
            const int64_t i = oh * g.Q + ow;
            idx[i] = static_cast<int32_t>(ih * g.W + iw);
            mask[i / W_] |= 1u << (i % W_);
          }
      }
  }
  bool active() const { return n_ > 0; }
  // im2col row (c, r, s) of one image, output positions [p0, p1) (p0 a multiple of kSpanAlign):
  // plane x_c through tap r * S + s
  void gather(const float* plane, int64_t tap, int64_t p0, int64_t p1, float* row) const {
    const int64_t at = tap * stride_ + p0;
    kernels().gather_plane(plane, idx_.data() + at, mask_.data() + at / W_, p1 - p0, row);
  }
  // col2im: plane dx_c += row (c, r, s) of positions [p0, p1)
  void scatter_add(const float* row, int64_t tap, int64_t p0, int64_t p1, float* plane) const {
    const int64_t at = tap * stride_ + p0;
    kernels().scatter_add_plane(row, idx_.data() + at, mask_.data() + at / W_, p1 - p0, plane);
  }

 private:
  int64_t W_ = 0, n_ = 0, stride_ = 0;
  std::vector<int32_t> idx_;
  std::vector<uint32_t> mask_;
};

// Calls visit(oh, a, b) for each output row oh that output positions [p0, p1) touch, with the
// row's columns [a, b) among them.
template <typename Visit>
void rows_of_span(const ConvGeom& g, int64_t p0, int64_t p1, Visit visit) {
  for (int64_t oh = p0 / g.Q; oh * g.Q < p1; ++oh)
    visit(oh, std::max<int64_t>(0, p0 - oh * g.Q), std::min<int64_t>(g.Q, p1 - oh * g.Q));
}

// The band of input rows [first, first + count) that output positions [p0, p1) read, and how many
// channels ahead of the one being lowered im2col asks for it: a layer strided along rows reads a few
// lines of each row it uses and skips the rows between, a pattern the hardware prefetcher does not
// follow. Asked for as one sequential band (skipped rows too) it streams: 64 -> 128 channels 1x1
// stride 2 on 32x32 planes, batch 64, 1 thread, forward 3.5-5.5 ms -> 2.0-2.6 ms; 128 -> 256 on
// 16x16, 2.7-4.1 -> 1.9-2.3 (prefetching only the rows used changed nothing).
struct RowBand {
  int64_t first = 0, count = 0, ahead = 0;  // ahead 0: no prefetch
};
RowBand row_band(const ConvGeom& g, int64_t p0, int64_t p1) {
  constexpr int64_t kAheadBytes = 32 << 10, kMostAhead = 4;
  const auto& p = g.p;
  if (p.stride_h == 1) return {};
  const int64_t first = p0 / g.Q * p.stride_h - p.pad_h;
  const int64_t count = (p1 - 1) / g.Q * p.stride_h + (g.R - 1) * p.dil_h + 1 - p0 / g.Q * p.stride_h;
  const int64_t bytes = count * g.W * static_cast<int64_t>(sizeof(float));
  return {first, count, std::clamp<int64_t>(kAheadBytes / std::max<int64_t>(1, bytes), 1, kMostAhead)};
}

// Prefetches channel c + band.ahead's band of x: (Cg,H,W), when there is one.
void prefetch_band(const float* x, const ConvGeom& g, const RowBand& band, int64_t c) {
  if (band.ahead > 0 && c + band.ahead < g.Cg)
    prefetch_rows(x + (c + band.ahead) * g.H * g.W, band.first, band.count, g.H, g.W);
}

// x: (Cg,H,W) -> col: (Cg*R*S, p1 - p0), the im2col columns of output positions [p0, p1) (p0 a
// multiple of kSpanAlign), rows ld floats apart
void im2col(const float* x, const ConvGeom& g, const LoweringTable& lt, float* col, int64_t ld, int64_t p0,
            int64_t p1) {
  const auto& p = g.p;
  const RowBand band = row_band(g, p0, p1);
  if (lt.active()) {
    for (int64_t c = 0; c < g.Cg; ++c) {
      prefetch_band(x, g, band, c);
      for (int64_t tap = 0; tap < g.R * g.S; ++tap)
        lt.gather(x + c * g.H * g.W, tap, p0, p1, col + (c * g.R * g.S + tap) * ld);
    }
    return;
  }
  for (int64_t c = 0; c < g.Cg; ++c) {
    prefetch_band(x, g, band, c);
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        float* row = col + ((c * g.R + r) * g.S + s) * ld;
        const int64_t off = s * p.dil_w - p.pad_w;
        int64_t lo, hi;
        valid_columns(off, p.stride_w, g.W, g.Q, lo, hi);
        rows_of_span(g, p0, p1, [&](int64_t oh, int64_t a, int64_t b) {
          float* out = row + (oh * g.Q + a - p0);  // out[ow - a] for ow in [a, b)
          const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
          if (ih < 0 || ih >= g.H) {
            std::fill(out, out + (b - a), 0.f);
            return;
          }
          const float* in = x + (c * g.H + ih) * g.W;
          const int64_t vlo = std::clamp(lo, a, b), vhi = std::clamp(hi, vlo, b);
          std::fill(out, out + (vlo - a), 0.f);
          if (p.stride_w == 1) {
            if (vhi > vlo)
              std::memcpy(out + (vlo - a), in + vlo + off, sizeof(float) * static_cast<size_t>(vhi - vlo));
          } else if (p.stride_w == 2) {
            for (int64_t ow = vlo; ow < vhi; ++ow) out[ow - a] = in[2 * ow + off];  // a constant stride vectorises
          } else {
            for (int64_t ow = vlo; ow < vhi; ++ow) out[ow - a] = in[ow * p.stride_w + off];
          }
          std::fill(out + (vhi - a), out + (b - a), 0.f);
        });
      }
  }
}

// col: (Cg*R*S, p1 - p0), the columns of output positions [p0, p1) as im2col writes them, rows ld
// floats apart, accumulated into dx: (Cg,H,W)
void col2im(const float* col, const ConvGeom& g, const LoweringTable& lt, int64_t ld, int64_t p0, int64_t p1,
            float* dx) {
  const auto& p = g.p;
  if (lt.active()) {
    for (int64_t c = 0; c < g.Cg; ++c)
      for (int64_t tap = 0; tap < g.R * g.S; ++tap)
        lt.scatter_add(col + (c * g.R * g.S + tap) * ld, tap, p0, p1, dx + c * g.H * g.W);
    return;
  }
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const float* row = col + ((c * g.R + r) * g.S + s) * ld;
        const int64_t off = s * p.dil_w - p.pad_w;
        int64_t lo, hi;
        valid_columns(off, p.stride_w, g.W, g.Q, lo, hi);
        rows_of_span(g, p0, p1, [&](int64_t oh, int64_t a, int64_t b) {
          const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
          if (ih < 0 || ih >= g.H) return;
          float* out = dx + (c * g.H + ih) * g.W;
          const float* in = row + (oh * g.Q + a - p0);  // in[ow - a] for ow in [a, b)
          const int64_t vlo = std::clamp(lo, a, b), vhi = std::clamp(hi, vlo, b);
          if (p.stride_w == 1) {
            for (int64_t ow = vlo; ow < vhi; ++ow) out[ow + off] += in[ow - a];
          } else if (p.stride_w == 2) {
            for (int64_t ow = vlo; ow < vhi; ++ow) out[2 * ow + off] += in[ow - a];
          } else {
            for (int64_t ow = vlo; ow < vhi; ++ow) out[ow * p.stride_w + off] += in[ow - a];
          }
        });
      }
}

// dst[j] = src[j] + bias (then max(., 0) when `relu`); src may be dst. The GEMM path's epilogue.
void bias_relu(const float* src, float* dst, int64_t n, float bias, bool relu) {
  if (relu) {
    for (int64_t j = 0; j < n; ++j) {
      dst[j] = relu_value(src[j] + bias);
    }
  } else {
    for (int64_t j = 0; j < n; ++j) dst[j] = src[j] + bias;
  }
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc, GemmEpilogue ep = {}) {
  kernels().sgemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc, ep);
}

// dw: (Kg, rows) = gy (Kg, n) * col^T, col: (rows, n); rows of gy and col ldg and ldc floats apart.
// With fewer rows than a GEMM panel is wide (1x1 layers of few input channels) and more output
// channels, the transpose col * gy^T fills the panels instead and is transposed into place: the same
// products summed in the same order, so the same bits (16 -> 96 channels on 32x32 planes: the
// weight gradient ran at ~20% of peak, most of each panel empty).
// With `accumulate`, dw += instead.
void weight_gradient(int64_t Kg, int64_t rows, int64_t n, const float* gy, int64_t ldg, const float* col, int64_t ldc,
                     float* dw, bool accumulate = false) {
  if (rows < kernels().gemm_panel_cols && Kg > rows) {
    float* t = thread_scratch(2, rows * Kg);
    gemm(false, true, rows, Kg, n, col, ldc, gy, ldg, 0.f, t, Kg);
    for (int64_t k = 0; k < Kg; ++k)
      for (int64_t r = 0; r < rows; ++r) dw[k * rows + r] = accumulate ? dw[k * rows + r] + t[r * Kg + k] : t[r * Kg + k];
    return;
  }
  gemm(false, true, Kg, rows, n, gy, ldg, col, ldc, accumulate ? 1.f : 0.f, dw, rows);
}

// A 1x1 stride-1 layer whose planes fill whole GEMM panels: a batch's images are column segments of
// one GEMM, read and written in place (sgemm_segments).
bool segmented(const ConvGeom& g) { return g.is_pointwise() && g.pq() % kernels().gemm_panel_cols == 0; }

// Images [n0, n0+count) of group grp, lowered side by side: col (rows, count*pq), rows L floats apart.
void lower_batch(const ConvGeom& g, const LoweringTable& lt, const float* x, int64_t n0, int64_t count, int64_t grp,
                 float* col, int64_t L) {
  const int64_t pq = g.pq();
  for (int64_t i = 0; i < count; ++i) {
    const float* xg = x + ((n0 + i) * g.C + grp * g.Cg) * g.H * g.W;
    if (g.is_pointwise()) {
      for (int64_t c = 0; c < g.Cg; ++c)
        std::memcpy(col + c * L + i * pq, xg + c * pq, sizeof(float) * static_cast<size_t>(pq));
    } else {
      im2col(xg, g, lt, col + i * pq, L, 0, pq);
    }
  }
}

// Output positions a span of one image's im2col matrix covers: all of them when the matrix fits in
// kMaxColFloats, else as many as fit (a multiple of kSpanAlign). A count per shape: the weight
// gradient's order of sums never depends on the thread count.
int64_t span_of(const ConvGeom& g) {
  const int64_t pq = g.pq(), rows = g.col_rows();
  if (g.is_pointwise() || rows * pq <= kMaxColFloats) return pq;
  return std::max<int64_t>(kSpanAlign, kMaxColFloats / rows / kSpanAlign * kSpanAlign);
}

// Calls fn(p0, p1) for the spans [p0, p1) of `span` output positions (the last one shorter) of pq.
template <typename Fn>
void for_each_span(int64_t pq, int64_t span, Fn fn) {
  for (int64_t p0 = 0; p0 < pq; p0 += span) fn(p0, std::min(pq, p0 + span));
}

// One image a GEMM (planes of at least kTargetColumns outputs), a span of output positions at a
// time: the GEMM reads a 1x1 layer's input and writes every output in place, with no copies through
// scratch buffers.
void forward_one_image(const ConvGeom& g, const LoweringTable& lt, const float* x, const float* w, const float* b,
                       bool relu, int64_t n, float* y) {
  const int64_t rows = g.col_rows(), pq = g.pq(), span = span_of(g);
  float* col = g.is_pointwise() ? nullptr : thread_scratch(0, rows * span);
  for (int64_t grp = 0; grp < g.G; ++grp) {
    const float* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
    float* yg = y + (n * g.K + grp * g.Kg) * pq;
    for_each_span(pq, span, [&](int64_t p0, int64_t p1) {
      if (col) im2col(xg, g, lt, col, span, p0, p1);
      gemm(false, false, g.Kg, p1 - p0, rows, w + grp * g.Kg * rows, rows, col ? col : xg + p0, col ? span : pq, 0.f,
           yg + p0, pq, GemmEpilogue{b ? b + grp * g.Kg : nullptr, relu});
    });
  }
}

// The backward of forward_one_image: gy read in place, a 1x1 layer's dx written in place; the weight
// gradient summed span by span.
void backward_one_image(const ConvGeom& g, const LoweringTable& lt, const float* x, const float* w, const float* gy,
                        int64_t n, float* dx, float* dw_part) {
  const int64_t rows = g.col_rows(), pq = g.pq(), span = span_of(g);
  float* col = g.is_pointwise() ? nullptr : thread_scratch(0, rows * span);
  for (int64_t grp = 0; grp < g.G; ++grp) {
    const float* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
    const float* gyg = gy + (n * g.K + grp * g.Kg) * pq;
    const float* wg = w + grp * g.Kg * rows;
    if (dw_part) {
      for_each_span(pq, span, [&](int64_t p0, int64_t p1) {
        if (col) im2col(xg, g, lt, col, span, p0, p1);
        weight_gradient(g.Kg, rows, p1 - p0, gyg + p0, pq, col ? col : xg + p0, col ? span : pq,
                        dw_part + grp * g.Kg * rows, p0 > 0);
      });
    }
    if (dx) {
      float* dxg = dx + (n * g.C + grp * g.Cg) * g.H * g.W;
      if (!col) {
        gemm(true, false, rows, pq, g.Kg, wg, rows, gyg, pq, 0.f, dxg, pq);
        continue;
      }
      std::fill(dxg, dxg + g.Cg * g.H * g.W, 0.f);
      for_each_span(pq, span, [&](int64_t p0, int64_t p1) {
        gemm(true, false, rows, p1 - p0, g.Kg, wg, rows, gyg + p0, pq, 0.f, col, span);
        col2im(col, g, lt, span, p0, p1, dxg);
      });
    }
  }
}

}  // namespace

void conv_forward_general(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu) {
  const int64_t rows = g.col_rows(), pq = g.pq(), nb = images_per_batch(g), L = nb * pq;
  const int64_t batches = (g.N + nb - 1) / nb;
  const LoweringTable lt(g);
  parallel_chunks(static_cast<int>(batches), [&](int bi, int) {
    const int64_t n0 = bi * nb, count = std::min(nb, g.N - n0), cols = count * pq;
    if (nb == 1) {
      forward_one_image(g, lt, x, w, b, relu, n0, y);
      return;
    }
    if (segmented(g)) {  // the batch's images as GEMM column segments: no copies in or out
      for (int64_t grp = 0; grp < g.G; ++grp) {
        float* yg = y + (n0 * g.K + grp * g.Kg) * pq;
        kernels().sgemm_segments(false, g.Kg, rows, w + grp * g.Kg * rows, rows, x + (n0 * g.C + grp * g.Cg) * pq, pq,
                                 g.C * pq, yg, pq, g.K * pq, count, pq, GemmEpilogue{b ? b + grp * g.Kg : nullptr, relu});
      }
      return;
    }
    float* col = thread_scratch(0, rows * L);
    float* out = thread_scratch(1, g.Kg * L);
    for (int64_t grp = 0; grp < g.G; ++grp) {
      lower_batch(g, lt, x, n0, count, grp, col, L);
      // The im2col matrix has `cols` columns when the last batch is short; its rows stay L apart.
      gemm(false, false, g.Kg, cols, rows, w + grp * g.Kg * rows, rows, col, L, 0.f, out, L);
      for (int64_t i = 0; i < count; ++i)
        for (int64_t k = 0; k < g.Kg; ++k) {
          bias_relu(out + k * L + i * pq, y + ((n0 + i) * g.K + grp * g.Kg + k) * pq, pq,
                    b ? b[grp * g.Kg + k] : 0.f, relu);
        }
    }
  });
}

void conv_backward_general(const ConvGeom& g, const float* x, const float* w, const float* gy, float* dx, float* dw) {
  const int64_t rows = g.col_rows(), pq = g.pq(), nb = images_per_batch(g), L = nb * pq;
  const int64_t batches = (g.N + nb - 1) / nb;
  const int64_t wsize = g.K * rows;
  // One weight-gradient partial per batch, summed in batch order below.
  TensorPtr partial = dw ? empty({batches * wsize}) : nullptr;
  const LoweringTable lt(g);
  parallel_chunks(static_cast<int>(batches), [&](int bi, int) {
    const int64_t n0 = bi * nb, count = std::min(nb, g.N - n0), cols = count * pq;
    if (nb == 1) {
      backward_one_image(g, lt, x, w, gy, n0, dx, dw ? partial->f32() + bi * wsize : nullptr);
      return;
    }
    float* col = thread_scratch(0, rows * L);
    float* gyt = thread_scratch(1, g.Kg * L);
    const bool direct_dx = segmented(g);
    for (int64_t grp = 0; grp < g.G; ++grp) {
      // gyt (Kg, cols): the batch's output gradient, images side by side like the im2col columns.
      if (dw || !direct_dx)
        for (int64_t i = 0; i < count; ++i)
          for (int64_t k = 0; k < g.Kg; ++k)
            std::memcpy(gyt + k * L + i * pq, gy + ((n0 + i) * g.K + grp * g.Kg + k) * pq,
                        sizeof(float) * static_cast<size_t>(pq));
      const float* wg = w + grp * g.Kg * rows;
      if (dx && direct_dx)
        kernels().sgemm_segments(true, rows, g.Kg, wg, rows, gy + (n0 * g.K + grp * g.Kg) * pq, pq, g.K * pq,
                                 dx + (n0 * g.C + grp * g.Cg) * pq, pq, g.C * pq, count, pq, GemmEpilogue{});
      if (dw) {
        lower_batch(g, lt, x, n0, count, grp, col, L);
        weight_gradient(g.Kg, rows, cols, gyt, L, col, L, partial->f32() + bi * wsize + grp * g.Kg * rows);
      }
      if (dx && !direct_dx) {
        gemm(true, false, rows, cols, g.Kg, wg, rows, gyt, L, 0.f, col, L);
        for (int64_t i = 0; i < count; ++i) {
          float* dxg = dx + ((n0 + i) * g.C + grp * g.Cg) * g.H * g.W;
          if (g.is_pointwise()) {
            for (int64_t c = 0; c < g.Cg; ++c)
              std::memcpy(dxg + c * pq, col + c * L + i * pq, sizeof(float) * static_cast<size_t>(pq));
          } else {
            std::fill(dxg, dxg + g.Cg * g.H * g.W, 0.f);
            col2im(col + i * pq, g, lt, L, 0, pq, dxg);
          }
        }
      }
    }
  });
  if (dw) {
    const float* pp = partial->f32();
    std::copy(pp, pp + wsize, dw);
    for (int64_t bi = 1; bi < batches; ++bi)
      for (int64_t i = 0; i < wsize; ++i) dw[i] += pp[bi * wsize + i];
  }
}

}  // namespace dlf
