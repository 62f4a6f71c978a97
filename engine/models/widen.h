// Lossless widening of a trained language model by an integer factor k (docs/ALGORITHMS.md §8): a
// new model whose hidden size, head size (GAU key size) and FFN / expansion widths are k times
// larger, computing the same function. The residual stream of the wide model is repeat_k(x)/√k
// (each element repeated in place):
//   embedding, output matrix       repeat / √k
//   RMSNorm                         gain / √k and ε / k (the norm sees mean(x²)/k)
//   Q and K (RoFormerV2 q/k_dense)  W / k · k^{1/4}: the 1/√head_size scale shrinks by √k
//   V, O                            W / k
//   FFN in, GAU i_dense (U, V, Z)   W / √k: the pre-activation is an exact repeat, so SiLU commutes
//   FFN out, GAU o_dense            W / (k√k)
//   GAU q_scale, k_scale            γ · k^{−1/4} (Z is an exact repeat)
// RoPE: with exact_rope the k copies of each head's Q/K features are laid out as k consecutive
// blocks of the original head size, each rotated by the original θ table (the "duplicated θ
// table"): exact. Without it the pairs are repeated in place and the wide head uses standard RoPE
// of k times the head size, whose frequencies differ from the original ones for all but every k-th
// pair: approximate (the post's conclusion that RoPE models cannot be widened exactly with standard
// RoPE); verify() measures the error.
#pragma once

#include <memory>
#include <span>

#include "models/language_model.h"

namespace gyre::models {

Result<std::unique_ptr<LanguageModel>> widen(const LanguageModel& model, int k, bool exact_rope);

// max |logits_a − logits_b| over a causal pass of `tokens` through both models (as trained).
Result<float> max_logit_difference(LanguageModel& a, LanguageModel& b, std::span<const int> tokens);

}  // namespace gyre::models
