// FLASH-LM: GAU-LM's skeleton with FLASH layers (docs/ALGORITHMS.md §3.4; models/train/models.py
// FlashLM). Each layer is one gated unit whose attention is mixed-chunk:
//   [U | V | Z] = silu(x · W_iᵀ)   widths e, e, s
//   Qq, Kq, Ql, Kl = rope(Z ⊙ γ_i + β_i), i = 0 … 3   (qk_scale, qk_offset rows)
//   A = kernels::flash_mixed_chunk(Qq, Kq, Ql, Kl, V)  (causal: relu² inside chunks of c tokens,
//                                                       linear over the earlier chunks)
//   x ← RMSNorm(x + (U ⊙ A) · W_oᵀ)
// A full pass costs O(n·c) and O(n) memory; chunked passes and generation step one
// kernels::FlashDecoder per layer, whose state does not grow with the sequence. There is no window
// or log-n option (LanguageModel refuses them) and no attention matrix to capture.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/language_model.h"

namespace gyre::models {

std::unique_ptr<LanguageModel> make_flash_lm(LmConfig config, TensorMap weights);

// Appends the names and shapes of layer `layer`'s tensors (LanguageModel::expected_tensors).
void append_flash_layer_tensors(const LmConfig& c, int layer,
                                std::vector<std::pair<std::string, Shape>>& tensors);

}  // namespace gyre::models
