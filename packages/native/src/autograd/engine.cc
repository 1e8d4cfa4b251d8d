#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "autograd/node.h"
#include "runtime/threadpool.h"
#include "tensor/reduce.h"

namespace dlf {

namespace {
thread_local bool t_grad_enabled = true;
thread_local std::vector<Node*>* t_pending_deletes = nullptr;
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool enabled) { t_grad_enabled = enabled; }

void delete_node(Node* node) {
  if (t_pending_deletes) {
    t_pending_deletes->push_back(node);
    return;
  }
  std::vector<Node*> pending{node};
  t_pending_deletes = &pending;
  while (!pending.empty()) {
    Node* n = pending.back();
    pending.pop_back();
    delete n;  // may push more nodes onto `pending`, never recurse deeply
  }
  t_pending_deletes = nullptr;
}

bool any_requires_grad(std::initializer_list<const TensorPtr*> inputs) {
  if (!t_grad_enabled) return false;
  for (const TensorPtr* t : inputs) {
    if (t && *t && (*t)->requires_grad) return true;
  }
  return false;
}

std::shared_ptr<Node> grad_edge(const TensorPtr& t) {
  if (!t || !t->requires_grad) return nullptr;
  if (t->grad_fn) return t->grad_fn;
  auto acc = t->grad_accumulator.lock();
  if (!acc) {
    acc = make_node<AccumulateGrad>(t);
    t->grad_accumulator = acc;
  }
  return acc;
}

void attach(const TensorPtr& out, const std::shared_ptr<Node>& node, std::initializer_list<const TensorPtr*> inputs) {
  node->next.clear();
  node->input_shapes.clear();
  for (const TensorPtr* t : inputs) {
    node->next.push_back(t && *t ? grad_edge(*t) : nullptr);
    node->input_shapes.push_back(t && *t ? (*t)->shape : Shape{});
  }
  out->grad_fn = node;
  out->requires_grad = true;
}

void attach_list(const TensorPtr& out, const std::shared_ptr<Node>& node, const std::vector<TensorPtr>& inputs) {
  node->next.clear();
  node->input_shapes.clear();
  for (const TensorPtr& t : inputs) {
    node->next.push_back(grad_edge(t));
    node->input_shapes.push_back(t->shape);
  }
  out->grad_fn = node;
  out->requires_grad = true;
}

void AccumulateGrad::backward(const TensorPtr& gout, std::vector<TensorPtr>&) {
  if (!leaf->grad) {
    // leaf->grad is updated in place later, so it must own its buffer. A gradient that nothing else
    // references (a backward kernel's fresh output, as for most parameters) is adopted as it is;
    // anything that may alias another gradient is copied.
    if (gout.use_count() == 1 && gout->storage.use_count() == 1 && gout->offset == 0 && gout->is_contiguous() &&
        gout->shape == leaf->shape && gout->dtype == leaf->dtype && !gout->requires_grad) {
      leaf->grad = gout;
      return;
    }
    auto g = empty(leaf->shape);
    copy_into(g, gout);
    leaf->grad = g;
  } else {
    add_inplace(leaf->grad, gout);
  }
}

namespace {

struct GradModeGuard {
  bool prev;
  explicit GradModeGuard(bool enabled) : prev(t_grad_enabled) { t_grad_enabled = enabled; }
  ~GradModeGuard() { t_grad_enabled = prev; }
};

// The sum of two gradients reaching one node (a branch, a residual). The engine's own buffer is
// added to in place when nothing else holds it (most gradients are a kernel's fresh output);
// otherwise one pass writes the sum (a copy then an add cost a second pass over memory).
TensorPtr sum_gradients(const TensorPtr& a, const TensorPtr& b) {
  if (a.use_count() == 1 && a->storage.use_count() == 1 && a->offset == 0 && a->is_contiguous() &&
      !a->requires_grad) {
    add_inplace(a, b);
    return a;
  }
  auto out = empty(a->shape);
  const TensorPtr ac = contiguous_data(a), bc = contiguous_data(b);
  const float* pa = ac->f32();
  const float* pb = bc->f32();
  float* po = out->f32();
  parallel_for(out->numel(), 32768, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) po[i] = pa[i] + pb[i];
  });
  return out;
}

// Moves the gradients already summed for a node's inputs into node.pending (see Node::absorbs_pending),
// and afterwards puts back those backward did not add in.
void take_pending(Node& node, std::unordered_map<Node*, TensorPtr>& buffers) {
  node.pending.assign(node.next.size(), nullptr);
  for (size_t i = 0; i < node.next.size(); ++i) {
    if (!node.next[i]) continue;
    auto it = buffers.find(node.next[i].get());
    if (it == buffers.end() || !it->second->is_contiguous() || it->second->shape != node.input_shapes[i]) continue;
    node.pending[i] = std::move(it->second);
    buffers.erase(it);
  }
}
void return_pending(Node& node, std::unordered_map<Node*, TensorPtr>& buffers) {
  for (size_t i = 0; i < node.pending.size(); ++i)
    if (node.pending[i]) buffers[node.next[i].get()] = std::move(node.pending[i]);
  node.pending.clear();
}

