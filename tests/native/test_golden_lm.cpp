// Engine logits against the PyTorch golden vectors of every shipped language model (tests/golden/,
// written by models/train/export.py in float64 from the shipped weights): max abs error <= 1e-4 in
// every attention mode, for the logits, the per-position loss and the attention weights of the last
// query (FLASH has no attention matrix and only the full mode).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "model_test_util.h"

using namespace gyre;
using gyre::models::AttentionOverride;

namespace {

AttentionOverride mode_override(const nlohmann::json& mode) {
  AttentionOverride attention;
  const bool logn = mode.value("logn", false);
  if (mode.contains("window") && mode["window"].is_number_integer()) {
    attention.mode = AttentionOverride::Mode::local;
    attention.window = mode["window"].get<int>();
  } else {
    attention.mode = logn ? AttentionOverride::Mode::full : AttentionOverride::Mode::as_trained;
  }
  attention.logn = logn;
  return attention;
}

}  // namespace

// golden.json: the shipped models; runtime_golden.json: small random-weight models covering every
// normaliser, RoFormerV2, log-n past the training length and windows
// (tests/golden/gen_runtime_golden.py).
const char* const kManifests[] = {"tests/golden/golden.json", "tests/golden/runtime_golden.json"};

TEST_CASE("golden: every language model matches PyTorch within 1e-4") {
  int checked = 0;
  for (const char* manifest_path : kManifests) {
    const nlohmann::json manifest = test::read_json(manifest_path);
    REQUIRE(manifest.is_object());
    for (const auto& item : manifest["models"].items()) {
      const std::string name = item.key();
      const nlohmann::json& entry = item.value();
      if (!entry.contains("prompt")) continue;  // not a language model
      CAPTURE(name);
      auto model = test::load_lm(entry["model"].get<std::string>());
      auto golden = test::GoldenFile::open("tests/golden/" + entry["file"].get<std::string>());
      const std::vector<std::int64_t> ids64 = golden->i64("prompt_ids");
      const std::vector<int> ids(ids64.begin(), ids64.end());
      CHECK(model->tokenizer().encode(entry["prompt"].get<std::string>()) == ids);
      const std::vector<std::int64_t> positions = golden->i64("logit_positions");
      const int n = static_cast<int>(ids.size());
      const int vocab = model->config().vocab_size;
      const double tolerance = entry["tolerance"]["logits_abs"].get<double>();

      for (const auto& mode_item : entry["modes"].items()) {
        const std::string mode_name = mode_item.key();
        const nlohmann::json& mode = mode_item.value();
        CAPTURE(mode_name);
        const AttentionOverride attention = mode_override(mode);
        std::vector<float> logits(static_cast<std::size_t>(n) * vocab);
        REQUIRE(model->forward(ids, attention, logits.data()).is_ok());
        const Tensor expected = golden->f32(mode_name + ".logits");
        float worst = 0;
        for (std::size_t p = 0; p < positions.size(); ++p) {
          worst = std::max(worst, test::max_abs_diff(logits.data() + positions[p] * vocab,
                                                     expected.data() + p * vocab, vocab));
        }
        std::printf("golden %s %-14s logits max|err| %.3g\n", name.c_str(), mode_name.c_str(),
                    worst);
        CHECK(worst <= tolerance);

        Result<std::vector<float>> nll = model->negative_log_likelihood(ids, attention);
        REQUIRE(nll.is_ok());
        const Tensor expected_nll = golden->f32(mode_name + ".nll");
        REQUIRE(expected_nll.size() == nll.value().size());
        const float nll_err =
            test::max_abs_diff(nll.value().data(), expected_nll.data(), expected_nll.size());
        std::printf("golden %s %-14s nll max|err| %.3g\n", name.c_str(), mode_name.c_str(),
                    nll_err);
        CHECK(nll_err <= entry["tolerance"]["nll_abs"].get<double>());

        if (model->config().family == models::LmFamily::flash) continue;
        for (int layer : {0, model->config().layers - 1}) {
          const Tensor expected_weights =
              golden->f32(mode_name + ".attention_layer" + std::to_string(layer) + "_last_query");
          for (int head = 0; head < model->config().attention_heads(); ++head) {
            Result<std::vector<float>> weights =
                model->attention_weights(ids, attention, layer, head, n - 1, n);
            REQUIRE(weights.is_ok());
            const float err =
                test::max_abs_diff(weights.value().data(), expected_weights.data() + head * n, n);
            CHECK_MESSAGE(err <= entry["tolerance"]["attention_abs"].get<double>(), "layer ", layer,
                          " head ", head);
          }
        }
      }
      ++checked;
    }
  }
  CHECK(checked >= 6);
}

TEST_CASE("decoding token by token equals the full pass (full cache and sliding-window cache)") {
  for (const char* manifest_path : kManifests) {
    const nlohmann::json manifest = test::read_json(manifest_path);
    for (const auto& item : manifest["models"].items()) {
      const std::string name = item.key();
      const nlohmann::json& entry = item.value();
      if (!entry.contains("prompt")) continue;
      CAPTURE(name);
      auto model = test::load_lm(entry["model"].get<std::string>());
      // Twice the prompt, from a one-token start: the linear cache (prompt + 256 slots) must grow.
      std::vector<int> ids = model->tokenizer().encode(entry["prompt"].get<std::string>());
      const std::vector<int> once = ids;
      ids.insert(ids.end(), once.begin(), once.end());
      const int n = static_cast<int>(ids.size());
      const int vocab = model->config().vocab_size;
      AttentionOverride full;
      AttentionOverride local;
      local.mode = AttentionOverride::Mode::local;
      local.window = 16;  // far shorter than the text: the cache evicts many times
      AttentionOverride local_logn = local;
      local_logn.logn = true;
      local_logn.window = 150;
      std::vector<AttentionOverride> modes = {full, local, local_logn};
      if (model->config().family == models::LmFamily::flash) modes = {full};  // no window, no log-n
      for (const AttentionOverride& attention : modes) {
        CAPTURE(attention.window);
        std::vector<float> logits(static_cast<std::size_t>(n) * vocab);
        REQUIRE(model->forward(ids, attention, logits.data()).is_ok());
        const int prompt = 1;
        REQUIRE(model->begin(std::span(ids).first(prompt), attention).is_ok());
        float worst = test::max_abs_diff(model->next_logits().data(),
                                         logits.data() + (prompt - 1) * vocab, vocab);
        for (int i = prompt; i < n; ++i) {
          REQUIRE(model->advance(ids[i]).is_ok());
          worst = std::max(worst, test::max_abs_diff(model->next_logits().data(),
                                                     logits.data() + i * vocab, vocab));
        }
        std::printf("decode == prefill %s window %d logn %d: max|err| %.3g\n", name.c_str(),
                    attention.window, attention.logn, worst);
        // float32 summation order differs (GEMV and one-query attention vs tiles); the error grows
        // with the logits' scale (12-25 in the shipped models), so the bound is relative to it.
        float largest = 0.0f;
        for (float v : logits) largest = std::max(largest, std::fabs(v));
        CHECK(worst <= 1e-5f * std::max(10.0f, largest));
      }
    }
  }
}
