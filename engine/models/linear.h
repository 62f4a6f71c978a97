// A bias-free dense layer y = act(x · Wᵀ) whose weights are packed once, at model load, for the
// packed GEMM (kernels/gemm.h). W arrives in PyTorch's nn.Linear layout [out, in]. The GAU
// projections, MHA, FFN, the output head and the U-Net's time embeddings and 1×1 skips run through
// this class (the U-Net's 3×3 convolutions take Winograd, kernels/conv3x3.h).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/gemm.h"

namespace gyre::models {

using kernels::Activation;

class Linear {
 public:
  Linear() = default;
  // weight: [out, in] row-major (PyTorch), or with `transposed` = false [in, out].
  static Result<Linear> create(const float* weight, int out, int in, std::string_view what,
                               bool transposed = true);

  int in() const { return in_; }
  int out() const { return out_; }

  // y[r, :] = act(x[r, :] · Wᵀ) for r < rows; strides are in floats (0 = dense).
  void apply(const float* x, int rows, float* y, Activation activation = Activation::none,
             int x_stride = 0, int y_stride = 0) const;

 private:
  int in_ = 0, out_ = 0;
  FloatBuffer packed_;
};

}  // namespace gyre::models
