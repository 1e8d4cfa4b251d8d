// Shared by the batch-norm ops (nn/norm.cc, nn/bn_depthwise.cc): the training statistics' arithmetic,
// in one place so that a fused op's numbers are bit for bit batch_norm2d's.
#pragma once
#include <cstdint>
#include <vector>

namespace dlf {

// A channel's sums over its M values (of x, and of (x - mean)^2) -> its batch mean and (biased)
// variance, and the float mean and 1 / sqrt(var + eps) that normalise it.
void bn_batch_statistics(double sum, double sq, double M, double eps, double& batch_mean, double& batch_var,
                         float& mean, float& invstd);

// running = (1 - momentum) * running + momentum * batch, with the unbiased variance (as PyTorch).
void bn_update_running(float* running_mean, float* running_var, const std::vector<double>& batch_mean,
                       const std::vector<double>& batch_var, double M, double momentum);

}  // namespace dlf
