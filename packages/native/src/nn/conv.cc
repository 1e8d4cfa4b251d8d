// Convolution. The general path lowers each image (and group) to a GEMM through im2col; it covers
// stride, padding, dilation and groups. Work is split over images, each thread with its own buffers,
// and per-thread weight-gradient partials are summed in a fixed order (deterministic results).
#include <algorithm>
#include <cstring>

#include "autograd/node.h"
#include "nn/conv_depthwise.h"
#include "nn/conv_fast.h"
#include "nn/ops.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

struct ConvGeom {
  int64_t N, C, H, W, K, R, S, P, Q, G, Cg, Kg;
  Conv2dParams p;
  int64_t col_rows() const { return Cg * R * S; }
  int64_t pq() const { return P * Q; }
  // 1x1, stride 1, no padding: the image is its own im2col matrix.
  bool is_pointwise() const {
    return R == 1 && S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
  }
};

ConvGeom geometry(const Shape& xs, const Shape& ws, const Conv2dParams& p) {
  ConvGeom g{};
  g.N = xs[0];
  g.C = xs[1];
  g.H = xs[2];
  g.W = xs[3];
  g.K = ws[0];
  g.R = ws[2];
  g.S = ws[3];
  g.G = p.groups;
  g.Cg = g.C / g.G;
  g.Kg = g.K / g.G;
  g.p = p;
  g.P = (g.H + 2 * p.pad_h - p.dil_h * (g.R - 1) - 1) / p.stride_h + 1;
  g.Q = (g.W + 2 * p.pad_w - p.dil_w * (g.S - 1) - 1) / p.stride_w + 1;
  return g;
}

// x: (Cg,H,W) -> col: (Cg*R*S, P*Q)
void im2col(const float* x, const ConvGeom& g, float* col) {
  const auto& p = g.p;
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        float* row = col + ((c * g.R + r) * g.S + s) * g.pq();
        for (int64_t oh = 0; oh < g.P; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
          float* out = row + oh * g.Q;
          if (ih < 0 || ih >= g.H) {
            std::fill(out, out + g.Q, 0.f);
            continue;
          }
          const float* in = x + (c * g.H + ih) * g.W;
          const int64_t off = s * p.dil_w - p.pad_w;
          if (p.stride_w == 1) {
            // valid ow: 0 <= ow + off < W
            const int64_t lo = std::clamp<int64_t>(-off, 0, g.Q), hi = std::clamp<int64_t>(g.W - off, 0, g.Q);
            std::fill(out, out + lo, 0.f);
            if (hi > lo) std::memcpy(out + lo, in + lo + off, sizeof(float) * static_cast<size_t>(hi - lo));
            std::fill(out + std::max(hi, lo), out + g.Q, 0.f);
          } else {
            for (int64_t ow = 0; ow < g.Q; ++ow) {
              const int64_t iw = ow * p.stride_w + off;
              out[ow] = (iw >= 0 && iw < g.W) ? in[iw] : 0.f;
            }
          }
        }
      }
}

// col: (Cg*R*S, P*Q) accumulated into dx: (Cg,H,W)
void col2im(const float* col, const ConvGeom& g, float* dx) {
  const auto& p = g.p;
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const float* row = col + ((c * g.R + r) * g.S + s) * g.pq();
        for (int64_t oh = 0; oh < g.P; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
          if (ih < 0 || ih >= g.H) continue;
          float* out = dx + (c * g.H + ih) * g.W;
          const float* in = row + oh * g.Q;
          for (int64_t ow = 0; ow < g.Q; ++ow) {
            const int64_t iw = ow * p.stride_w - p.pad_w + s * p.dil_w;
            if (iw >= 0 && iw < g.W) out[iw] += in[ow];
          }
        }
      }
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  kernels().sgemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
}

