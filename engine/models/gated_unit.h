// What the two gated-unit layers (GAU in gau_lm.cpp, FLASH in flash_lm.cpp) share: the projection
// into [U | V | Z] = silu(x · W_iᵀ) (widths e, e, s) and the gated output (U ⊙ A) · W_oᵀ.
#pragma once

#include <string>

#include "core/status.h"
#include "models/linear.h"
#include "models/lm_config.h"

namespace gyre::models {

struct GatedProjections {
  Linear input;   // d → 2e + s, SiLU
  Linear output;  // e → d
};

// Packs `<prefix>i_dense.weight` and `<prefix>o_dense.weight` (errors name the tensor).
Result<GatedProjections> make_gated_projections(const LmConfig& c, const std::string& prefix,
                                                const float* input_weight,
                                                const float* output_weight);

// attended[r] ← U_r ⊙ attended[r] for each row, U_r being the first e floats of projected row r.
void gate_rows(const float* projected, int width, float* attended, int rows, int e);

}  // namespace gyre::models
