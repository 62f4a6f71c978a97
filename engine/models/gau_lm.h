// GAU-LM: the GAU-α-style causal LM (docs/ALGORITHMS.md §3.2–3.3; models/train/models.py GauLM).
// Each layer is one gated attention unit, a single head:
//   [U | V | Z] = silu(x · W_iᵀ)   widths e, e, s
//   Q = rope(Z ⊙ γ_q), K = rope(Z ⊙ γ_k)
//   A = normaliser(Q Kᵀ / √s)  (softmax, softmax_plus or relu²/l; causal, optional window / log-n)
//   x ← RMSNorm(x + (U ⊙ A V) · W_oᵀ)
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/language_model.h"

namespace gyre::models {

std::unique_ptr<LanguageModel> make_gau_lm(LmConfig config, TensorMap weights);

// Appends the names and shapes of layer `layer`'s tensors (LanguageModel::expected_tensors).
void append_gau_layer_tensors(const LmConfig& c, int layer,
                              std::vector<std::pair<std::string, Shape>>& tensors);

}  // namespace gyre::models
