// Zero-padded plane buffers kept per thread (conv_fast.cc, conv_kvec.cc): zero-filled when created,
// after which the padding passes write only the interior (the same region every time for one
// geometry), so the border stays zero and reuse needs no clearing (a memset per chunk cost ~2% at
// 2 threads).
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace dlf {

// A buffer's geometry: planes of (Hb, Wb) floats around an (H, W) interior at (top, left).
struct PadKey {
  // A thread may need several buffers at once: 0 input, 1 gradient (conv_fast); 2 input, 3 gradient
  // (conv_kvec), 4 the input of conv_kvec's weight gradient.
  int role;
  int64_t planes, H, W, top, left, Hb, Wb;
  bool operator==(const PadKey& o) const {
    return role == o.role && planes == o.planes && H == o.H && W == o.W && top == o.top && left == o.left &&
           Hb == o.Hb && Wb == o.Wb;
  }
};

struct Scratch {
  float* data = nullptr;
  TensorPtr owned;  // set when not cached
};

// The calling thread's zero-filled buffer of planes * Hb * Wb floats for this key: cached up to a
// size and a count of geometries, or (larger) a zeroed tensor of its own.
Scratch padded_scratch(const PadKey& key);

}  // namespace dlf
