#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/node.h"
#include "nn/conv_scratch.h"
#include "nn/ops.h"
#include "runtime/simd.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

struct PoolGeom {
  int64_t N, C, H, W, P, Q;
  Pool2dParams p;
};

PoolGeom pool_geometry(const TensorPtr& x, const Pool2dParams& p, const char* op) {
  DLF_THROW_RANGE_IF(x->dim() != 4, op, ": expected input (N,C,H,W) but received shape ", shape_str(x->shape));
  DLF_THROW_RANGE_IF(p.kernel_h < 1 || p.kernel_w < 1 || p.stride_h < 1 || p.stride_w < 1 || p.pad_h < 0 || p.pad_w < 0,
                     op, ": kernel and stride must be positive and padding non-negative");
  DLF_THROW_RANGE_IF(p.pad_h * 2 > p.kernel_h || p.pad_w * 2 > p.kernel_w, op,
                     ": padding must be at most half the kernel size");
  PoolGeom g{x->shape[0], x->shape[1], x->shape[2], x->shape[3], 0, 0, p};
  g.P = (g.H + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1;
  g.Q = (g.W + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1;
  DLF_THROW_RANGE_IF(g.P <= 0 || g.Q <= 0, op, ": input shape ", shape_str(x->shape), " is smaller than the kernel");
  // The kernels index a plane with int32 (the max pool's argmax too).
  DLF_THROW_RANGE_IF(g.H * g.W >= (int64_t{1} << 31), op, ": input shape ", shape_str(x->shape),
                     " has planes of 2^31 values or more");
  return g;
}

// Any other window: the kernel table's pool_window over the planes, in parallel (thread scratch for
// the padded rows).
void pool_any_window(const PoolGeom& g, bool max, const float* x, float* y, int32_t* argmax) {
  const auto& p = g.p;
  const PoolWindow w{g.H, g.W, g.P, g.Q, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.pad_h, p.pad_w};
  const Kernels& kt = kernels();
  parallel_for(g.N * g.C, 4, [&](int64_t a, int64_t b) {
    float* scratch = thread_scratch(0, g.H * kt.pool_window_row(w));
    kt.pool_window(w, max, x + a * g.H * g.W, b - a, y + a * g.P * g.Q, argmax ? argmax + a * g.P * g.Q : nullptr,
                   scratch);
  });
}

// gy: (N,C,P,Q) -> dx: (N,C,H,W), overwritten. With count_include_pad the divisor is kh * kw
// everywhere, so the input gradient is itself a window average: over gy spread out with stride - 1
// zeros between its values, in a kh x kw window padded by kh - 1 - ph (kw - 1 - pw), stride 1. Rows
// and columns that no window covers (past the last window) come out as 0.
void avg_pool_backward_any_window(const PoolGeom& g, const float* gy, float* dx) {
  const auto& p = g.p;
  const int64_t Hs = (g.P - 1) * p.stride_h + 1, Ws = (g.Q - 1) * p.stride_w + 1;
  const bool spread = p.stride_h > 1 || p.stride_w > 1;
  const PoolWindow w{Hs, Ws, g.H, g.W, p.kernel_h, p.kernel_w, 1, 1, p.kernel_h - 1 - p.pad_h, p.kernel_w - 1 - p.pad_w};
  const Kernels& kt = kernels();
  parallel_for(g.N * g.C, 4, [&](int64_t a, int64_t b) {
    float* scratch = thread_scratch(0, Hs * kt.pool_window_row(w));
    if (!spread) {
      kt.pool_window(w, false, gy + a * g.P * g.Q, b - a, dx + a * g.H * g.W, nullptr, scratch);
      return;
    }
    float* plane = thread_scratch(1, Hs * Ws);
    std::fill(plane, plane + Hs * Ws, 0.f);
    for (int64_t pl = a; pl < b; ++pl) {
      const float* src = gy + pl * g.P * g.Q;
      for (int64_t i = 0; i < g.P; ++i)
        for (int64_t j = 0; j < g.Q; ++j) plane[i * p.stride_h * Ws + j * p.stride_w] = src[i * g.Q + j];
      kt.pool_window(w, false, plane, 1, dx + pl * g.H * g.W, nullptr, scratch);
    }
  });
}

// The common 2x2 / stride 2 / no padding case has vector kernels (isa/pool.h).
bool is_2x2(const PoolGeom& g) {
  const auto& p = g.p;
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.pad_h == 0 && p.pad_w == 0 &&
         2 * g.P <= g.H && 2 * g.Q <= g.W && g.H * g.W < (int64_t{1} << 31);
}

// y = maxpool(x): dx[argmax] += dy
struct MaxPoolBackward final : Node {
  TensorPtr argmax;  // int32 (N,C,P,Q): index into the (H,W) plane
  PoolGeom g;
  const char* name() const override { return "MaxPool2dBackward"; }
  void backward(const TensorPtr& gy, std::vector<TensorPtr>& gin) override {
    if (is_2x2(g)) {
      auto dx = empty(input_shapes[0]);
      max_unpool2x2(gy->f32(), argmax->data<int32_t>(), g.N * g.C, g.H, g.W, dx->f32());
      gin[0] = dx;
      return;
    }
    auto dx = zeros(input_shapes[0]);
    const int64_t planes = g.N * g.C, in_plane = g.H * g.W, out_plane = g.P * g.Q;
    const float* pg = gy->f32();
    const int32_t* am = argmax->data<int32_t>();
    float* pd = dx->f32();
    parallel_for(planes, 16, [&](int64_t a, int64_t b) {
      for (int64_t pl = a; pl < b; ++pl)
        for (int64_t i = 0; i < out_plane; ++i) pd[pl * in_plane + am[pl * out_plane + i]] += pg[pl * out_plane + i];
    });
    gin[0] = dx;
  }
  void release_saved() override { argmax.reset(); }
};

struct AvgPoolBackward final : Node {
  PoolGeom g;
  const char* name() const override { return "AvgPool2dBackward"; }
  void backward(const TensorPtr& gy, std::vector<TensorPtr>& gin) override {
    if (is_2x2(g)) {
      auto dx = empty(input_shapes[0]);
      const Kernels& kt = kernels();
      parallel_for(g.N * g.C, 16, [&](int64_t a, int64_t b) {
        kt.avgpool2x2_backward(gy->f32() + a * g.P * g.Q, b - a, g.H, g.W, g.P, g.Q, dx->f32() + a * g.H * g.W,
                               g.P * g.Q, g.H * g.W);
      });
      gin[0] = dx;
      return;
    }
    auto dx = empty(input_shapes[0]);
    avg_pool_backward_any_window(g, gy->f32(), dx->f32());
    gin[0] = dx;
  }
};

struct AdaptiveAvgBackward final : Node {
  int64_t out_h, out_w;
  const char* name() const override { return "AdaptiveAvgPool2dBackward"; }
  void backward(const TensorPtr& gy, std::vector<TensorPtr>& gin) override {
    const Shape& s = input_shapes[0];
    const int64_t H = s[2], W = s[3];
    auto dx = out_h == 1 && out_w == 1 ? empty(s) : zeros(s);
    const float* pg = gy->f32();
    float* pd = dx->f32();
    parallel_for(s[0] * s[1], 16, [&](int64_t a, int64_t b) {
      for (int64_t pl = a; pl < b; ++pl) {
        if (out_h == 1 && out_w == 1) {  // global average pooling: the plane's gradient is one value
          std::fill(pd + pl * H * W, pd + (pl + 1) * H * W, pg[pl] / static_cast<float>(H * W));
          continue;
        }
        for (int64_t oh = 0; oh < out_h; ++oh) {
          const int64_t h0 = oh * H / out_h, h1 = ((oh + 1) * H + out_h - 1) / out_h;
          for (int64_t ow = 0; ow < out_w; ++ow) {
            const int64_t w0 = ow * W / out_w, w1 = ((ow + 1) * W + out_w - 1) / out_w;
            const float v = pg[(pl * out_h + oh) * out_w + ow] / static_cast<float>((h1 - h0) * (w1 - w0));
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) pd[(pl * H + h) * W + w] += v;
          }
        }
      }
    });
    gin[0] = dx;
  }
};

}  // namespace

