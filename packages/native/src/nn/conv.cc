// Convolution ops and their autograd nodes. The algorithm is chosen per layer shape: one dense
// matrix per image for planes no larger than the kernel (conv_dense.cc); depthwise
// kernels (conv_depthwise.cc) for groups == channels; Winograd F(4x4,3x3) (conv_wino.cc) for
// stride-1 3x3 layers of 16 channels or more, and 5x5 layers (as four 3x3 blocks) of 16 outputs
// or more; the direct / Winograd F(2,3) kernels (conv_fast.cc)
// for stride-1 layers of up to 64 channels on planes at least a vector wide; for undilated layers
// of stride 2 or more, direct convolutions vectorised over channels (conv_kvec.cc: the forward, the
// weight gradient of kernels 2 to 8 wide, the input gradient of 3x3 stride-2 layers); grouped
// stride-1 layers one group at a time on those kernels (conv_grouped.cc); otherwise the general
// batched im2col + GEMM path (conv_gemm.cc), which covers every stride, padding, dilation and
// group. conv_plan() is the one place that chooses.
#include <algorithm>
#include <cstring>

#include "autograd/node.h"
#include "nn/conv_dense.h"
#include "nn/conv_depthwise.h"
#include "nn/conv_fast.h"
#include "nn/conv_gemm.h"
#include "nn/conv_grouped.h"
#include "nn/conv_kvec.h"
#include "math/ops.h"
#include "nn/conv_wino.h"
#include "nn/ops.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

// gy: (N,K,pq) -> db: (K), overwritten: each channel summed in double vectors, images in order
// (the same bits for any thread count).
void bias_gradient(int64_t N, int64_t K, int64_t pq, const float* gy, float* db) {
  const Kernels& kt = kernels();
  parallel_for(K, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double s = 0.0;
      kt.bn_channel_stats(gy + k * pq, N, K * pq, pq, 0.f, &s, nullptr);
      db[k] = static_cast<float>(s);
    }
  });
}

// The one place that picks each pass's algorithm (conv2d, its backward and conv2d_plan ask it).
ConvPlan conv_plan(const ConvGeom& g) {
  const auto all = [](ConvAlgo a) { return ConvPlan{a, a, a}; };
  if (conv_dense_applies(g)) return all(ConvAlgo::Dense);
  if (conv_depthwise_applies(ConvDwShape{g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.p})) return all(ConvAlgo::Depthwise);
  if (conv_grouped_applies(g)) return all(ConvAlgo::Grouped);
  if (conv_wino_applies(g)) return all(ConvAlgo::Winograd);
  if (conv_fast_applies(fast_shape(g))) return all(ConvAlgo::Direct);
  ConvPlan plan{conv_kvec_applies(g) ? ConvAlgo::ChannelVectorised : ConvAlgo::Gemm, ConvAlgo::Gemm, ConvAlgo::Gemm};
  if (conv_kvec_wgrad_applies(g)) {
    plan.weight_grad = ConvAlgo::ChannelVectorised;
    if (conv_kvec_dgrad_applies(g)) plan.input_grad = ConvAlgo::ChannelVectorised;
  }
  return plan;
}

// g: (N,K,P,Q), the gradient at the convolution's output (after any fused ReLU) -> dx, dw, db (each
// overwritten, each may be null) by the algorithm conv_plan() picks now; add (dx's shape, or null)
// is added to dx, which only the Winograd input gradient takes (Conv2dBackward::absorbs_pending).
void conv_backward_planned(const ConvGeom& geom, const float* x, const float* w, const float* g, float* dx, float* dw,
                           float* db, const float* add) {
  const ConvPlan plan = conv_plan(geom);
  switch (plan.weight_grad) {
    case ConvAlgo::Direct: {
      ConvGradSource src;
      src.gy = g;
      conv_fast_backward(fast_shape(geom), x, w, src, dx, dw, db);
      return;
    }
    case ConvAlgo::Winograd: conv_wino_backward(geom, x, w, g, dx, dw, add); break;
    case ConvAlgo::Dense: conv_dense_backward(geom, x, w, g, dx, dw); break;
    case ConvAlgo::Depthwise:
      conv_depthwise_backward(ConvDwShape{geom.N, geom.C, geom.H, geom.W, geom.K, geom.R, geom.S, geom.p}, x, w, g,
                              dx, dw);
      break;
    case ConvAlgo::Grouped: conv_grouped_backward(geom, x, w, g, dx, dw); break;
    case ConvAlgo::ChannelVectorised:
      if (dx && plan.input_grad == ConvAlgo::ChannelVectorised) {
        conv_kvec_backward_data(geom, w, g, dx);
      } else if (dx) {
        conv_backward_general(geom, x, w, g, dx, nullptr);
      }
      if (dw) conv_kvec_backward_weights(geom, x, g, dw);
      break;
    default: conv_backward_general(geom, x, w, g, dx, dw); break;
  }
  if (db) bias_gradient(geom.N, geom.K, geom.pq(), g, db);
}