void conv_forward_general(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  const int64_t rows = g.col_rows(), pq = g.pq();
  // Buffers are allocated here, not inside the chunks, so the allocation order (and the allocator's
  // cache reuse) does not depend on thread timing.
  const int chunks = static_cast<int>(std::min<int64_t>(num_threads(), std::max<int64_t>(g.N, 1)));
  std::vector<TensorPtr> cols(chunks);
  for (auto& c : cols) c = empty({rows * pq});
  parallel_chunks(chunks, [&](int chunk, int total) {
    const int64_t n0 = g.N * chunk / total, n1 = g.N * (chunk + 1) / total;
    const TensorPtr& col = cols[chunk];
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t grp = 0; grp < g.G; ++grp) {
        const float* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
        float* yg = y + (n * g.K + grp * g.Kg) * pq;
        const float* wg = w + grp * g.Kg * rows;
        const bool direct = g.is_pointwise();
        const float* src = xg;
        if (!direct) {
          im2col(xg, g, col->f32());
          src = col->f32();
        }
        if (b) {
          for (int64_t k = 0; k < g.Kg; ++k) std::fill(yg + k * pq, yg + (k + 1) * pq, b[grp * g.Kg + k]);
        }
        gemm(false, false, g.Kg, pq, rows, wg, rows, src, pq, b ? 1.f : 0.f, yg, pq);
      }
    }
  });
}

void conv_backward_general(const ConvGeom& g, const float* x, const float* w, const float* gy, float* dx, float* dw) {
  const int64_t rows = g.col_rows(), pq = g.pq();
  const int64_t wsize = g.K * rows;
  const int chunks = static_cast<int>(std::min<int64_t>(num_threads(), std::max<int64_t>(g.N, 1)));
  std::vector<TensorPtr> partial(chunks), cols(chunks);
  for (int c = 0; c < chunks; ++c) {
    cols[c] = empty({rows * pq});
    if (dw) partial[c] = zeros({wsize});
  }
  parallel_chunks(chunks, [&](int c, int total) {
    const int64_t n0 = g.N * c / total, n1 = g.N * (c + 1) / total;
    const TensorPtr& col = cols[c];
    const TensorPtr& dwp = partial[c];
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t grp = 0; grp < g.G; ++grp) {
        const float* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
        const float* gyg = gy + (n * g.K + grp * g.Kg) * pq;
        const float* wg = w + grp * g.Kg * rows;
        // A 1x1, stride-1, unpadded convolution is a GEMM on the image itself: no im2col, no col2im.
        const bool direct = g.is_pointwise();
        float* dxg = dx ? dx + (n * g.C + grp * g.Cg) * g.H * g.W : nullptr;
        if (dwp) {
          const float* src = xg;
          if (!direct) {
            im2col(xg, g, col->f32());
            src = col->f32();
          }
          gemm(false, true, g.Kg, rows, pq, gyg, pq, src, pq, 1.f, dwp->f32() + grp * g.Kg * rows, rows);
        }
        if (dx && direct) {
          gemm(true, false, rows, pq, g.Kg, wg, rows, gyg, pq, 0.f, dxg, pq);
        } else if (dx) {
          gemm(true, false, rows, pq, g.Kg, wg, rows, gyg, pq, 0.f, col->f32(), pq);
          col2im(col->f32(), g, dxg);
        }
      }
    }
  });
  if (dw) {
    std::fill(dw, dw + wsize, 0.f);
    for (const auto& p : partial) {
      if (!p) continue;
      const float* pp = p->f32();
      for (int64_t i = 0; i < wsize; ++i) dw[i] += pp[i];
    }
  }
}

