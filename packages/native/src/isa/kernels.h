// The table of kernels compiled once per instruction set (isa/kernels.cc is built once per table:
// AVX-512, AVX2+FMA and the baseline on x86-64; NEON and the generic baseline on arm64).
// runtime/simd.cc picks one table at start-up (runtime/isa_*.cc list what each architecture has).
#pragma once
#include <algorithm>
#include <cstdint>

namespace dlf {

// What a GEMM applies to C as it stores the last sums: + bias[i] on row i (null: none), then ReLU.
// (A convolution's epilogue: a separate pass over its output cost ~9% of an inference.)
struct GemmEpilogue {
  const float* bias = nullptr;
  bool relu = false;
};

// Geometry of one direct convolution (stride 1) over a zero-padded input buffer.
struct DirectConv {
  int64_t C, K, R, S;  // input channels, output channels, kernel rows and columns
  int64_t Hb, Wb;      // padded input plane: rows, row stride (Hb >= P+R, Wb >= ceil(Q/W)*W + S-1)
  int64_t P, Q;        // output rows and columns
};

// Geometry of one depthwise plane (isa/conv_depthwise.h): input (H,W) -> output (P,Q) through an
// R x S kernel, and the zero-padded phase buffer (sw, Hp, Wph) the driver fills from the input.
struct DwPlane {
  int64_t H, W, R, S, P, Q;
  int64_t sh, sw, ph, pw, dh, dw;  // stride, padding, dilation
  int64_t Hp, Wph;                 // phase buffer rows and row length
};
constexpr int64_t kDwMaxTaps = 64;  // R * S limit of the depthwise kernels

// Along one axis of a strided gather (input gradient from output gradient): output index i reads
// output-gradient index (i + pad - t * dil) / stride for taps t < k. `margin` zero places before the
// out gradient places and `extent` places in all hold every index it reads, for inputs i < in.
struct GatherSpan {
  int64_t margin, extent;
};
inline GatherSpan gather_span(int64_t k, int64_t dil, int64_t stride, int64_t pad, int64_t in, int64_t out) {
  const int64_t margin = ((k - 1) * dil + stride - 1) / stride;  // the farthest tap before
  return {margin, margin + std::max(out, (in - 1 + pad) / stride + 1)};
}

// The output gradient of a column-stride-2 depthwise layer, as conv_dw_dgrad_s2 gathers from it:
// `rows` rows `stride` floats apart, `top` zero rows, then the P gradient rows, then zero rows; each
// row has `left` zero columns, the Q gradient columns, then zeros. The kernel reads dx row h's taps
// from row top + (h + ph - r * dh) / sh (>= 0, < rows) and, for dx column phase f and tap column s,
// from column left + (f + pw - s * dw) / 2 on: margins instead of a check at a plane's edges.
struct DwGatherRows {
  int64_t left, stride, top, rows;
};
inline DwGatherRows dw_gather_rows(const DwPlane& g, int64_t vw) {
  int64_t lo = 0, hi = 0;
  for (int64_t f = 0; f < 2; ++f)
    for (int64_t s = 0; s < g.S; ++s) {
      const int64_t d = f + g.pw - s * g.dw;
      if ((d & 1) == 0) lo = std::min(lo, d >> 1), hi = std::max(hi, d >> 1);
    }
  const int64_t left = -lo, phase_cols = (g.W + 1) / 2;
  // the gather's whole vectors, and conv_dw_wgrad's (it reads gy from column left)
  const int64_t stride = left + std::max(hi + (phase_cols + vw - 1) / vw * vw, (g.Q + vw - 1) / vw * vw);
  const GatherSpan rows = gather_span(g.R, g.dh, g.sh, g.ph, g.H, g.P);
  return {left, stride, rows.margin, rows.extent};
}

// Geometry of a depthwise convolution with channels in the lanes (isa/conv_dw_blocked.h): input planes
// (H, W) padded to (Hp, Wp) = (H + 2 ph, W + 2 pw) pixels, outputs (P, Q), kernel (R, S).
struct DwBlocked {
  int64_t H, W, P, Q, R, S;
  int64_t sh, sw, ph, pw, dh, dw;  // stride, padding, dilation
  int64_t Hp, Wp;
};

// The output gradient as dwb_dgrad gathers from it: pixel (p, q) at (top + p, left + q) of a
// zero-margined (rows, cols) pixel buffer, so that dx pixel (h, w) reads tap (r, s) at row
// top + (h + ph - r * dh) / sh and column left + (w + pw - s * dw) / sw with no check at the edges.
struct DwbGather {
  int64_t top, left, rows, cols;
};
inline DwbGather dwb_gather(const DwBlocked& g) {
  const GatherSpan rows = gather_span(g.R, g.dh, g.sh, g.ph, g.H, g.P), cols = gather_span(g.S, g.dw, g.sw, g.pw, g.W, g.Q);
  return {rows.margin, cols.margin, rows.extent, cols.extent};
}

// Geometry of one convolution vectorised over output channels (isa/conv_kvec.h): a zero-padded
// input (C, Hb, Wb) read at row p*sh + r, column q*sw + s for output (p, q) and tap (r, s).
struct KvecConv {
  int64_t C, K, R, S, sh, sw, Hb, Wb, P, Q;
};
// The input gradient of a 3x3 stride-2 layer in isa/conv_kvec.h: input (C, H, W), padding (ph, pw),
// K output channels, the zero-padded output gradient (K, Pg, Qg) with gy at (1, 1).
struct KvecDgrad {
  int64_t C, K, H, W, ph, pw, Pg, Qg;
};
// Output rows per tile of isa/conv_kvec.h (vectors of W floats): 1 when a row of Q outputs fills a
// vector, else 2 or 4 rows of W/2 or W/4 columns.
inline int kvec_rows_per_tile(int64_t Q, int W) {
  int m = 1;
  while (m < 4 && W / (2 * m) >= Q) m *= 2;
  return m;
}

// Kernel rows a weight-gradient tile of isa/conv_kvec.h sums at once (S taps each): about 24
// accumulators where there are 32 vector registers (16 floats a vector), 12 with 16.
constexpr int kvec_wgrad_rows_per_tile(int64_t S, int W) {
  const int64_t rows = (W == 16 ? 24 : 12) / S;
  return rows > 1 ? static_cast<int>(rows) : 1;
}

// From this many channel pairs K * C the Winograd weight gradient's per-position sums are packed
// GEMMs over chunks of tiles kept in L2 (nn/conv_wino.cc); below, vector rows with per-lane partial
// sums, each thread its own share, are faster (the GEMM's packing goes unpaid, and the per-lane
// sums of up to 24 x 24 pairs stay in L2).
constexpr int64_t kWinoWgradGemmPairs = 24 * 24 + 1;

// Geometry of a Winograd F(4x4,3x3) convolution (isa/conv_wino43.h): input planes (C,H,W) with
// zero padding (pad_h, pad_w) at the top and left, output planes (P,Q), tiles per image th x tw
// (ceil(P/4), ceil(Q/4)). Tiles are numbered across the batch: (image, tile row, tile column).
struct WinoGeom {
  int64_t C, H, W, pad_h, pad_w, P, Q, th, tw;
};

// A pooling window over planes (H,W) -> (P,Q) (isa/pool.h's pool_window).
struct PoolWindow {
  int64_t H, W, P, Q, kh, kw, sh, sw, ph, pw;
};

// The activations with vector kernels (isa/activation.h); math/elementwise.cc maps its unary ops to them.
enum class ActivationKind : int { LeakyRelu, Sigmoid, Tanh, Silu, Gelu, Hardswish, Relu, Relu6 };

// One batch-norm channel: its statistics (training: the batch's; evaluation: the running ones)
// and affine parameters (1 and 0 without them).
// The most channels a bn_block_* kernel takes in one call.
constexpr int64_t kBnBlockChannels = 32;

struct BnChannel {
  float mean, invstd, gamma, beta;
  float clip;              // a fused ReLU's upper bound: 6 for ReLU6, +inf for ReLU
  bool hardswish = false;  // the fused activation is hardswish instead (clip unused)
};

// Bytes per row of a ReLU bit mask over Q columns (the same for every instruction set).
inline int64_t relu_bits_stride(int64_t Q) { return 2 * ((Q + 15) / 16); }

struct Kernels {
  const char* name;
  int vector_floats;  // floats per vector register