// The gradients a convolution node writes, dx, dw and db (each allocated only when its input needs
// it; every path overwrites them), handed to gin; their data.
struct ConvGradBuffers {
  float *dx, *dw, *db;
};
ConvGradBuffers conv_grad_buffers(const Node& node, const Shape& x, const Shape& w, int64_t K,
                                  std::vector<TensorPtr>& gin) {
  gin[0] = node.needs_grad(0) ? empty(x) : nullptr;
  gin[1] = node.needs_grad(1) ? empty(w) : nullptr;
  gin[2] = node.needs_grad(2) ? empty({K}) : nullptr;
  const auto data = [](const TensorPtr& t) { return t ? t->f32() : nullptr; };
  return {data(gin[0]), data(gin[1]), data(gin[2])};
}

struct Conv2dBackward final : Node {
  TensorPtr x, w;
  TensorPtr y, relu_bits;  // with a fused ReLU: its output (general path) or a bit per output (fast path)
  ConvGeom geom;
  const char* name() const override { return y || relu_bits ? "Conv2dReluBackward" : "Conv2dBackward"; }
  // The Winograd input gradient adds what the input's other consumers sent (a residual block's
  // shortcut) as it writes its output tiles.
  bool absorbs_pending() const override { return conv_plan(geom).input_grad == ConvAlgo::Winograd; }
  void backward(const TensorPtr& g_in, std::vector<TensorPtr>& gin) override {
    const auto [pdx, pdw, pdb] = conv_grad_buffers(*this, x->shape, w->shape, geom.K, gin);
    if (conv_plan(geom).weight_grad == ConvAlgo::Direct) {
      // The fast path applies the ReLU mask while padding the gradient.
      ConvGradSource src;
      src.gy = g_in->f32();
      src.y = y ? y->f32() : nullptr;
      src.relu_bits = relu_bits ? relu_bits->data<uint8_t>() : nullptr;
      conv_fast_backward(fast_shape(geom), x->f32(), w->f32(), src, pdx, pdw, pdb);
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
      g = relu_backward_mask(g_in, y);
    }
    const TensorPtr add = pdx && absorbs_pending() && !pending.empty() ? std::move(pending[0]) : nullptr;
    conv_backward_planned(geom, x->f32(), w->f32(), g->f32(), pdx, pdw, pdb, add ? add->f32() : nullptr);
  }
  void release_saved() override {
    x.reset();
    w.reset();
    y.reset();
  }
};

