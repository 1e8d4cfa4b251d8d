// What the math binding shares with other slices' bindings.
#pragma once
#include <napi.h>

#include <utility>

#include "math/ops.h"

namespace dlf {

/**
 * Reads a unary op of the op table (src/ops.def): its code from argument `code_at`, checked to belong to
 * `slice` (RangeError otherwise), and its attribute, if it has one, from the object at `attrs_at`.
 */
std::pair<UnaryOp, float> read_unary_op(const Napi::CallbackInfo& info, size_t code_at, size_t attrs_at,
                                        OpSlice slice, const char* what);

}  // namespace dlf
