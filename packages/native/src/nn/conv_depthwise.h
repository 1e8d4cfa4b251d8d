// Depthwise convolution (groups == input channels, any channel multiplier K/C, stride, padding and
// dilation): per-plane vector kernels (isa/conv_depthwise.h) instead of a per-group im2col + GEMM,
// whose GEMMs have one input channel and cost ~100x more. conv.cc checks conv_depthwise_applies().
#pragma once
#include <cstdint>

#include "isa/kernels.h"
#include "nn/ops.h"

namespace dlf {

struct ConvDwShape {
  int64_t N, C, H, W, K, R, S;
  Conv2dParams p;
};

/** Small-plane layers with channels in the vector lanes (on by default); tests compare both paths. */
void set_conv_dw_blocked_enabled(bool enabled);
bool conv_dw_blocked_enabled();

/** True when the depthwise kernels handle this geometry (and the fast paths are enabled). */
bool conv_depthwise_applies(const ConvDwShape& s);

// x: (N,C,H,W), w: (K,1,R,S), b: (K) or null -> y: (N,K,P,Q), ReLU fused when `relu`.
void conv_depthwise_forward(const ConvDwShape& s, const float* x, const float* w, const float* b, float* y,
                            bool relu);

// As conv_depthwise_forward, in the calling thread only (a pool worker's share of a larger op). Uses
// the thread's scratch slots 0, 1 and 3.
void conv_depthwise_forward_serial(const ConvDwShape& s, const float* x, const float* w, const float* b, float* y,
                                   bool relu);

// gy: (N,K,P,Q) (already masked by a fused ReLU) -> dx: (N,C,H,W), dw: (K,1,R,S), each overwritten,
// each may be null. Each channel is reduced by one thread in a fixed order: the same bits at any
// thread count.
void conv_depthwise_backward(const ConvDwShape& s, const float* x, const float* w, const float* gy, float* dx,
                             float* dw);

// The plane kernels' backward (layers whose planes fill a vector row: not the channel-blocked path),
// one (image, input channel) plane at a time: conv_depthwise_backward's inner step, shared with ops
// that make a depthwise layer's input plane by plane themselves (nn/bn_depthwise.cc). Per plane:
// pack_input (for the weight gradient), begin_plane, plane for each of its output channels, end_plane.
class DwPlaneBackward {
 public:
  // Buffers in the calling thread's scratch slots 0-2, with `extra` floats of its own at the end.
  struct Buffers {
    float *xbuf, *dbuf, *gbuf, *extra;
  };
  DwPlaneBackward(const ConvDwShape& s, bool dx, bool dw);
  static bool uses_plane_kernels(const ConvDwShape& s);
  const DwPlane& geometry() const { return g_; }
  // The input gradient runs as a forward conv with the flipped kernel (flip_kernel) when true.
  bool flips_weights() const { return dx_forward_; }
  Buffers buffers(int64_t extra_floats) const;
  void pack_input(const Buffers& b, const float* x_plane) const;
  void begin_plane(const Buffers& b) const;
  // gp: (P,Q) output gradient of the kernel w_k (R*S; flipped_k its flip_kernel) -> dwv: (R*S, vw) +=
  // per-lane weight-gradient sums (with dw), dx_plane: (H,W) (with dx; = unless `accumulate`).
  void plane(const Buffers& b, const float* gp, const float* w_k, const float* flipped_k, bool accumulate, float* dwv,
             float* dx_plane) const;
  void end_plane(const Buffers& b, float* dx_plane) const;

 private:
  int64_t vw_;
  DwPlane g_, gt_{};
  DwGatherRows gr_{};
  bool dw_, dx_forward_ = false, dx_gather_ = false, dx_scatter_ = false;
};

// w: (taps) -> flipped: w reversed (the input gradient's kernel)
void flip_kernel(const float* w, int64_t taps, float* flipped);
// dwv: (taps, vw) per-lane sums -> dw: (taps), lanes added in order
void reduce_weight_lanes(const float* dwv, int64_t taps, int64_t vw, float* dw);

}  // namespace dlf
