#include "models/gau_lm.h"

#include "kernels/vecmath.h"
#include "models/gated_unit.h"

#include <cstring>
#include <tuple>

namespace gyre::models {
namespace {

class GauLm final : public LanguageModel {
 public:
  GauLm(LmConfig config, TensorMap weights)
      : LanguageModel(std::move(config), std::move(weights)) {}

 private:
  struct Layer {
    GatedProjections projections;
    const float* q_scale = nullptr;
    const float* k_scale = nullptr;
  };

  Status build_layers() override {
    const LmConfig& c = config_;
    for (int l = 0; l < c.layers; ++l) {
      const std::string prefix = "layers." + std::to_string(l) + ".";
      Layer layer;
      Result<GatedProjections> projections =
          make_gated_projections(c, prefix, weight(prefix + "i_dense.weight").data(),
                                 weight(prefix + "o_dense.weight").data());
      if (!projections) return projections.status();
      layer.projections = std::move(projections).value();
      layer.q_scale = weight(prefix + "q_scale").data();
      layer.k_scale = weight(prefix + "k_scale").data();
      layers_.push_back(std::move(layer));
    }
    return Status::ok();
  }

  Status run_layers(float* x, int rows, int first_position, int layer_end,
                    const AttentionSetup& setup, Pass pass, const Capture& capture) override {
    const int d = config_.hidden, e = config_.expansion, s = config_.key_size;
    const int width = 2 * e + s;
    const std::uint64_t n = static_cast<std::uint64_t>(rows);
    for (auto [buffer, floats, what] : {std::tuple{&projected_, n * width, "the GAU projections"},
                                        std::tuple{&queries_, n * s, "the GAU queries"},
                                        std::tuple{&attended_, n * e, "the GAU attention output"},
                                        std::tuple{&delta_, n * d, "the GAU layer output"}}) {
      if (Status status = ensure_capacity(*buffer, floats, what); !status.is_ok()) return status;
    }
    for (int l = 0; l < layer_end; ++l) {
      const Layer& layer = layers_[l];
      float* h = projected_.data();
      layer.projections.input.apply(x, rows, h, Activation::silu);

      float* keys = scratch_keys();
      float* values = scratch_values();
      float* q = queries_.data();
      for (int r = 0; r < rows; ++r) {
        const float* row = h + static_cast<std::size_t>(r) * width;
        const float* z = row + 2 * e;
        (void)kernels::vec_mul(z, layer.q_scale, q + static_cast<std::size_t>(r) * s, s);
        (void)kernels::vec_mul(z, layer.k_scale, keys + static_cast<std::size_t>(r) * s, s);
        std::memcpy(values + static_cast<std::size_t>(r) * e, row + e, sizeof(float) * e);
      }
      if (Status status = apply_rope(q, rows, s, first_position); !status.is_ok()) return status;
      if (Status status = apply_rope(keys, rows, s, first_position); !status.is_ok()) return status;
      float* attended = attended_.data();
      if (Status status = attend(l, pass, setup, rows, first_position, q, s, attended, capture);
          !status.is_ok()) {
        return status;
      }
      gate_rows(h, width, attended, rows, e);  // U ⊙ (A V)
      layer.projections.output.apply(attended, rows, delta_.data());
      residual_norm_rows(x, delta_.data(), rows);
    }
    return Status::ok();
  }

  std::vector<Layer> layers_;
  FloatBuffer projected_, queries_, attended_, delta_;
};

}  // namespace

std::unique_ptr<LanguageModel> make_gau_lm(LmConfig config, TensorMap weights) {
  return std::make_unique<GauLm>(std::move(config), std::move(weights));
}

void append_gau_layer_tensors(const LmConfig& c, int layer,
                              std::vector<std::pair<std::string, Shape>>& tensors) {
  const std::string prefix = "layers." + std::to_string(layer) + ".";
  tensors.push_back({prefix + "i_dense.weight", {2 * c.expansion + c.key_size, c.hidden}});
  tensors.push_back({prefix + "q_scale", {c.key_size}});
  tensors.push_back({prefix + "k_scale", {c.key_size}});
  tensors.push_back({prefix + "o_dense.weight", {c.hidden, c.expansion}});
}

}  // namespace gyre::models
