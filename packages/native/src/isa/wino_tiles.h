// Where a vector of Winograd F(4x4,3x3) tiles lies in the planes (isa/conv_wino43.h): one tile per
// lane, as lane offsets and masks (the gather and scatter fallback), as row groups whose patches are
// shuffles of row loads (the input and output-gradient transforms), and as row segments the output
// transform stores whole.
#pragma once
#include <algorithm>
#include <type_traits>

#include "isa/kernels.h"
#include "isa/simd.h"
#include "runtime/prefetch.h"

namespace dlf::DLF_ISA_NS {

using namespace dlf::simd;

namespace wino {

// One vector of tiles: where each lane's tile sits, as int32 offsets (conv_wino_applies keeps
// every offset in range) and lane masks of the rows and columns that lie inside the planes, so the
// transforms gather and scatter with zero padding and ragged edges and never read out of bounds.
struct Lanes {
  alignas(64) int32_t in[W];   // (image, r0, c0) in the input: n*in_channels*H*W + r0*W + c0
  alignas(64) int32_t out[W];  // (image, orow, ocol) in the output: n*out_channels*P*Q + orow*Q + ocol
  uint32_t in_rows[6], in_cols[6], out_rows[4], out_cols[4];
  uint32_t any;  // bit per lane that holds a tile
};

// Lanes for tiles t0+v*W .. of the block (count tiles in all), input and output channel counts.
inline void make_lanes(const WinoGeom& g, int64_t t0, int64_t count, int v, int64_t in_ch, int64_t out_ch,
                       Lanes& ln) {
  const int64_t per_image = g.th * g.tw;
  ln.any = 0;
  for (int i = 0; i < 6; ++i) ln.in_rows[i] = ln.in_cols[i] = 0;
  for (int i = 0; i < 4; ++i) ln.out_rows[i] = ln.out_cols[i] = 0;
  for (int l = 0; l < W; ++l) {
    const int64_t i = v * W + l;
    ln.in[l] = ln.out[l] = 0;
    if (i >= count) continue;
    const int64_t t = t0 + i, n = t / per_image, rem = t % per_image;
    const int64_t orow = rem / g.tw * 4, ocol = rem % g.tw * 4, r0 = orow - g.pad_h, c0 = ocol - g.pad_w;
    ln.in[l] = static_cast<int32_t>(n * in_ch * g.H * g.W + r0 * g.W + c0);
    ln.out[l] = static_cast<int32_t>(n * out_ch * g.P * g.Q + orow * g.Q + ocol);
    const uint32_t bit = 1u << l;
    ln.any |= bit;
    for (int k = 0; k < 6; ++k) {
      if (r0 + k >= 0 && r0 + k < g.H) ln.in_rows[k] |= bit;
      if (c0 + k >= 0 && c0 + k < g.W) ln.in_cols[k] |= bit;
    }
    for (int k = 0; k < 4; ++k) {
      if (orow + k < g.P) ln.out_rows[k] |= bit;
      if (ocol + k < g.Q) ln.out_cols[k] |= bit;
    }
  }
}

// A vector of tiles that is R = W / tw whole tile rows (lanes k*tw .. k*tw + tw - 1 hold tile row
// k), counted across the batch: a row group may run from one image into the next (8x8 planes hold
// two tile rows an image). Each patch row of the group is packed into four vectors, tile row k's
// plane row (`width` <= 4 tw floats) from float 4 tw k on, so that each patch column is two
// two-source shuffles and a blend of them, whatever R is. A gather per patch element (the fallback)
// cost most of a transform; so did one shuffle per tile row (4 for 16-wide planes).
constexpr int kPackedVectors = 4;
// How far ahead of the channel being transformed its rows are prefetched (prefetch_rows): a row
// group reads a few rows of each channel's plane in turn, a pattern of short runs a plane apart that
// the hardware prefetchers do not follow, so the first touch of each run waited on memory (a third
// of the transform's time in a training step).
constexpr int64_t kPrefetchChannels = 2;
struct RowGroup {
  int rows;                      // R, a power of two from 1 to W
  int64_t image[W], first[W];    // tile row k: its image and its first output row (4 * tile row)
  vi idx[6];                     // per patch column j: where lane l reads it in the packed rows (mod 2W) ...
  vi upper[6];                   // ... from the upper pair of packed vectors (R = 1) ...
  vi upper_rows;                 // ... (R > 1: the lanes of the upper half of the tile rows, for every j) ...
  vi valid[6];                   // ... when the column lies in [0, width)
  vi merge[kPackedVectors];      // R > 4: the shuffle moving a row's load to slot s of a packed vector
};
inline bool row_group(const WinoGeom& g, int64_t t0, int64_t count, int v, int64_t width, int64_t left,
                      RowGroup& rg) {
  if (g.tw < 1 || W % g.tw != 0 || width > 4 * g.tw || (v + 1) * W > count) return false;
  const int64_t first = t0 + v * W;
  if (first % g.tw != 0) return false;
  rg.rows = static_cast<int>(W / g.tw);
  const int32_t span = static_cast<int32_t>(4 * g.tw);
  for (int k = 0; k < rg.rows; ++k) {
    const int64_t tile_row = first / g.tw + k;
    rg.image[k] = tile_row / g.th;
    rg.first[k] = 4 * (tile_row % g.th);
  }
  vi col, at;
  for (int l = 0; l < W; ++l) {
    col[l] = 4 * static_cast<int32_t>(l % g.tw) - static_cast<int32_t>(left);
    at[l] = static_cast<int32_t>(l / g.tw) * span + col[l];
  }
  for (int j = 0; j < 6; ++j, col += 1, at += 1) {
    rg.idx[j] = at & (2 * W - 1);
    rg.upper[j] = (at & (2 * W)) != vi{};
    rg.valid[j] = (col >= vi{}) & (col < vi{} + static_cast<int32_t>(width));
  }
  // With two tile rows or more, a valid column lies in its own row's slot, which lies in one pair of
  // packed vectors: one mask for all six columns (seven masks in all fit AVX-512's mask registers).
  rg.upper_rows = lane_iota(1, 0) >= W / 2 ? vi{} - 1 : vi{};
  for (int s = 0; s < kPackedVectors; ++s) {  // slot s of span floats: lanes of the second operand
    const vi lane = lane_iota(1, 0);
    rg.merge[s] = (lane >= s * span) & (lane < (s + 1) * span) ? lane - s * span + W : lane;
  }
  return true;
}

// Plane row r (`width` floats of a plane with `rows` rows, zero outside [0, rows)) from float
// `from` on, as much of it as a vector holds there; nothing beyond the row is read.
inline vf load_row_part(const float* plane, int64_t r, int64_t rows, int64_t width, int64_t from) {
  if (r < 0 || r >= rows || from >= width) return vf{};
  return load_n(plane + r * width + from, std::min<int64_t>(W, width - from));
}

// Patch row i of the group's tiles (rows from first - pad) packed into P; channel planes of
// consecutive images `image_stride` floats apart from `plane` on.
template <int R>
inline void pack_rows(const RowGroup& rg, const float* plane, int64_t image_stride, int64_t rows, int64_t width,
                      int64_t pad, int i, vf* P) {
  const auto row_of = [&](int k) { return rg.first[k] + i - pad; };
  if constexpr (R <= kPackedVectors) {  // tile row k fills vectors k*per .. k*per + per - 1
    constexpr int per = kPackedVectors / R;
#pragma GCC unroll 4
    for (int k = 0; k < R; ++k) {
      const int64_t r = row_of(k);
      const bool inside = r >= 0 && r < rows;
      const float* p = inside ? plane + rg.image[k] * image_stride + r * width : plane;
#pragma GCC unroll 4
      for (int h = 0; h < per; ++h)
        P[k * per + h] = inside && h * W < width ? load_n(p + h * W, std::min<int64_t>(W, width - h * W)) : vf{};
    }
  } else {  // R / 4 tile rows a vector: each loaded to the low lanes, then shuffled into its slot
    constexpr int slots = R / kPackedVectors;
#pragma GCC unroll 4
    for (int q = 0; q < kPackedVectors; ++q) {
      vf p = load_row_part(plane + rg.image[q * slots] * image_stride, row_of(q * slots), rows, width, 0);
#pragma GCC unroll 4
      for (int s = 1; s < slots; ++s) {
        const int k = q * slots + s;
        p = __builtin_shuffle(p, load_row_part(plane + rg.image[k] * image_stride, row_of(k), rows, width, 0),
                              rg.merge[s]);
      }
      P[q] = p;
    }
  }
}

// Row i of the SxS patches (S = 6: input tiles, rows from first - pad; S = 4: output-gradient tiles,
// pad 0) of a row group's tiles in one channel -> d: (S) vectors.
template <int R, int S>
inline void patch_row(const RowGroup& rg, const float* plane, int64_t image_stride, int64_t rows, int64_t width,
                      int64_t pad, int i, vf* d) {
  vf P[kPackedVectors];
  pack_rows<R>(rg, plane, image_stride, rows, width, pad, i, P);
#pragma GCC unroll 6
  for (int j = 0; j < S; ++j) {
    const vf lo = __builtin_shuffle(P[0], P[1], rg.idx[j]), hi = __builtin_shuffle(P[2], P[3], rg.idx[j]);
    if constexpr (R > 1) {
      d[j] = rg.valid[j] ? (rg.upper_rows ? hi : lo) : vf{};
    } else {
      d[j] = rg.valid[j] ? (rg.upper[j] ? hi : lo) : vf{};
    }
  }
}

// fn(std::integral_constant<int, R>) for R = rows: each row-group loop compiled for its R.
template <typename Fn>
inline void with_rows(int rows, Fn fn) {
  switch (rows) {
    case 1: return fn(std::integral_constant<int, 1>{});
    case 2: return fn(std::integral_constant<int, 2>{});
    case 4: return fn(std::integral_constant<int, 4>{});
    default: break;
  }
  if constexpr (W >= 8) {
    if (rows == 8) return fn(std::integral_constant<int, 8>{});
  }
  if constexpr (W >= 16) {
    if (rows == 16) return fn(std::integral_constant<int, 16>{});
  }
}

// Prefetches rows [first - pad, first - pad + S) of each tile row of the group in channel planes
// `plane` (image planes image_stride apart): a run of tile rows of one image as one band.
inline void prefetch_group(const RowGroup& rg, const float* plane, int64_t image_stride, int64_t rows, int64_t width,
                           int64_t pad, int S) {
  for (int k = 0; k < rg.rows;) {
    int e = k + 1;
    while (e < rg.rows && rg.image[e] == rg.image[k]) ++e;
    const int64_t band = rg.first[e - 1] - rg.first[k] + S;
    prefetch_rows(plane + rg.image[k] * image_stride, rg.first[k] - pad, band, rows, width);
    k = e;
  }
}

// The shuffle patterns of store_tile_rows (constants once the compiler folds the loop).
struct RowShuffles {
  vi zip_lo, zip_hi;    // lanes of two vectors' low (high) halves, interleaved one by one
  vi pair_lo, pair_hi;  // ... interleaved two by two
  vi half_down;         // the high half moved to the low lanes
  RowShuffles() {
    for (int e = 0; e < W; ++e) {
      const int m2 = e / 2, m4 = e / 4, second2 = e % 2 ? W : 0, second4 = e % 4 >= 2 ? W : 0;
      zip_lo[e] = second2 + m2;
      zip_hi[e] = second2 + W / 2 + m2;
      pair_lo[e] = second4 + 2 * m4 + e % 2;
      pair_hi[e] = second4 + W / 2 + 2 * m4 + e % 2;
      half_down[e] = (W / 2 + e) % W;
    }
  }
};

// A run of lanes' outputs that one (masked) store per tile row writes: `n` floats from `off` in `rows`
// output rows (n = 0: nothing of these tiles lies in the plane).
struct RowSegment {
  int32_t off;
  int n, rows;
};

// Lanes first..first+count-1 as a segment: the lanes holding output in the plane lead, side by side in
// memory (offsets 4 apart), all but the last full width, all with the same rows inside the plane; the
// last may be cut by the right edge and all by the bottom edge (14- and 7-wide planes), so the segment
// is a row prefix of the tiles. False when they are not (then the tiles are scattered).
inline bool plan_segment(const Lanes& ln, int first, int count, RowSegment& seg) {
  const auto live = [&](int l) { return (ln.any & ln.out_rows[0] & ln.out_cols[0] & (1u << l)) != 0; };
  int m = 0;
  while (m < count && live(first + m)) ++m;
  for (int l = first + m; l < first + count; ++l)
    if (live(l)) return false;
  seg = RowSegment{ln.out[first], 0, 0};
  if (m == 0) return true;
  const uint32_t lead = 1u << first;
  for (int l = first + 1; l < first + m; ++l) {
    const uint32_t bit = 1u << l;
    if (ln.out[l] != ln.out[l - 1] + 4 || !(ln.out_cols[3] & (bit >> 1))) return false;
    for (int i = 0; i < 4; ++i)
      if (!(ln.out_rows[i] & bit) != !(ln.out_rows[i] & lead)) return false;
  }
  const uint32_t last = 1u << (first + m - 1);
  int cols = 0;
  while (cols < 4 && (ln.out_cols[cols] & last)) ++cols;
  while (seg.rows < 4 && (ln.out_rows[seg.rows] & lead)) ++seg.rows;
  seg.n = 4 * (m - 1) + cols;
  return true;
}

struct RowStores {
  bool ok;        // every transposed vector has a place (else the vector of tiles is scattered)
  bool split[4];  // transposed vector q is two half segments (two runs of W/8 tiles), else one
  RowSegment seg[4][2];
};

inline RowStores plan_row_stores(const Lanes& ln) {
  constexpr int L = W / 4;  // tiles per transposed vector
  RowStores rs{};
  rs.ok = true;
  for (int q = 0; q < 4; ++q) {
    const int l0 = q * L;
    rs.split[q] = !plan_segment(ln, l0, L, rs.seg[q][0]);
    if (rs.split[q] && !(L >= 2 && plan_segment(ln, l0, L / 2, rs.seg[q][0]) &&
                         plan_segment(ln, l0 + L / 2, L / 2, rs.seg[q][1])))
      rs.ok = false;
  }
  return rs;
}

// What the output epilogue adds after the bias: a residual (the same layout as y, or null), then
// ReLU when `relu` (with no residual the ReLU is applied before the stores).
struct OutputJoin {
  const float* residual;  // at the plane being stored
  bool relu;
};

// Output row i of a segment: its first n floats of v (+ the residual's, then ReLU, with a join).
inline void store_segment(const RowSegment& s, int i, float* base, int64_t Q, vf v, const OutputJoin& join) {
  if (i >= s.rows) return;
  const int64_t at = i * Q + s.off;
  float* p = base + at;
  if (s.n == W) {
    if (join.residual) v = join.relu ? vrelu(v + load(join.residual + at)) : v + load(join.residual + at);
    store(p, v);
  } else {
    if (join.residual) {
      v += load_first(join.residual + at, s.n);
      if (join.relu) v = vrelu(v);
    }
    store_first(p, v, s.n);
  }
}

// o: (4,4) vectors (lane = tile) -> the tiles' rows in the plane at `base`, as planned in rs.
// Storing a vector of tiles' outputs row by row instead of scattering them: for each output row i
// of the tiles, a two-level shuffle transpose turns the 4 column vectors (lane = tile) into 4
// vectors of W/4 tiles x 4 columns, each the row segment of W/4 horizontally adjacent tiles: one
// (masked) store per segment, where a scatter wrote W single floats.
inline void store_tile_rows(const RowStores& rs, const vf* o, int64_t Q, float* base, const OutputJoin& join) {
  const RowShuffles sh;
  for (int i = 0; i < 4; ++i) {
    const vf* r = o + i * 4;
    const vf a = __builtin_shuffle(r[0], r[1], sh.zip_lo), b = __builtin_shuffle(r[0], r[1], sh.zip_hi);
    const vf c = __builtin_shuffle(r[2], r[3], sh.zip_lo), d = __builtin_shuffle(r[2], r[3], sh.zip_hi);
    const vf out[4] = {__builtin_shuffle(a, c, sh.pair_lo), __builtin_shuffle(a, c, sh.pair_hi),
                       __builtin_shuffle(b, d, sh.pair_lo), __builtin_shuffle(b, d, sh.pair_hi)};
    for (int q = 0; q < 4; ++q) {
      store_segment(rs.seg[q][0], i, base, Q, out[q], join);
      if (rs.split[q])
        store_segment(rs.seg[q][1], i, base, Q, __builtin_shuffle(out[q], out[q], sh.half_down), join);
    }
  }
}

}  // namespace wino

}  // namespace dlf::DLF_ISA_NS
