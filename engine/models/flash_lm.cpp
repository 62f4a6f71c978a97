#include "models/flash_lm.h"

#include <tuple>

#include "kernels/flash.h"
#include "kernels/vecmath.h"
#include "models/gated_unit.h"

namespace gyre::models {
namespace {

// The four maps of Z, in the order of the qk_scale / qk_offset rows.
constexpr int kQuadQ = 0, kQuadK = 1, kLinQ = 2, kLinK = 3, kMaps = 4;

class FlashLm final : public LanguageModel {
 public:
  FlashLm(LmConfig config, TensorMap weights)
      : LanguageModel(std::move(config), std::move(weights)) {}

 private:
  struct Layer {
    GatedProjections projections;
    const float* qk_scale = nullptr;   // [4 × s]
    const float* qk_offset = nullptr;  // [4 × s]
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
      layer.qk_scale = weight(prefix + "qk_scale").data();
      layer.qk_offset = weight(prefix + "qk_offset").data();
      layers_.push_back(std::move(layer));
    }
    return Status::ok();
  }

  Status run_layers(float* x, int rows, int first_position, int layer_end,
                    const AttentionSetup& /*setup: FLASH has no override*/, Pass pass,
                    const Capture& capture) override {
    if (capture.layer >= 0) {
      return Status(ErrorCode::kBadArgument,
                    "flash-lm has no attention matrix to capture (its attention across chunks is "
                    "linear): attention entropy and weights are not available");
    }
    const int d = config_.hidden, e = config_.expansion, s = config_.key_size;
    const int width = 2 * e + s;
    const std::uint64_t n = static_cast<std::uint64_t>(rows);
    for (auto [buffer, floats, what] :
         {std::tuple{&projected_, n * width, "the FLASH projections"},
          std::tuple{&queries_keys_, n * kMaps * s, "the FLASH queries and keys"},
          std::tuple{&attended_, n * e, "the FLASH attention output"},
          std::tuple{&delta_, n * d, "the FLASH layer output"}}) {
      if (Status status = ensure_capacity(*buffer, floats, what); !status.is_ok()) return status;
    }
    const int qk_stride = kMaps * s;  // a row holds Qq, Kq, Ql, Kl side by side
    for (int l = 0; l < layer_end; ++l) {
      const Layer& layer = layers_[l];
      float* h = projected_.data();
      layer.projections.input.apply(x, rows, h, Activation::silu);

      float* qk = queries_keys_.data();
      for (int r = 0; r < rows; ++r) {
        const float* z = h + static_cast<std::size_t>(r) * width + 2 * e;
        for (int m = 0; m < kMaps; ++m) {
          float* out = qk + static_cast<std::size_t>(r) * qk_stride + m * s;
          (void)kernels::vec_mul(z, layer.qk_scale + m * s, out, s);
          (void)kernels::vec_add(out, layer.qk_offset + m * s, out, s);
        }
      }
      for (int m = 0; m < kMaps; ++m) {
        if (Status status = apply_rope(qk + m * s, rows, qk_stride, first_position);
            !status.is_ok())
          return status;
      }
      const float* v = h + e;  // V rows, stride `width`
      float* attended = attended_.data();
      if (Status status = pass == Pass::full ? attend_all(rows, qk, qk_stride, v, width, attended)
                                             : attend_steps(l, rows, first_position, qk, qk_stride,
                                                            v, width, attended);
          !status.is_ok()) {
        return status;
      }
      gate_rows(h, width, attended, rows, e);  // U ⊙ A
      layer.projections.output.apply(attended, rows, delta_.data());
      residual_norm_rows(x, delta_.data(), rows);
    }
    return Status::ok();
  }

  // The whole sequence at once (positions 0 … rows − 1): the mixed-chunk kernel, O(rows · c).
  Status attend_all(int rows, const float* qk, int qk_stride, const float* v, int v_stride,
                    float* out) {
    const int s = config_.key_size;
    kernels::FlashShape shape;
    shape.length = rows;
    shape.chunk = config_.chunk;
    shape.qk_dim = s;
    shape.value_dim = config_.expansion;
    shape.causal = true;
    shape.qk_stride = qk_stride;
    shape.v_stride = v_stride;
    return kernels::flash_mixed_chunk(shape, qk + kQuadQ * s, qk + kQuadK * s, qk + kLinQ * s,
                                      qk + kLinK * s, v, out, attention_workspace_);
  }

  // A chunk of a longer sequence, or one generated token: each row steps the layer's decoder,
  // which continues from the tokens before first_position.
  Status attend_steps(int layer, int rows, int first_position, const float* qk, int qk_stride,
                      const float* v, int v_stride, float* out) {
    kernels::FlashDecoder& decoder = active_sequence().flash[layer];
    if (decoder.length() != first_position) {
      return Status(ErrorCode::kBadArgument, "a chunk at position " +
                                                 std::to_string(first_position) + " after " +
                                                 std::to_string(decoder.length()) + " tokens");
    }
    const int s = config_.key_size, e = config_.expansion;
    for (int r = 0; r < rows; ++r) {
      const float* row = qk + static_cast<std::size_t>(r) * qk_stride;
      if (Status status = decoder.step(row + kQuadQ * s, row + kQuadK * s, row + kLinQ * s,
                                       row + kLinK * s, v + static_cast<std::size_t>(r) * v_stride,
                                       out + static_cast<std::size_t>(r) * e, attention_workspace_);
          !status.is_ok()) {
        return status;
      }
    }
    return Status::ok();
  }

  std::vector<Layer> layers_;
  FloatBuffer projected_, queries_keys_, attended_, delta_;
};

}  // namespace

std::unique_ptr<LanguageModel> make_flash_lm(LmConfig config, TensorMap weights) {
  return std::make_unique<FlashLm>(std::move(config), std::move(weights));
}

void append_flash_layer_tensors(const LmConfig& c, int layer,
                                std::vector<std::pair<std::string, Shape>>& tensors) {
  const std::string prefix = "layers." + std::to_string(layer) + ".";
  tensors.push_back({prefix + "i_dense.weight", {2 * c.expansion + c.key_size, c.hidden}});
  tensors.push_back({prefix + "qk_scale", {kMaps, c.key_size}});
  tensors.push_back({prefix + "qk_offset", {kMaps, c.key_size}});
  tensors.push_back({prefix + "o_dense.weight", {c.hidden, c.expansion}});
}

}  // namespace gyre::models
