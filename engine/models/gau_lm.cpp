#include "models/gau_lm.h"

#include "kernels/vecmath.h"

#include <cstring>
#include <tuple>

namespace gyre::models {
namespace {

class GauLm final : public LanguageModel {
 public:
  GauLm(LmConfig config, TensorMap weights) : LanguageModel(std::move(config), std::move(weights)) {}

 private:
  struct Layer {
    Linear input;   // d → 2e + s, SiLU
    Linear output;  // e → d
    const float* q_scale = nullptr;
    const float* k_scale = nullptr;
  };

  int key_width() const override { return config_.key_size; }
  int value_width() const override { return config_.expansion; }

  Status build_layers() override {
    const LmConfig& c = config_;
    for (int l = 0; l < c.layers; ++l) {
      const std::string prefix = "layers." + std::to_string(l) + ".";
      Layer layer;
      Result<Linear> input = Linear::create(weight(prefix + "i_dense.weight").data(), 2 * c.expansion + c.key_size,
                                            c.hidden, prefix + "i_dense.weight");
      if (!input) return input.status();
      Result<Linear> output = Linear::create(weight(prefix + "o_dense.weight").data(), c.hidden, c.expansion,
                                             prefix + "o_dense.weight");
      if (!output) return output.status();
      layer.input = std::move(input).value();
      layer.output = std::move(output).value();
      layer.q_scale = weight(prefix + "q_scale").data();
      layer.k_scale = weight(prefix + "k_scale").data();
      layers_.push_back(std::move(layer));
    }
    return Status::ok();
  }

  Status run_layers(float* x, int rows, int first_position, int layer_end, const AttentionSetup& setup,
                    KvCache& cache, bool stateless, const Capture& capture) override {
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
      layer.input.apply(x, rows, h, Activation::silu);

      KvSlot& slot = cache.slot(stateless ? 0 : l);
      if (stateless) {
        slot.count = 0;
        slot.first_position = first_position;
      }
      if (Status status = cache.make_room(slot, rows); !status.is_ok()) return status;
      float* keys = slot.keys.data() + static_cast<std::size_t>(slot.count) * s;
      float* values = slot.values.data() + static_cast<std::size_t>(slot.count) * e;
      float* q = queries_.data();
      for (int r = 0; r < rows; ++r) {
        const float* row = h + static_cast<std::size_t>(r) * width;
        const float* z = row + 2 * e;
        float* qr = q + static_cast<std::size_t>(r) * s;
        float* kr = keys + static_cast<std::size_t>(r) * s;
        (void)kernels::vec_mul(z, layer.q_scale, qr, s);
        (void)kernels::vec_mul(z, layer.k_scale, kr, s);
        std::memcpy(values + static_cast<std::size_t>(r) * e, row + e, sizeof(float) * e);
      }
      if (Status status = apply_rope(q, rows, s, first_position); !status.is_ok()) return status;
      if (Status status = apply_rope(keys, rows, s, first_position); !status.is_ok()) return status;
      slot.count += rows;

      kernels::AttentionShape shape;
      shape.num_queries = rows;
      shape.num_keys = slot.count;
      shape.num_heads = 1;
      shape.head_dim = s;
      shape.value_dim = e;
      shape.query_position = first_position;
      shape.key_position = slot.first_position;
      float* attended = attended_.data();
      if (Status status = attention_with_capture(setup, shape, q, slot.keys.data(), slot.values.data(), attended, l, capture);
          !status.is_ok()) {
        return status;
      }
      for (int r = 0; r < rows; ++r) {
        float* a = attended + static_cast<std::size_t>(r) * e;
        (void)kernels::vec_mul(a, h + static_cast<std::size_t>(r) * width, a, e);  // U ⊙ (A V)
      }
      layer.output.apply(attended, rows, delta_.data());
      (void)kernels::vec_add(x, delta_.data(), x, static_cast<int>(n * d));
      rms_norm_rows(x, rows);
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

}  // namespace gyre::models