struct Conv2dBackward final : Node {
  TensorPtr x, w;
  TensorPtr y, relu_bits;  // with a fused ReLU: its output (general path) or a bit per output (fast path)
  ConvGeom geom;
  const char* name() const override { return y || relu_bits ? "Conv2dReluBackward" : "Conv2dBackward"; }
  void backward(const TensorPtr& g_in, std::vector<TensorPtr>& gin) override {
    const ConvFastShape fs{geom.N, geom.C, geom.H, geom.W, geom.K, geom.R, geom.S, geom.p};
    if (conv_fast_applies(fs)) {
      // The fast path applies the ReLU mask while padding the gradient, and writes dx, dw and db.
      TensorPtr dx = needs_grad(0) ? empty(x->shape) : nullptr;
      TensorPtr dw = needs_grad(1) ? empty(w->shape) : nullptr;
      TensorPtr db = needs_grad(2) ? empty({geom.K}) : nullptr;
      ConvGradSource src;
      src.gy = g_in->f32();
      src.y = y ? y->f32() : nullptr;
      src.relu_bits = relu_bits ? relu_bits->data<uint8_t>() : nullptr;
      conv_fast_backward(fs, x->f32(), w->f32(), src, dx ? dx->f32() : nullptr, dw ? dw->f32() : nullptr,
                         db ? db->f32() : nullptr);
      gin[0] = dx;
      gin[1] = dw;
      gin[2] = db;
      return;
    }
    TensorPtr g = g_in;
    if (relu_bits) {
      // Saved by the fast forward; the fast path was switched off since.
      auto masked = empty(g_in->shape);
      const float* pg = g_in->f32();
      const uint8_t* bits = relu_bits->data<uint8_t>();
      float* pm = masked->f32();
      const int64_t Q = geom.Q, stride = relu_bits_stride(Q), rows = g_in->numel() / Q;
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t q = 0; q < Q; ++q) pm[i * Q + q] = (bits[i * stride + q / 8] >> (q % 8)) & 1 ? pg[i * Q + q] : 0.f;
      g = masked;
    } else if (y) {
      auto masked = empty(g_in->shape);
      const float* pg = g_in->f32();
      const float* py = y->f32();
      float* pm = masked->f32();
      parallel_for(masked->numel(), 32768, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) pm[i] = py[i] > 0.f ? pg[i] : 0.f;
      });
      g = masked;
    }
    const ConvDwShape ds{geom.N, geom.C, geom.H, geom.W, geom.K, geom.R, geom.S, geom.p};
    const bool depthwise = conv_depthwise_applies(ds);
    TensorPtr dx = needs_grad(0) ? (depthwise ? empty(x->shape) : zeros(x->shape)) : nullptr;
    TensorPtr dw = needs_grad(1) ? empty(w->shape) : nullptr;
    if (depthwise) {
      conv_depthwise_backward(ds, x->f32(), w->f32(), g->f32(), dx ? dx->f32() : nullptr, dw ? dw->f32() : nullptr);
    } else {
      conv_backward_general(geom, x->f32(), w->f32(), g->f32(), dx ? dx->f32() : nullptr,
                            dw ? dw->f32() : nullptr);
    }
    gin[0] = dx;
    gin[1] = dw;
    if (needs_grad(2)) {
      auto db = zeros({geom.K});
      float* pb = db->f32();
      const float* pg = g->f32();
      const int64_t pq = geom.pq();
      for (int64_t n = 0; n < geom.N; ++n)
        for (int64_t k = 0; k < geom.K; ++k) {
          double s = 0.0;
          const float* row = pg + (n * geom.K + k) * pq;
          for (int64_t i = 0; i < pq; ++i) s += row[i];
          pb[k] += static_cast<float>(s);
        }
      gin[2] = db;
    }
  }
  void release_saved() override {
    x.reset();
    w.reset();
    y.reset();
  }
};

