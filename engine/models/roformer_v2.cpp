#include "models/roformer_v2.h"

#include "kernels/vecmath.h"

#include <cstring>
#include <tuple>

namespace gyre::models {
namespace {

class RoFormerV2 final : public LanguageModel {
 public:
  RoFormerV2(LmConfig config, TensorMap weights)
      : LanguageModel(std::move(config), std::move(weights)) {}

 private:
  struct Layer {
    Linear qkv;      // d → 3d (Q, K, V side by side)
    Linear output;   // d → d
    Linear ffn_in;   // d → intermediate, ReLU
    Linear ffn_out;  // intermediate → d
  };

  Status build_layers() override {
    const LmConfig& c = config_;
    const std::size_t square = static_cast<std::size_t>(c.hidden) * c.hidden;
    Result<FloatBuffer> stacked = FloatBuffer::allocate(3 * square, "the stacked QKV weights");
    if (!stacked) return stacked.status();
    for (int l = 0; l < c.layers; ++l) {
      const std::string attention = "attentions." + std::to_string(l) + ".";
      const std::string ffn = "feed_forwards." + std::to_string(l) + ".";
      std::memcpy(stacked.value().data(), weight(attention + "q_dense.weight").data(),
                  sizeof(float) * square);
      std::memcpy(stacked.value().data() + square, weight(attention + "k_dense.weight").data(),
                  sizeof(float) * square);
      std::memcpy(stacked.value().data() + 2 * square, weight(attention + "v_dense.weight").data(),
                  sizeof(float) * square);
      Layer layer;
      Result<Linear> qkv =
          Linear::create(stacked.value().data(), 3 * c.hidden, c.hidden, attention + "qkv");
      Result<Linear> output = Linear::create(weight(attention + "o_dense.weight").data(), c.hidden,
                                             c.hidden, attention + "o_dense.weight");
      Result<Linear> ffn_in = Linear::create(weight(ffn + "i_dense.weight").data(), c.intermediate,
                                             c.hidden, ffn + "i_dense.weight");
      Result<Linear> ffn_out = Linear::create(weight(ffn + "o_dense.weight").data(), c.hidden,
                                              c.intermediate, ffn + "o_dense.weight");
      for (const Result<Linear>* r : {&qkv, &output, &ffn_in, &ffn_out}) {
        if (!*r) return r->status();
      }
      layer.qkv = std::move(qkv).value();
      layer.output = std::move(output).value();
      layer.ffn_in = std::move(ffn_in).value();
      layer.ffn_out = std::move(ffn_out).value();
      layers_.push_back(std::move(layer));
    }
    return Status::ok();
  }

  Status run_layers(float* x, int rows, int first_position, int layer_end,
                    const AttentionSetup& setup, Pass pass, const Capture& capture) override {
    const int d = config_.hidden;
    const std::uint64_t n = static_cast<std::uint64_t>(rows);
    for (auto [buffer, floats, what] :
         {std::tuple{&projected_, n * 3 * d, "the QKV projections"},
          std::tuple{&attended_, n * d, "the attention output"},
          std::tuple{&delta_, n * d, "the layer output"},
          std::tuple{&inner_, n * config_.intermediate, "the FFN activations"}}) {
      if (Status status = ensure_capacity(*buffer, floats, what); !status.is_ok()) return status;
    }
    for (int l = 0; l < layer_end; ++l) {
      const Layer& layer = layers_[l];
      float* qkv = projected_.data();
      layer.qkv.apply(x, rows, qkv);

      float* keys = scratch_keys();
      float* values = scratch_values();
      for (int r = 0; r < rows; ++r) {
        const float* row = qkv + static_cast<std::size_t>(r) * 3 * d;
        std::memcpy(keys + static_cast<std::size_t>(r) * d, row + d, sizeof(float) * d);
        std::memcpy(values + static_cast<std::size_t>(r) * d, row + 2 * d, sizeof(float) * d);
      }
      if (Status status = apply_rope(qkv, rows, 3 * d, first_position); !status.is_ok())
        return status;
      if (Status status = apply_rope(keys, rows, d, first_position); !status.is_ok()) return status;
      if (Status status =
              attend(l, pass, setup, rows, first_position, qkv, 3 * d, attended_.data(), capture);
          !status.is_ok()) {
        return status;
      }
      layer.output.apply(attended_.data(), rows, delta_.data());
      residual_norm_rows(x, delta_.data(), rows);
      layer.ffn_in.apply(x, rows, inner_.data(), Activation::relu);
      layer.ffn_out.apply(inner_.data(), rows, delta_.data());
      residual_norm_rows(x, delta_.data(), rows);
    }
    return Status::ok();
  }

  std::vector<Layer> layers_;
  FloatBuffer projected_, attended_, delta_, inner_;
};

}  // namespace

std::unique_ptr<LanguageModel> make_roformer_v2(LmConfig config, TensorMap weights) {
  return std::make_unique<RoFormerV2>(std::move(config), std::move(weights));
}

void append_roformer_v2_layer_tensors(const LmConfig& c, int layer,
                                      std::vector<std::pair<std::string, Shape>>& tensors) {
  const std::string attention = "attentions." + std::to_string(layer) + ".";
  const std::string ffn = "feed_forwards." + std::to_string(layer) + ".";
  for (const char* p : {"q", "k", "v", "o"})
    tensors.push_back({attention + p + "_dense.weight", {c.hidden, c.hidden}});
  tensors.push_back({ffn + "i_dense.weight", {c.intermediate, c.hidden}});
  tensors.push_back({ffn + "o_dense.weight", {c.hidden, c.intermediate}});
}

}  // namespace gyre::models