  // C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is M x K, op(B) is K x N.
  // A(i,k) = transA ? A[k*lda + i] : A[i*lda + k]; likewise B. beta == 0 ignores C's contents.
  // Splits the work over the thread pool when it is large enough. `ep` then applies to C.
  void (*sgemm)(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, GemmEpilogue ep);
  // Serial C_s = op(A) * B_s for `count` segments of `cols` columns: B_s = B + s*b_stride (K x cols,
  // rows ldb apart), C_s = C + s*c_stride (M x cols, rows ldc apart), e.g. images side by side in one
  // GEMM without copying them together (one GEMM when cols is a multiple of gemm_panel_cols).
  void (*sgemm_segments)(bool transA, int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                         int64_t b_stride, float* C, int64_t ldc, int64_t c_stride, int64_t count, int64_t cols,
                         GemmEpilogue ep);
  int gemm_panel_cols;

  // Direct convolution (isa/conv.h), one image at a time; see there for layouts.
  // xb: (C,Hb,Wb) padded input, wp: packed weights, bias: (K) or null -> y: (K,P,Q) (+ReLU);
  // relu_bits (with relu, or null): (K,P,relu_bits_stride(Q)) bytes, bit q of a row set when y is not <= 0
  void (*conv_direct)(const DirectConv& g, const float* xb, const float* wp, const float* bias, bool relu, float* y,
                      uint8_t* relu_bits);
  // True when conv_direct runs 3-row kernels as Winograd (and conv_direct_relu_pool can pool).
  bool (*conv_uses_winograd)(int64_t R);
  // Fused conv + bias + ReLU + 2x2/2 max pool: xb, wp as conv_direct -> ypool: (K,P/2,Q/2), code:
  // (K,P/2,Q/2) each maximum's place in its window (0..3). false (nothing done) if not supported.
  bool (*conv_direct_relu_pool)(const DirectConv& g, const float* xb, const float* wp, const float* bias, float* ypool,
                                uint8_t* code);
  // gpool, ypool, code: (K,Pp,Qp) -> interior of dst: (K,Hb,Wb) at (top,left): the (P,Q) gradient of
  // the pooled conv output (ReLU-masked, at each window's maximum, zero elsewhere); sums: (K) += sums
  void (*conv_unpool_pad)(const float* gpool, const float* ypool, const uint8_t* code, int64_t K, int64_t P, int64_t Q,
                          int64_t Pp, int64_t Qp, int64_t top, int64_t left, int64_t Hb, int64_t Wb, float* dst,
                          float* sums);
  // w: (K,C,R,S) -> wp (conv_packed_floats floats), transposed and flipped for the input gradient when `flip`
  void (*conv_pack_weights)(const float* w, int64_t K, int64_t C, int64_t R, int64_t S, bool flip, float* wp);
  int64_t (*conv_packed_floats)(int64_t K, int64_t C, int64_t R, int64_t S);
  // src: (C,H,W) -> interior of dst: (C,Hb,Wb) at (top,left), kept where mask is not <= 0 (mask given)
  // or by the bits of mask_bits (C,H,relu_bits_stride(W)); sums: (C) += plane sums written (or null)
  void (*conv_pad)(const float* src, const float* mask, const uint8_t* mask_bits, int64_t C, int64_t H, int64_t W,
                   int64_t top, int64_t left, int64_t Hb, int64_t Wb, float* dst, float* sums);
  // xb: nimg x (C,Hb,Wb) padded inputs (xstride floats apart), gb: nimg x (K,gHb,gWb) padded output
  // gradients (gstride apart), gy at (top,left)
  //   -> dwv: (K,C,R,S,vector_floats) += per-lane partial sums of the weight gradient (= if !accumulate)
  void (*conv_wgrad)(const DirectConv& g, const float* xb, const float* gb, int64_t top, int64_t left, int64_t gHb,
                     int64_t gWb, int64_t nimg, int64_t xstride, int64_t gstride, bool accumulate, float* dwv);

