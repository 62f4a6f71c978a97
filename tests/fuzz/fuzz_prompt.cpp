// libFuzzer harness: the prompt path. Arbitrary bytes (malformed UTF-8 included) go through the
// tokenizer of a small language model with a multi-byte vocabulary, then through evaluation and
// incremental decoding with an attention mode, window and log-n chosen by the first bytes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "models/language_model.h"

namespace {

using namespace gyre;

std::unique_ptr<models::LanguageModel> make_model() {
  models::LmConfig config;
  config.family = models::LmFamily::gau;
  config.vocab = {"\xef\xbf\xbd", " ", "a", "b", "e", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x99\x82",
                  "\n", ".", "\xce\xbb", "z"};
  config.vocab_size = static_cast<int>(config.vocab.size());
  config.hidden = 16;
  config.layers = 2;
  config.expansion = 24;
  config.key_size = 8;
  config.rope_dim = 8;
  config.train_length = 16;
  config.normaliser = kernels::AttentionNormaliser::softmax_plus;
  models::TensorMap weights;
  std::uint32_t state = 12345;
  for (const auto& [name, shape] : models::LanguageModel::expected_tensors(config)) {
    Result<Tensor> tensor = Tensor::zeros(shape, name);
    for (float& w : tensor.value().values()) {
      state = state * 1664525u + 1013904223u;
      w = static_cast<float>(static_cast<int>(state >> 16) % 2001 - 1000) * 3e-4f;
    }
    weights.emplace(name, std::move(tensor).value());
  }
  return std::move(models::LanguageModel::create(std::move(config), std::move(weights))).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::unique_ptr<models::LanguageModel> model = make_model();
  if (size < 2) return 0;
  models::AttentionOverride attention;
  attention.mode = static_cast<models::AttentionOverride::Mode>(data[0] % 3);
  attention.window = data[1] % 40;  // 0 is invalid for 'local': a typed error, not a crash
  attention.logn = (data[0] & 4) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::vector<int> ids = model->tokenizer().encode(text);
  (void)model->tokenizer().decode(ids);
  if (ids.size() > 512) return 0;  // longer prompts only slow the search down
  (void)model->negative_log_likelihood(ids, attention);
  if (model->begin(ids, attention).is_ok()) {
    for (int i = 0; i < 4; ++i) (void)model->advance(ids[i % ids.size()]);
  }
  return 0;
}
