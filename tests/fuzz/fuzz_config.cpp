// libFuzzer harness: config.json text through the JSON reader and both model config parsers. A
// language-model config that parses and is small is then built with synthetic weights and run on a
// few tokens in every attention mode, so hostile sizes, vocabularies and RoPE settings reach the
// model code too.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "io/config.h"
#include "models/language_model.h"
#include "models/unet.h"

namespace {

using namespace gyre;

void run_small_model(models::LmConfig config) {
  std::uint64_t floats = 0;
  models::TensorMap weights;
  for (const auto& [name, shape] : models::LanguageModel::expected_tensors(config)) {
    const std::optional<std::uint64_t> count = checked_element_count(shape);
    if (!count) return;
    floats += *count;
    if (floats > (1u << 18)) return;  // keep each run fast: only small models are executed
    Result<Tensor> tensor = Tensor::zeros(shape, name);
    if (!tensor) return;
    float* w = tensor.value().data();
    for (std::size_t i = 0; i < tensor.value().size(); ++i)
      w[i] = static_cast<float>(static_cast<int>((i * 2654435761u) % 201) - 100) * 0.01f;
    weights.emplace(name, std::move(tensor).value());
  }
  Result<std::unique_ptr<models::LanguageModel>> model =
      models::LanguageModel::create(config, std::move(weights));
  if (!model) return;
  const int vocab = config.vocab_size;
  const std::vector<int> tokens{0, 1 % vocab, (vocab - 1), 2 % vocab, 0};
  for (models::AttentionOverride::Mode mode :
       {models::AttentionOverride::Mode::as_trained, models::AttentionOverride::Mode::full,
        models::AttentionOverride::Mode::local}) {
    for (bool logn : {false, true}) {  // FLASH refuses log-n (and windows): without it, it runs
      models::AttentionOverride attention;
      attention.mode = mode;
      attention.window = 2;
      attention.logn = logn;
      (void)model.value()->negative_log_likelihood(tokens, attention);
      if (model.value()->begin(tokens, attention).is_ok()) (void)model.value()->advance(1 % vocab);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<io::ModelConfig> json = io::ModelConfig::parse(text);
  if (!json) return 0;
  (void)models::parse_unet_config(json.value());
  Result<models::LmConfig> config = models::parse_lm_config(json.value());
  if (config) run_small_model(std::move(config).value());
  return 0;
}