  // Direct convolution vectorised over output channels (isa/conv_kvec.h), one image: xb: (C,Hb,Wb)
  // zero-padded input, wp: (ceil(K/vector_floats), C, R, S, vector_floats) weights, zero past K,
  // bias: (K) or null -> y: (K,P,Q) (+ReLU)
  void (*kvec_forward)(const KvecConv& g, const float* xb, const float* wp, const float* bias, bool relu, float* y);
  // gp: (K, Pg, Qg) padded output gradient, wT: (ceil(C/vector_floats), K, 3, 3, vector_floats) -> dx: (C,H,W)
  void (*kvec_dgrad3s2)(const KvecDgrad& d, const float* gp, const float* wT, float* dx);
  // gy: (K, PQ) -> gyT: (PQ, K rounded up to vector_floats), zero past K
  void (*kvec_transpose)(const float* gy, int64_t K, int64_t PQ, float* gyT);
  // Weight-gradient sums of output channels [k0, k0 + vector_floats) and kernel rows [rho0, rho1) (row
  // c * R + r; kernel widths 2 to 8) over nimg images (xb as kvec_forward, xstride apart; gyT from
  // kvec_transpose, gstride apart) -> dwv: (ceil(K/vector_floats), C, R, S, vector_floats), += when `accumulate`
  void (*kvec_wgrad)(const KvecConv& g, const float* xb, int64_t xstride, const float* gyT, int64_t gstride,
                     int64_t nimg, int64_t k0, int64_t rho0, int64_t rho1, bool accumulate, float* dwv);