// y = maxpool2x2(relu(conv2d(x, w, b))) computed as one op: the gradient is unpooled (at each
// window's maximum, where the pooled value is > 0) straight into the padded gradient buffer.
struct Conv2dReluPoolBackward final : Node {
  TensorPtr x, w, ypool, code;  // code: (N,K,P/2,Q/2) each maximum's place in its window
  ConvGeom geom;
  const char* name() const override { return "Conv2dReluMaxPoolBackward"; }
  void backward(const TensorPtr& gpool, std::vector<TensorPtr>& gin) override {
    const ConvFastShape fs{geom.N, geom.C, geom.H, geom.W, geom.K, geom.R, geom.S, geom.p};
    TensorPtr dx = needs_grad(0) ? empty(x->shape) : nullptr;
    TensorPtr dw = needs_grad(1) ? empty(w->shape) : nullptr;
    TensorPtr db = needs_grad(2) ? empty({geom.K}) : nullptr;
    if (conv_fast_applies(fs)) {
      ConvGradSource src;
      src.gpool = gpool->f32();
      src.ypool = ypool->f32();
      src.code = code->data<uint8_t>();
      conv_fast_backward(fs, x->f32(), w->f32(), src, dx ? dx->f32() : nullptr, dw ? dw->f32() : nullptr,
                         db ? db->f32() : nullptr);
    } else {
      // The fast path was switched off since the forward: expand the gradient, then the general path.
      const int64_t Pp = geom.P / 2, Qp = geom.Q / 2;
      auto g = zeros({geom.N, geom.K, geom.P, geom.Q});
      const float* pg = gpool->f32();
      const float* py = ypool->f32();
      const uint8_t* pc = code->data<uint8_t>();
      float* out = g->f32();
      for (int64_t pl = 0; pl < geom.N * geom.K; ++pl)
        for (int64_t i = 0; i < Pp; ++i)
          for (int64_t j = 0; j < Qp; ++j) {
            const int64_t o = (pl * Pp + i) * Qp + j;
            if (py[o] > 0.f) out[(pl * geom.P + 2 * i + pc[o] / 2) * geom.Q + 2 * j + pc[o] % 2] = pg[o];
          }
      if (dx) std::fill(dx->f32(), dx->f32() + dx->numel(), 0.f);
      conv_backward_general(geom, x->f32(), w->f32(), g->f32(), dx ? dx->f32() : nullptr, dw ? dw->f32() : nullptr);
      if (db) {
        float* pb = db->f32();
        std::fill(pb, pb + geom.K, 0.f);
        const int64_t pq = geom.pq();
        for (int64_t n = 0; n < geom.N; ++n)
          for (int64_t k = 0; k < geom.K; ++k) {
            double acc = 0.0;
            const float* row = out + (n * geom.K + k) * pq;
            for (int64_t i = 0; i < pq; ++i) acc += row[i];
            pb[k] += static_cast<float>(acc);
          }
      }
    }
    gin[0] = dx;
    gin[1] = dw;
    gin[2] = db;
  }
  void release_saved() override {
    x.reset();
    w.reset();
    ypool.reset();
    code.reset();
  }
};

}  // namespace

namespace {

// Checks what could corrupt memory and returns the geometry.
ConvGeom checked_geometry(const TensorPtr& x_in, const TensorPtr& w_in, const TensorPtr& b_in, const Conv2dParams& p) {
  expect_f32(x_in, "input");
  expect_f32(w_in, "weight");
  DLF_THROW_RANGE_IF(x_in->dim() != 4 || w_in->dim() != 4, "conv2d: expected input (N,C,H,W) and weight (K,C/groups,R,S) but received shapes ",
                     shape_str(x_in->shape), " and ", shape_str(w_in->shape));
  DLF_THROW_RANGE_IF(p.groups < 1 || p.stride_h < 1 || p.stride_w < 1 || p.dil_h < 1 || p.dil_w < 1 || p.pad_h < 0 ||
                         p.pad_w < 0,
                     "conv2d: stride, dilation and groups must be positive and padding non-negative");
  DLF_THROW_RANGE_IF(x_in->shape[1] % p.groups != 0 || w_in->shape[0] % p.groups != 0 ||
                         w_in->shape[1] * p.groups != x_in->shape[1],
                     "conv2d: input shape ", shape_str(x_in->shape), " and weight shape ", shape_str(w_in->shape),
                     " do not agree for ", p.groups, " group(s)");
  const ConvGeom g = geometry(x_in->shape, w_in->shape, p);
  DLF_THROW_RANGE_IF(g.P <= 0 || g.Q <= 0, "conv2d: input shape ", shape_str(x_in->shape),
                     " is too small for weight shape ", shape_str(w_in->shape), " with this padding and dilation");
  if (b_in) {
    expect_f32(b_in, "bias");
    DLF_THROW_RANGE_IF(b_in->dim() != 1 || b_in->shape[0] != g.K, "conv2d: bias shape ", shape_str(b_in->shape),
                       " does not match weight shape ", shape_str(w_in->shape));
  }
  return g;
}

}  // namespace

