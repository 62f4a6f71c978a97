// RoFormerV2 causal LM (docs/ALGORITHMS.md §4; models/train/models.py RoFormerV2LM): no biases,
// RMSNorm without gain, post-norm, multi-head attention with RoPE on every head's q and k (scale
// 1/√head_size), ReLU FFN:
//   x ← RMSNorm(x + MHA(x)),  x ← RMSNorm(x + relu(x · W_1ᵀ) · W_2ᵀ)
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/language_model.h"

namespace gyre::models {

std::unique_ptr<LanguageModel> make_roformer_v2(LmConfig config, TensorMap weights);

// Appends the names and shapes of layer `layer`'s tensors (LanguageModel::expected_tensors).
void append_roformer_v2_layer_tensors(const LmConfig& c, int layer,
                                      std::vector<std::pair<std::string, Shape>>& tensors);

}  // namespace gyre::models