  // Lowering by an offset table (isa/lowering.h): idx (n rounded up to vector_floats) offsets into a
  // plane, mask bit l of mask[i / vector_floats] set where idx[i + l] is inside it (clear from n on).
  // src -> dst: (n), dst[i] = src[idx[i]], zero where the bit is clear
  void (*gather_plane)(const float* src, const int32_t* idx, const uint32_t* mask, int64_t n, float* dst);
  // src: (n) -> dst[idx[i]] += src[i] where the bit is set (no offset appears twice)
  void (*scatter_add_plane)(const float* src, const int32_t* idx, const uint32_t* mask, int64_t n, float* dst);
  // src: (rows, cols) rows src_stride apart -> dst: rows dst_stride apart, zero from cols to width
  void (*copy_rows)(const float* src, int64_t src_stride, int64_t rows, int64_t cols, int64_t width, float* dst,
                    int64_t dst_stride);
  // src: (n) -> even: (n - n/2) = src[0], src[2], ...; odd: (n/2) = src[1], src[3], ...
  void (*deinterleave2)(const float* src, int64_t n, float* even, float* odd);
  // even, odd as deinterleave2 -> dst: (n)
  void (*interleave2)(const float* even, const float* odd, int64_t n, float* dst);

  // Depthwise convolution, one plane (isa/conv_depthwise.h): buf is the phase buffer of one input plane.
  // buf, w: (R*S), bias -> y: (P,Q) (+ReLU)
  void (*conv_dw_forward)(const DwPlane& g, const float* buf, const float* w, float bias, bool relu, float* y);
  // gy: (P, ceil(Q/vector_floats)*vector_floats), w: (R*S) -> dbuf (phase layout) += input gradient
  void (*conv_dw_backward_data)(const DwPlane& g, const float* gy, const float* w, float* dbuf);
  // Column stride 2: gy laid out as dw_gather_rows(g, vector_floats) says (its first row), w: (R*S)
  //   -> dx: (H, W) = the input gradient, or += it with `accumulate`
  void (*conv_dw_dgrad_s2)(const DwPlane& g, const float* gy, const DwGatherRows& rows, const float* w,
                           bool accumulate, float* dx);
  // buf, gy: (P, Q) rows gy_stride (>= ceil(Q/vector_floats)*vector_floats) floats apart, zero past Q
  //   -> dwv: (R*S, vector_floats) += per-lane partial sums of the weight gradient
  void (*conv_dw_wgrad)(const DwPlane& g, const float* buf, const float* gy, int64_t gy_stride, float* dwv);
  // Depthwise with channels in the lanes, vector_floats channels at a time (isa/conv_dw_blocked.h).
  // planes (nch <= vector_floats, stride apart) <-> pixel buffer (origin, rows row_pixels apart)
  void (*dwb_pack)(const float* planes, int64_t stride, int64_t nch, int64_t rows, int64_t cols, float* buf,
                   int64_t origin, int64_t row_pixels);
  void (*dwb_unpack)(const float* buf, int64_t origin, int64_t row_pixels, int64_t nch, int64_t rows, int64_t cols,
                     float* planes, int64_t stride);
  // xb: padded pixels, wb: (R*S) tap vectors, bias: a vector -> yb: (P*Q) pixels (+ReLU)
  void (*dwb_forward)(const DwBlocked& g, const float* xb, const float* wb, const float* bias, bool relu, float* yb);
  // gyb: gy's pixels with margins (DwbGather), wb: (R*S) tap vectors -> dxb: (H*W) pixels = input gradient
  void (*dwb_dgrad)(const DwBlocked& g, const DwbGather& m, const float* gyb, const float* wb, float* dxb);
  // xb, gyb (rows of gy_cols pixels) -> dwv: (R*S) vectors += the weight gradient's sums (lane = channel)
  void (*dwb_wgrad)(const DwBlocked& g, const float* xb, const float* gyb, int64_t gy_cols, float* dwv);