// Maps the AccumulateGrad node of each watched leaf this backward reaches to the leaf's index, and
// notifies the other leaves at once: this backward leaves their .grad as it is, so it is final now
// (data-parallel training can send an unused parameter's bucket without waiting for the walk's end).
std::unordered_map<Node*, size_t> watch_leaves(const GradReadyHook& hook,
                                               const std::unordered_map<Node*, int>& reached) {
  std::unordered_map<Node*, size_t> index;
  std::unordered_set<const TensorImpl*> seen;
  std::vector<size_t> unreached;
  for (size_t i = 0; i < hook.leaves.size(); ++i) {
    const TensorPtr& leaf = hook.leaves[i];
    DLF_THROW_RANGE_IF(!seen.insert(leaf.get()).second, "backward: watched tensor ", i,
                       " is the same tensor as an earlier one; list each leaf once");
    auto acc = leaf->grad_fn ? nullptr : leaf->grad_accumulator.lock();
    if (acc && reached.count(acc.get()) != 0) {
      index.emplace(acc.get(), i);
    } else {
      unreached.push_back(i);
    }
  }
  for (size_t i : unreached) hook.notify(i);
  return index;
}

}  // namespace

void run_backward(const TensorPtr& root, const TensorPtr& grad_in, bool retain_graph,
                  const GradReadyHook* hook) {
  DLF_THROW_IF(!root->requires_grad, "backward: the tensor does not require grad and has no grad_fn");
  TensorPtr grad = grad_in;
  if (!grad) {
    DLF_THROW_IF(root->numel() != 1, "backward: a gradient can be implied only for a one-element tensor; this one has shape ",
                 shape_str(root->shape), ", so pass a gradient");
    grad = full(root->shape, 1.0);
  } else {
    DLF_THROW_RANGE_IF(grad->shape != root->shape, "backward: gradient shape ", shape_str(grad->shape),
                       " does not match the tensor's shape ", shape_str(root->shape));
    expect_f32(grad, "gradient");
    grad = contiguous_data(grad);
  }
  GradModeGuard no_record(false);
  std::shared_ptr<Node> start = grad_edge(root);

  // Count, for every reachable node, how many edges lead into it (iterative DFS).
  std::unordered_map<Node*, int> deps;
  {
    std::vector<Node*> stack{start.get()};
    deps[start.get()] = 0;
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (const auto& child : n->next) {
        if (!child) continue;
        auto it = deps.find(child.get());
        if (it == deps.end()) {
          deps.emplace(child.get(), 1);
          stack.push_back(child.get());
        } else {
          ++it->second;
        }
      }
    }
  }

  std::unordered_map<Node*, size_t> watched;
  if (hook) watched = watch_leaves(*hook, deps);

  std::unordered_map<Node*, TensorPtr> buffers;
  buffers[start.get()] = grad;
  // Keep every node alive while it waits in `ready` (edges hold shared_ptrs; the root holds the start).
  std::vector<std::shared_ptr<Node>> ready{start};
  std::vector<TensorPtr> gin;
  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    auto bit = buffers.find(node.get());
    TensorPtr g = bit != buffers.end() ? std::move(bit->second) : nullptr;
    if (bit != buffers.end()) buffers.erase(bit);
    DLF_THROW_IF(node->released, "backward: trying to run backward through ", node->name(),
                 " a second time; its saved tensors were freed. Pass retainGraph: true to the first backward");
    gin.assign(node->next.size(), nullptr);
    const bool absorbs = g && node->absorbs_pending();
    if (absorbs) take_pending(*node, buffers);
    if (g) node->backward(g, gin);
    if (absorbs) return_pending(*node, buffers);
    if (!retain_graph && dynamic_cast<AccumulateGrad*>(node.get()) == nullptr) {
      node->release_saved();
      node->released = true;
    }
    if (!watched.empty()) {
      auto w = watched.find(node.get());
      if (w != watched.end()) hook->notify(w->second);
    }
    for (size_t i = 0; i < node->next.size(); ++i) {
      const auto& child = node->next[i];
      if (!child) continue;
      TensorPtr gi = gin[i];
      if (gi) {
        if (gi->shape != node->input_shapes[i]) gi = sum_to_shape(gi, node->input_shapes[i]);
        auto& slot = buffers[child.get()];
        slot = slot ? sum_gradients(slot, gi) : gi;
      }
      if (--deps[child.get()] == 0) ready.push_back(child);
    }
  }
}

}  // namespace dlf