// y = maxpool2x2(relu(conv2d(x, w, b))) computed as one op. The direct kernels keep each maximum's
// place in its window as a byte (code) and unpool the gradient straight into their padded gradient
// buffer; the Winograd path keeps max_pool2d's argmax, and the gradient is unpooled (where the
// pooled value is > 0: the ReLU) into a full-size buffer for its backward.
struct Conv2dReluPoolBackward final : Node {
  TensorPtr x, w, ypool;
  TensorPtr code;    // direct kernels: (N,K,P/2,Q/2) bytes, each maximum's place in its window
  TensorPtr argmax;  // Winograd: (N,K,P/2,Q/2) int32, each maximum's index in its (P,Q) plane
  ConvGeom geom;
  const char* name() const override { return "Conv2dReluMaxPoolBackward"; }
  void backward(const TensorPtr& gpool, std::vector<TensorPtr>& gin) override {
    const ConvFastShape fs = fast_shape(geom);
    const auto [pdx, pdw, pdb] = conv_grad_buffers(*this, x->shape, w->shape, geom.K, gin);
    if (code && conv_fast_applies(fs)) {
      ConvGradSource src;
      src.gpool = gpool->f32();
      src.ypool = ypool->f32();
      src.code = code->data<uint8_t>();
      conv_fast_backward(fs, x->f32(), w->f32(), src, pdx, pdw, pdb);
      return;
    }
    // The gradient at the convolution's output: gpool where the pooled value passed the ReLU, at
    // its window's maximum, zero elsewhere (the fast path may have been switched off since).
    const int64_t Pp = geom.P / 2, Qp = geom.Q / 2;
    const TensorPtr gm = relu_backward_mask(gpool, ypool);
    auto g = empty({geom.N, geom.K, geom.P, geom.Q});
    if (argmax) {
      max_unpool2x2(gm->f32(), argmax->data<int32_t>(), geom.N * geom.K, geom.P, geom.Q, g->f32());
    } else {
      std::fill(g->f32(), g->f32() + g->numel(), 0.f);
      const float* pg = gm->f32();
      const uint8_t* pc = code->data<uint8_t>();
      float* out = g->f32();
      for (int64_t pl = 0; pl < geom.N * geom.K; ++pl)
        for (int64_t i = 0; i < Pp; ++i)
          for (int64_t j = 0; j < Qp; ++j) {
            const int64_t o = (pl * Pp + i) * Qp + j;
            out[(pl * geom.P + 2 * i + pc[o] / 2) * geom.Q + 2 * j + pc[o] % 2] = pg[o];
          }
    }
    // The bias gradient sums the pooled gradient: a quarter of the values, the same sums.
    if (pdb) bias_gradient(geom.N, geom.K, Pp * Qp, gm->f32(), pdb);
    conv_backward_planned(geom, x->f32(), w->f32(), g->f32(), pdx, pdw, nullptr, nullptr);
  }
  void release_saved() override {
    x.reset();
    w.reset();
    ypool.reset();
    code.reset();
    argmax.reset();
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
  const ConvFastShape fs = fast_shape(g);
  TensorPtr relu_bits;
  const float *px = x->f32(), *pw = w->f32(), *pb = b ? b->f32() : nullptr;
  switch (conv_plan(g).forward) {
    case ConvAlgo::Dense: conv_dense_forward(g, px, pw, pb, y->f32(), relu); break;
    case ConvAlgo::Depthwise:
      conv_depthwise_forward(ConvDwShape{g.N, g.C, g.H, g.W, g.K, g.R, g.S, p}, px, pw, pb, y->f32(), relu);
      break;
    case ConvAlgo::Grouped: conv_grouped_forward(g, px, pw, pb, y->f32(), relu); break;
    case ConvAlgo::Winograd: conv_wino_forward(g, px, pw, pb, nullptr, y->f32(), relu); break;
    case ConvAlgo::Direct:
      if (relu && grad) relu_bits = empty({conv_fast_relu_bits_size(fs)}, DType::U8);
      conv_fast_forward(fs, px, pw, pb, y->f32(), relu, relu_bits ? relu_bits->data<uint8_t>() : nullptr);
      break;
    case ConvAlgo::ChannelVectorised: conv_kvec_forward(g, px, pw, pb, y->f32(), relu); break;
    default: conv_forward_general(g, px, pw, pb, y->f32(), relu); break;
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

// x: (N,C,H,W), w: (K,C/groups,R,S), b: (K) or null, residual: (N,K,P,Q) -> y: (N,K,P,Q)
TensorPtr conv2d_add(const TensorPtr& x_in, const TensorPtr& w_in, const TensorPtr& b_in, const Conv2dParams& p,
                     const TensorPtr& residual_in, bool relu) {
  const ConvGeom g = checked_geometry(x_in, w_in, b_in, p);
  const Shape out{g.N, g.K, g.P, g.Q};
  expect_f32(residual_in, "residual");
  DLF_THROW_RANGE_IF(residual_in->shape != out, "conv2d: residual of shape ", shape_str(residual_in->shape),
                     " does not match the output shape ", shape_str(out));
  // With a graph to record, or off the Winograd path (one group: never depthwise), the ops
  // themselves; the fused epilogue gives the same bits: y is rounded once, then the residual added.
  if (any_requires_grad({&x_in, &w_in, &b_in, &residual_in}) || conv_plan(g).forward != ConvAlgo::Winograd) {
    const TensorPtr y = conv2d(x_in, w_in, b_in, p, false);
    return relu ? add_relu(y, residual_in) : binary(BinaryOp::Add, y, residual_in);
  }
  auto x = contiguous_data(x_in);
  auto w = contiguous_data(w_in);
  auto b = b_in ? contiguous_data(b_in) : nullptr;
  auto r = contiguous_data(residual_in);
  auto y = empty(out);
  conv_wino_forward(g, x->f32(), w->f32(), b ? b->f32() : nullptr, r->f32(), y->f32(), relu);
  return y;
}

TensorPtr conv2d_relu_maxpool2x2(const TensorPtr& x_in, const TensorPtr& w_in, const TensorPtr& b_in,
                                 const Conv2dParams& p) {
  const ConvGeom g = checked_geometry(x_in, w_in, b_in, p);
  const ConvFastShape fs = fast_shape(g);
  // (Not conv_plan: a one-channel input counts as depthwise there, but pools here on the fast kernels.)
  // Winograd F(4x4,3x3) pools each block of output tiles while it is in cache; layers it does not
  // take (fewer channels) pool inside the direct kernels' F(2,3) tiles where those apply.
  const bool dense = conv_dense_applies(g);
  const bool wino = !dense && conv_wino_applies(g) && g.P >= 2 && g.Q >= 2;
  const bool direct = !dense && !wino && conv_fast_pool_applies(fs);
  if (!direct && !wino) return max_pool2d(conv2d(x_in, w_in, b_in, p, true), Pool2dParams{2, 2, 2, 2, 0, 0});
  auto x = contiguous_data(x_in);
  auto w = contiguous_data(w_in);
  auto b = b_in ? contiguous_data(b_in) : nullptr;
  const Shape pooled{g.N, g.K, g.P / 2, g.Q / 2};
  auto y = empty(pooled);
  const bool grad = any_requires_grad({&x_in, &w_in, &b_in});
  TensorPtr code, argmax;
  if (wino) {
    if (grad) argmax = empty(pooled, DType::I32);
    conv_wino_forward_relu_pool(g, x->f32(), w->f32(), b ? b->f32() : nullptr, y->f32(),
                                argmax ? argmax->data<int32_t>() : nullptr);
  } else {
    code = empty(pooled, DType::U8);
    conv_fast_forward_relu_pool(fs, x->f32(), w->f32(), b ? b->f32() : nullptr, y->f32(), code->data<uint8_t>());
  }
  if (grad) {
    auto node = make_node<Conv2dReluPoolBackward>();
    node->x = save(x);
    node->w = save(w);
    node->ypool = save(y);
    node->code = code;
    node->argmax = argmax;
    node->geom = g;
    attach(y, node, {&x_in, &w_in, &b_in});
  }
  return y;
}

const char* conv_algo_name(ConvAlgo a) {
  switch (a) {
    case ConvAlgo::Dense: return "dense";
    case ConvAlgo::Depthwise: return "depthwise";
    case ConvAlgo::Grouped: return "grouped";
    case ConvAlgo::Winograd: return "winograd";
    case ConvAlgo::Direct: return "direct";
    case ConvAlgo::ChannelVectorised: return "channel-vectorised";
    case ConvAlgo::Gemm: return "gemm";
  }
  return "gemm";
}

ConvPlan conv2d_plan(const TensorPtr& x, const TensorPtr& w, const Conv2dParams& p) {
  return conv_plan(checked_geometry(x, w, nullptr, p));
}

}  // namespace dlf
