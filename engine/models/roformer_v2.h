// RoFormerV2 causal LM (ALGORITHMS.md 4; models/train/models.py RoFormerV2LM): no biases, RMSNorm
// without gain, post-norm, multi-head attention with RoPE on every head's q and k (scale
// 1/√head_size), ReLU FFN:
//   x ← RMSNorm(x + MHA(x)),  x ← RMSNorm(x + relu(x · W_1ᵀ) · W_2ᵀ)
#pragma once

#include <memory>

#include "models/language_model.h"

namespace gyre::models {

std::unique_ptr<LanguageModel> make_roformer_v2(LmConfig config, TensorMap weights);

}  // namespace gyre::models