void max_unpool2x2(const float* gy, const int32_t* argmax, int64_t planes, int64_t H, int64_t W, float* dx) {
  const Kernels& kt = kernels();
  const int64_t P = H / 2, Q = W / 2;
  parallel_for(planes, 16, [&](int64_t a, int64_t b) {
    kt.maxpool2x2_backward(gy + a * P * Q, argmax + a * P * Q, b - a, H, W, P, Q, dx + a * H * W, P * Q, H * W);
  });
}

// x: (N,C,H,W) -> y: (N,C,P,Q), argmax kept for backward
TensorPtr max_pool2d(const TensorPtr& x_in, const Pool2dParams& p) {
  expect_f32(x_in, "input");
  const PoolGeom g = pool_geometry(x_in, p, "maxPool2d");
  auto x = contiguous_data(x_in);
  auto y = empty({g.N, g.C, g.P, g.Q});
  const bool grad = any_requires_grad({&x_in});
  if (is_2x2(g)) {
    auto am = grad ? empty({g.N, g.C, g.P, g.Q}, DType::I32) : nullptr;
    const Kernels& kt = kernels();
    parallel_for(g.N * g.C, 16, [&](int64_t a, int64_t b) {
      kt.maxpool2x2(x->f32() + a * g.H * g.W, b - a, g.H, g.W, g.P, g.Q, y->f32() + a * g.P * g.Q,
                    am ? am->data<int32_t>() + a * g.P * g.Q : nullptr, g.H * g.W, g.P * g.Q);
    });
    if (grad) {
      auto node = make_node<MaxPoolBackward>();
      node->argmax = am;
      node->g = g;
      attach(y, node, {&x_in});
    }
    return y;
  }
  auto am = grad ? empty({g.N, g.C, g.P, g.Q}, DType::I32) : nullptr;
  pool_any_window(g, true, x->f32(), y->f32(), am ? am->data<int32_t>() : nullptr);
  if (grad) {
    auto node = make_node<MaxPoolBackward>();
    node->argmax = am;
    node->g = g;
    attach(y, node, {&x_in});
  }
  return y;
}