  // Winograd F(4x4,3x3), TB = wino_tiles tiles at a time (isa/conv_wino43.h); weights transformed
  // by the caller into U: (36, Kp/wino_kblock, C, wino_kblock), Kp = K rounded up to wino_kblock.
  int wino_tiles;
  int wino_kblock;
  // w: (K,C,3,3) -> U (layout above, positions estride floats apart) for output-channel blocks [kb0, kb1)
  // (multiples of wino_kblock); with `flip` the input gradient's kernel (output channels C, input K)
  void (*wino_weights)(const float* w, int64_t K, int64_t C, bool flip, int64_t rk, int64_t kb0, int64_t kb1,
                       int64_t estride, float* U);
  // x: (N,C,H,W) -> V: (36,C,TB), positions estride and channels cstride floats apart, the tiles
  // t0..t0+count (count <= TB) in lanes, zero beyond
  void (*wino_input)(const WinoGeom& g, const float* x, int64_t t0, int64_t count, int64_t estride, int64_t cstride,
                     float* V);
  // U, V -> M: (36,Kp,TB), the transformed output tiles; positions us, vs and ms floats apart
  void (*wino_gemm)(const float* U, int64_t us, const float* V, int64_t vs, int64_t C, int64_t Kp, float* M,
                    int64_t ms);
  // M (positions ms apart) -> y: (N,K,P,Q) at tiles t0..t0+count, channels [k0,k1), + bias (or
  // null), + residual (y's shape, or null), then ReLU when `relu`
  void (*wino_output)(const WinoGeom& g, const float* M, int64_t ms, int64_t K, int64_t k0, int64_t k1, int64_t t0,
                      int64_t count, const float* bias, const float* residual, bool relu, float* y);
  // gy: (N,K,P,Q) -> Gt: (36,K,TB), positions estride and channels kstride floats apart, the
  // transformed output-gradient tiles (zero beyond count)
  void (*wino_grad_tiles)(const WinoGeom& g, const float* gy, int64_t K, int64_t t0, int64_t count, int64_t estride,
                          int64_t kstride, float* Gt);
  // Gt: (36,K,L), V: (36,C,L) (positions gs and vs apart), L tiles a multiple of wino_tiles
  //   -> dWt += Gt_e V_e^T (= when !accumulate) for positions e in [e0,e1) (a fixed order: the same bits for any split of e):
  //   dWt (36,K,C) from kWinoWgradGemmPairs channel pairs K*C, else per-lane partial sums
  //   (36,K,C,vector_floats), each lane adding its tiles in order of l however the tiles are chunked
  void (*wino_wgrad_gemm)(const float* Gt, int64_t gs, const float* V, int64_t vs, int64_t L, int64_t K, int64_t C,
                          int64_t e0, int64_t e1, bool accumulate, float* dWt);
  // dWt: (36, pairs) summed sums, positions `pairs` floats apart -> dw: (pairs,3,3) = G^T dWt G for
  // pairs [q0,q1), in double (the same bits for any split of the pairs)
  void (*wino_wgrad_out)(const float* dWt, int64_t pairs, int64_t q0, int64_t q1, float* dw);

