// The recorded graph. Every differentiable op that runs while grad mode is on and has an input that
// requires grad creates one Node: it keeps what backward needs (saved tensors, attributes) and one
// edge per input: that input's grad_fn, the leaf's AccumulateGrad, or null when no gradient flows.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "tensor/tensor.h"

namespace dlf {

struct Node {
  virtual ~Node() = default;
  /** A short name for error messages ("ConvBackward"). */
  virtual const char* name() const = 0;
  /**
   * Given the gradient of the output (contiguous float32, output shape), fills gin[i] for every input
   * whose edge is non-null. A gradient may have the broadcast shape; the engine sums it down.
   */
  virtual void backward(const TensorPtr& gout, std::vector<TensorPtr>& gin) = 0;
  /** Drops saved tensors after backward (unless the graph is retained). */
  virtual void release_saved() {}

  bool needs_grad(size_t i) const { return i < next.size() && next[i] != nullptr; }

  /**
   * Whether backward can add gradients other consumers already sent to an input into the gradient
   * it writes for it (one pass fewer over that tensor than the engine's sum). When true, the engine
   * moves each such sum (contiguous, of the input's shape) into pending[i] before backward; backward
   * resets the entries it added into gin[i], and the engine sums what is left as usual.
   */
  virtual bool absorbs_pending() const { return false; }
  std::vector<TensorPtr> pending;

  std::vector<std::shared_ptr<Node>> next;
  std::vector<Shape> input_shapes;
  bool released = false;
};

/** The sink for a leaf tensor's gradient: accumulates into leaf->grad in place. */
struct AccumulateGrad final : Node {
  explicit AccumulateGrad(TensorPtr leaf_tensor) : leaf(std::move(leaf_tensor)) {}
  const char* name() const override { return "AccumulateGrad"; }
  void backward(const TensorPtr& gout, std::vector<TensorPtr>& gin) override;
  TensorPtr leaf;
};

/** Deleter for every node: frees chains of nodes iteratively, so a 100,000-op graph cannot overflow the stack. */
void delete_node(Node* node);

template <typename N, typename... Args>
std::shared_ptr<N> make_node(Args&&... args) {
  return std::shared_ptr<N>(new N(std::forward<Args>(args)...), [](N* n) { delete_node(n); });
}

bool grad_enabled();
void set_grad_enabled(bool enabled);

/** True when grad mode is on and any of the tensors requires grad. */
bool any_requires_grad(std::initializer_list<const TensorPtr*> inputs);
/** The edge for `t`: its grad_fn, its (shared) AccumulateGrad, or null. */
std::shared_ptr<Node> grad_edge(const TensorPtr& t);
/** Connects node to its inputs and makes it `out`'s grad_fn. Null input pointers get null edges. */
void attach(const TensorPtr& out, const std::shared_ptr<Node>& node, std::initializer_list<const TensorPtr*> inputs);
void attach_list(const TensorPtr& out, const std::shared_ptr<Node>& node, const std::vector<TensorPtr>& inputs);
/** A copy of t's reference for saving in a node: same data, no autograd history (avoids cycles). */
inline TensorPtr save(const TensorPtr& t) { return t ? alias(t) : nullptr; }

/**
 * Leaves whose gradients someone wants as soon as they are final (data-parallel training starts a
 * leaf's allreduce while backward continues). `notify(i)` runs exactly once for each `leaves[i]`: for
 * a leaf the graph reaches, right after its AccumulateGrad ran (every contribution has been summed into
 * .grad and this backward writes it no more); for any other, before the walk starts.
 */
struct GradReadyHook {
  std::vector<TensorPtr> leaves;
  std::function<void(size_t)> notify;
};

/**
 * Runs backward from `root`. `grad` may be null for a one-element root. Accumulates into leaves'
 * .grad; releases saved tensors unless retain_graph. With no `hook` the walk does no per-node work
 * for it beyond one null check.
 */
void run_backward(const TensorPtr& root, const TensorPtr& grad, bool retain_graph,
                  const GradReadyHook* hook = nullptr);

}  // namespace dlf