// x: (N,C,H,W) -> y: (N,C,P,Q); divisor is the full kernel area (count_include_pad)
TensorPtr avg_pool2d(const TensorPtr& x_in, const Pool2dParams& p) {
  expect_f32(x_in, "input");
  const PoolGeom g = pool_geometry(x_in, p, "avgPool2d");
  auto x = contiguous_data(x_in);
  auto y = empty({g.N, g.C, g.P, g.Q});
  const float* px = x->f32();
  float* py = y->f32();
  if (is_2x2(g)) {
    const Kernels& kt = kernels();
    parallel_for(g.N * g.C, 16, [&](int64_t a, int64_t b) {
      kt.avgpool2x2(px + a * g.H * g.W, b - a, g.W, g.P, g.Q, py + a * g.P * g.Q, g.H * g.W, g.P * g.Q);
    });
  } else {
    pool_any_window(g, false, px, py, nullptr);
  }
  if (any_requires_grad({&x_in})) {
    auto node = make_node<AvgPoolBackward>();
    node->g = g;
    attach(y, node, {&x_in});
  }
  return y;
}

// x: (N,C,H,W) -> y: (N,C,out_h,out_w), PyTorch's adaptive windows
TensorPtr adaptive_avg_pool2d(const TensorPtr& x_in, int64_t out_h, int64_t out_w) {
  expect_f32(x_in, "input");
  DLF_THROW_RANGE_IF(x_in->dim() != 4, "adaptiveAvgPool2d: expected input (N,C,H,W) but received shape ",
                     shape_str(x_in->shape));
  DLF_THROW_RANGE_IF(out_h < 1 || out_w < 1, "adaptiveAvgPool2d: output size must be positive");
  auto x = contiguous_data(x_in);
  const int64_t H = x->shape[2], W = x->shape[3];
  DLF_THROW_RANGE_IF(H < 1 || W < 1, "adaptiveAvgPool2d: empty input of shape ", shape_str(x->shape));
  auto y = empty({x->shape[0], x->shape[1], out_h, out_w});
  const float* px = x->f32();
  float* py = y->f32();
  const Kernels& kt = kernels();
  const int64_t planes = x->shape[0] * x->shape[1], n = H * W;
  if (out_h == 1 && out_w == 1 && n < 256) {
    // Global average pooling of small planes (a squeeze-and-excitation gate's 4x4 or 8x8): W
    // planes at a time (isa/pool.h).
    parallel_for(planes, 64, [&](int64_t a, int64_t b) { kt.plane_means(px + a * n, b - a, n, py + a); });
  } else if (out_h == 1 && out_w == 1) {  // larger planes: each summed in double vectors
    parallel_for(planes, 16, [&](int64_t a, int64_t b) {
      for (int64_t pl = a; pl < b; ++pl) {
        double s = 0.0;
        kt.bn_channel_stats(px + pl * n, 1, n, n, 0.f, &s, nullptr);
        py[pl] = static_cast<float>(s / static_cast<double>(n));
      }
    });
  } else {
    parallel_for(planes, 16, [&](int64_t a, int64_t b) {
      for (int64_t pl = a; pl < b; ++pl)
        for (int64_t oh = 0; oh < out_h; ++oh) {
          const int64_t h0 = oh * H / out_h, h1 = ((oh + 1) * H + out_h - 1) / out_h;
          for (int64_t ow = 0; ow < out_w; ++ow) {
            const int64_t w0 = ow * W / out_w, w1 = ((ow + 1) * W + out_w - 1) / out_w;
            double s = 0.0;
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) s += px[(pl * H + h) * W + w];
            py[(pl * out_h + oh) * out_w + ow] = static_cast<float>(s / static_cast<double>((h1 - h0) * (w1 - w0)));
          }
        }
    });
  }
  if (any_requires_grad({&x_in})) {
    auto node = make_node<AdaptiveAvgBackward>();
    node->out_h = out_h;
    node->out_w = out_w;
    attach(y, node, {&x_in});
  }
  return y;
}

}  // namespace dlf
