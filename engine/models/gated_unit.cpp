#include "models/gated_unit.h"

#include <cstddef>
#include <utility>

#include "kernels/vecmath.h"

namespace gyre::models {

Result<GatedProjections> make_gated_projections(const LmConfig& c, const std::string& prefix,
                                                const float* input_weight,
                                                const float* output_weight) {
  Result<Linear> input = Linear::create(input_weight, 2 * c.expansion + c.key_size, c.hidden,
                                        prefix + "i_dense.weight");
  if (!input) return input.status();
  Result<Linear> output =
      Linear::create(output_weight, c.hidden, c.expansion, prefix + "o_dense.weight");
  if (!output) return output.status();
  return GatedProjections{std::move(input).value(), std::move(output).value()};
}

void gate_rows(const float* projected, int width, float* attended, int rows, int e) {
  for (int r = 0; r < rows; ++r) {
    float* a = attended + static_cast<std::size_t>(r) * e;
    (void)kernels::vec_mul(a, projected + static_cast<std::size_t>(r) * width, a, e);
  }
}

}  // namespace gyre::models