  // Batch-norm channels (isa/norm.h): N rows (one per image) of n values, `stride` floats apart;
  // xhat = (x - mean) * invstd.
  // x -> sum of x and of (x - mean)^2 (each skipped when null)
  void (*bn_channel_stats)(const float* x, int64_t N, int64_t stride, int64_t n, float mean, double* sum, double* sq);
  // x, r (or null) -> y = xhat * gamma + beta (+ r) (then ReLU when `relu`)
  void (*bn_channel_apply)(const float* x, const float* r, int64_t N, int64_t stride, int64_t n, const BnChannel& ch,
                           bool relu, float* y);
  // g, x -> sums of g' and g' * xhat, g' = g where the fused ReLU passes (xhat * gamma + beta not <= 0)
  // when `relu`, or, given y (a residual join's output, else null), where y passes, g' also written to gy_out
  void (*bn_channel_grad_sums)(const float* g, const float* x, const float* y, int64_t N, int64_t stride, int64_t n,
                               const BnChannel& ch, bool relu, double* sb, double* sg, float* gy_out);
  // bn_channel_grad_sums (y null) with g's rows g_stride and x's x_stride floats apart
  void (*bn_planes_grad_sums)(const float* g, int64_t g_stride, const float* x, int64_t x_stride, int64_t N, int64_t n,
                              const BnChannel& ch, bool relu, double* sb, double* sg);
  // g, x -> dx = k * (M * g' - mb - xhat * mg) (training) or k * g' (evaluation)
  void (*bn_channel_grad_input)(const float* g, const float* x, int64_t N, int64_t stride, int64_t n,
                                const BnChannel& ch, bool relu, bool training, float k, float M, float mb, float mg,
                                float* dx);
  // The same for nch <= kBnBlockChannels channels side by side (channel j at offset j * n of each
  // of N row blocks `stride` apart), visited image by image (isa/norm.h): per-channel arrays in and out.
  void (*bn_block_stats)(const float* x, int64_t N, int64_t stride, int64_t n, int64_t nch, const float* mean,
                         double* sums);
  void (*bn_block_apply)(const float* x, const float* r, int64_t N, int64_t stride, int64_t n, int64_t nch,
                         const BnChannel* chs, bool relu, float* y);
  void (*bn_block_grad_sums)(const float* g, const float* x, int64_t N, int64_t stride, int64_t n, int64_t nch,
                             const BnChannel* chs, bool relu, double* sb, double* sg);
  void (*bn_block_grad_input)(const float* g, const float* x, int64_t N, int64_t stride, int64_t n, int64_t nch,
                              const BnChannel* chs, bool relu, bool training, const float* k, float M, const float* mb,
                              const float* mg, float* dx);

  // GFLOP/s one thread reaches with chained FMAs of this table's width, measured over `seconds` (isa/peak.h).
  double (*fma_peak_gflops)(double seconds);

  // 2x2 max pooling, stride 2, no padding (isa/pool.h); needs 2P <= H and 2Q <= W.
  // x: (planes,H,W) -> y: (planes,P,Q), argmax: (planes,P,Q) index in the (H,W) plane, or null;
  // planes xs floats apart in x, ys in y and argmax
  void (*maxpool2x2)(const float* x, int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q, float* y,
                     int32_t* argmax, int64_t xs, int64_t ys);
  // gy: (planes,P,Q), argmax -> dx: (planes,H,W) overwritten, zero where no window's maximum is;
  // planes gs floats apart in gy and argmax, ds in dx
  void (*maxpool2x2_backward)(const float* gy, const int32_t* argmax, int64_t planes, int64_t H, int64_t W, int64_t P,
                              int64_t Q, float* dx, int64_t gs, int64_t ds);

  // 2x2 average pooling, stride 2, no padding (isa/pool.h), planes as maxpool2x2 (2P <= H, 2Q <= W)
  void (*avgpool2x2)(const float* x, int64_t planes, int64_t W, int64_t P, int64_t Q, float* y, int64_t xs, int64_t ys);
  // gy: (planes,P,Q) -> dx: (planes,H,W) overwritten, gy / 4 over each window, zero outside them
  void (*avgpool2x2_backward)(const float* gy, int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q, float* dx,
                              int64_t gs, int64_t ds);

  // Max (with the argmax, or null) or average pooling of any window (isa/pool.h): x: (planes,H,W)
  // -> y: (planes,P,Q); scratch: H * pool_window_row floats
  void (*pool_window)(const PoolWindow& g, bool max, const float* x, int64_t planes, float* y, int32_t* argmax,
                      float* scratch);
  int64_t (*pool_window_row)(const PoolWindow& g);
  // x: (planes, n) -> y: (planes) means of short planes, W at a time (isa/pool.h)
  void (*plane_means)(const float* x, int64_t planes, int64_t n, float* y);

  // Activations (isa/activation.h), n floats: x -> y = f(x), p the op's parameter (LeakyReLU's slope)
  void (*activation_forward)(ActivationKind a, const float* x, float* y, int64_t n, float p);
  // g and the saved x (LeakyReLU, SiLU, GELU, hardswish, ReLU6) or y (sigmoid, tanh, ReLU) -> dx
  void (*activation_backward)(ActivationKind a, const float* g, const float* x, const float* y, float* dx, int64_t n,
                              float p);
};

const Kernels* kernels_avx512();
const Kernels* kernels_avx2();
const Kernels* kernels_base();
const Kernels* kernels_neon();

}  // namespace dlf