TensorPtr conv2d(const TensorPtr& x_in, const TensorPtr& w_in, const TensorPtr& b_in, const Conv2dParams& p, bool relu) {
  const ConvGeom g = checked_geometry(x_in, w_in, b_in, p);
  auto x = contiguous_data(x_in);
  auto w = contiguous_data(w_in);
  auto b = b_in ? contiguous_data(b_in) : nullptr;
  auto y = empty({g.N, g.K, g.P, g.Q});
  const bool grad = any_requires_grad({&x_in, &w_in, &b_in});
  const ConvFastShape fs{g.N, g.C, g.H, g.W, g.K, g.R, g.S, p};
  const bool fast = conv_fast_applies(fs);
  TensorPtr relu_bits;
  const ConvDwShape ds{g.N, g.C, g.H, g.W, g.K, g.R, g.S, p};
  if (conv_depthwise_applies(ds)) {
    conv_depthwise_forward(ds, x->f32(), w->f32(), b ? b->f32() : nullptr, y->f32(), relu);
  } else if (fast) {
    if (relu && grad) relu_bits = empty({conv_fast_relu_bits_size(fs)}, DType::U8);
    conv_fast_forward(fs, x->f32(), w->f32(), b ? b->f32() : nullptr, y->f32(), relu,
                      relu_bits ? relu_bits->data<uint8_t>() : nullptr);
  } else {
    conv_forward_general(g, x->f32(), w->f32(), b ? b->f32() : nullptr, y->f32());
    if (relu) {
      float* py = y->f32();
      parallel_for(y->numel(), 32768, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) py[i] = py[i] > 0.f ? py[i] : 0.f;
      });
    }
  }
  if (grad) {
    auto node = make_node<Conv2dBackward>();
    node->x = save(x);
    node->w = save(w);
    if (relu_bits) {
      node->relu_bits = relu_bits;
    } else if (relu) {
      node->y = save(y);
    }
    node->geom = g;
    attach(y, node, {&x_in, &w_in, &b_in});
  }
  return y;
}

TensorPtr conv2d_relu_maxpool2x2(const TensorPtr& x_in, const TensorPtr& w_in, const TensorPtr& b_in,
                                 const Conv2dParams& p) {
  const ConvGeom g = checked_geometry(x_in, w_in, b_in, p);
  const ConvFastShape fs{g.N, g.C, g.H, g.W, g.K, g.R, g.S, p};
  if (!conv_fast_pool_applies(fs)) return max_pool2d(conv2d(x_in, w_in, b_in, p, true), Pool2dParams{2, 2, 2, 2, 0, 0});
  auto x = contiguous_data(x_in);
  auto w = contiguous_data(w_in);
  auto b = b_in ? contiguous_data(b_in) : nullptr;
  auto y = empty({g.N, g.K, g.P / 2, g.Q / 2});
  auto code = empty({g.N, g.K, g.P / 2, g.Q / 2}, DType::U8);
  conv_fast_forward_relu_pool(fs, x->f32(), w->f32(), b ? b->f32() : nullptr, y->f32(), code->data<uint8_t>());
  if (any_requires_grad({&x_in, &w_in, &b_in})) {
    auto node = make_node<Conv2dReluPoolBackward>();
    node->x = save(x);
    node->w = save(w);
    node->ypool = save(y);
    node->code = code;
    node->geom = g;
    attach(y, node, {&x_in, &w_in, &b_in});
  }
  return y;
}

}  // namespace dlf
