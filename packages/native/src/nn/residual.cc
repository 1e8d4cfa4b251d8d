// The residual join of a ResNet block, relu(a + b), as one pass over memory (two ops read and wrote
// the block's output twice, forward and backward).
#include "autograd/node.h"
#include "isa/relu.h"
#include "nn/ops.h"
#include "runtime/errors.h"
#include "runtime/threadpool.h"

namespace dlf {
namespace {

constexpr int64_t kGrain = 32768;

// y = relu(a + b): da = db = g where y passes (not y <= 0: NaN passes, as in PyTorch), else 0
struct AddReluBackward final : Node {
  TensorPtr y;
  const char* name() const override { return "AddReluBackward"; }
  void backward(const TensorPtr& g_in, std::vector<TensorPtr>& gin) override {
    const TensorPtr d = relu_backward_mask(contiguous_data(g_in), y);
    // One tensor for both: the engine sums into a gradient in place only when nothing else holds it.
    if (needs_grad(0)) gin[0] = d;
    if (needs_grad(1)) gin[1] = d;
  }
  void release_saved() override { y.reset(); }
};

}  // namespace

// a: (...), b: the same shape -> y: (...) = max(a + b, 0)
TensorPtr add_relu(const TensorPtr& a_in, const TensorPtr& b_in) {
  expect_f32(a_in, "addRelu input a");
  expect_f32(b_in, "addRelu input b");
  DLF_THROW_RANGE_IF(a_in->shape != b_in->shape, "addRelu: inputs of shapes ", shape_str(a_in->shape), " and ",
                     shape_str(b_in->shape), " differ");
  const TensorPtr a = contiguous_data(a_in), b = contiguous_data(b_in);
  auto y = empty(a->shape);
  const float* pa = a->f32();
  const float* pb = b->f32();
  float* py = y->f32();
  parallel_for(y->numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      py[i] = relu_value(pa[i] + pb[i]);
    }
  });
  if (any_requires_grad({&a_in, &b_in})) {
    auto node = make_node<AddReluBackward>();
    node->y = save(y);
    attach(y, node, {&a_in, &b_in});
  }
  return y;
}

}  // namespace dlf
