// Compiled once per instruction set with different flags (see CMakeLists.txt); DLF_ISA names the variant.
#define DLF_CAT2(a, b) a##b
#define DLF_CAT(a, b) DLF_CAT2(a, b)
#define DLF_ISA_NS DLF_CAT(isa_, DLF_ISA)

#include "isa/kernels.h"

#include "isa/activation.h"
#include "isa/conv.h"
#include "isa/conv_depthwise.h"
#include "isa/conv_dw_blocked.h"
#include "isa/conv_kvec.h"
#include "isa/conv_wino43.h"
#include "isa/gemm.h"
#include "isa/lowering.h"
#include "isa/norm.h"
#include "isa/peak.h"
#include "isa/pool.h"

#define DLF_STR2(x) #x
#define DLF_STR(x) DLF_STR2(x)

namespace dlf {

const Kernels* DLF_CAT(kernels_, DLF_ISA)() {
  static const Kernels table = {
      DLF_STR(DLF_ISA),
      simd::W,
      &DLF_ISA_NS::sgemm,
      &DLF_ISA_NS::sgemm_segments,
      DLF_ISA_NS::NR,
      &DLF_ISA_NS::conv_direct,
      &DLF_ISA_NS::conv_uses_winograd,
      &DLF_ISA_NS::conv_direct_relu_pool,
      &DLF_ISA_NS::conv_unpool_pad,
      &DLF_ISA_NS::conv_pack_weights,
      &DLF_ISA_NS::conv_packed_floats,
      &DLF_ISA_NS::conv_pad,
      &DLF_ISA_NS::conv_wgrad,
      &DLF_ISA_NS::kvec_forward,
      &DLF_ISA_NS::kvec_dgrad3s2,
      &DLF_ISA_NS::kvec_transpose,
      &DLF_ISA_NS::kvec_wgrad,
      &DLF_ISA_NS::gather_plane,
      &DLF_ISA_NS::scatter_add_plane,
      &DLF_ISA_NS::copy_rows,
      &DLF_ISA_NS::deinterleave2,
      &DLF_ISA_NS::interleave2,
      &DLF_ISA_NS::conv_dw_forward,
      &DLF_ISA_NS::conv_dw_backward_data,
      &DLF_ISA_NS::conv_dw_dgrad_s2,
      &DLF_ISA_NS::conv_dw_wgrad,
      &DLF_ISA_NS::dwb_pack,
      &DLF_ISA_NS::dwb_unpack,
      &DLF_ISA_NS::dwb_forward,
      &DLF_ISA_NS::dwb_dgrad,
      &DLF_ISA_NS::dwb_wgrad,
      DLF_ISA_NS::wino::TB,
      DLF_ISA_NS::wino::RK,
      &DLF_ISA_NS::wino_weights,
      &DLF_ISA_NS::wino_input,
      &DLF_ISA_NS::wino_gemm,
      &DLF_ISA_NS::wino_output,
      &DLF_ISA_NS::wino_grad_tiles,
      &DLF_ISA_NS::wino_wgrad_gemm,
      &DLF_ISA_NS::wino_wgrad_out,
      &DLF_ISA_NS::bn_channel_stats,
      &DLF_ISA_NS::bn_channel_apply,
      &DLF_ISA_NS::bn_channel_grad_sums,
      &DLF_ISA_NS::bn_planes_grad_sums,
      &DLF_ISA_NS::bn_channel_grad_input,
      &DLF_ISA_NS::bn_block_stats,
      &DLF_ISA_NS::bn_block_apply,
      &DLF_ISA_NS::bn_block_grad_sums,
      &DLF_ISA_NS::bn_block_grad_input,
      &DLF_ISA_NS::fma_peak_gflops,
      &DLF_ISA_NS::maxpool2x2,
      &DLF_ISA_NS::maxpool2x2_backward,
      &DLF_ISA_NS::avgpool2x2,
      &DLF_ISA_NS::avgpool2x2_backward,
      &DLF_ISA_NS::pool_window,
      &DLF_ISA_NS::pool_window_row,
      &DLF_ISA_NS::plane_means,
      &DLF_ISA_NS::activation_forward,
      &DLF_ISA_NS::activation_backward,
  };
  return &table;
}

}  // namespace dlf
