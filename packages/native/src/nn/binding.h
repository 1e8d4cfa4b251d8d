// What the nn binding shares with other slices' bindings.
#pragma once
#include <napi.h>

#include "nn/ops.h"

namespace dlf {

/** Reads {strideH, strideW, padH, padW, dilationH, dilationW, groups} from argument i (errors name `op`). */
Conv2dParams read_conv2d_params(const Napi::CallbackInfo& info, size_t i, const char* op);

}  // namespace dlf
