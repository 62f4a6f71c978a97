// Lossless widening (docs/ALGORITHMS.md §8) on the shipped and the runtime test models: exact cases
// within 1e-5 in float32, the standard-θ RoPE case measurably approximate.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "model_test_util.h"
#include "models/widen.h"

using namespace gyre;

TEST_CASE("widening by k is exact with the duplicated θ table and approximate with standard RoPE") {
  const std::vector<std::string> dirs = {
      "tests/golden/runtime/gau-softmax-plus/", "tests/golden/runtime/gau-relu2/",
      "tests/golden/runtime/roformer-softmax/", "models/gau-lm-softmax-plus/"};
  for (const std::string& dir : dirs) {
    CAPTURE(dir);
    auto model = test::load_lm(dir);
    const std::vector<int> tokens = model->tokenizer().encode(
        "It is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife.");
    // The largest |logit| of the original: float32 rounding scales with it.
    std::vector<float> logits(tokens.size() * model->config().vocab_size);
    REQUIRE(model->forward(tokens, {}, logits.data()).is_ok());
    float logit_scale = 1.0f;
    for (float v : logits) logit_scale = std::max(logit_scale, std::abs(v));
    for (int k : {2, 3}) {
      CAPTURE(k);
      Result<std::unique_ptr<models::LanguageModel>> exact = models::widen(*model, k, true);
      REQUIRE_MESSAGE(exact.is_ok(), exact.status().to_string());
      CHECK(exact.value()->config().hidden == model->config().hidden * k);
      Result<float> exact_err = models::max_logit_difference(*model, *exact.value(), tokens);
      REQUIRE(exact_err.is_ok());
      Result<std::unique_ptr<models::LanguageModel>> standard = models::widen(*model, k, false);
      REQUIRE(standard.is_ok());
      Result<float> standard_err = models::max_logit_difference(*model, *standard.value(), tokens);
      REQUIRE(standard_err.is_ok());
      std::printf(
          "widen %s k=%d: exact max|dlogit| %.3g (%.2g of max|logit| %.3g), standard RoPE %.3g\n",
          dir.c_str(), k, exact_err.value(), exact_err.value() / logit_scale, logit_scale,
          standard_err.value());
      // Random-weight test models: within 1e-5 absolute. The trained 6-layer model's logits reach
      // ~17, and float32 rounding of the two differently summed passes (the wide one scaled by
      // 1/√k and k^(-1/4), irrational for k = 2, 3) compounds over its layers: measured 2.8e-6
      // (k = 2) and 5.2e-6 (k = 3) of the largest logit, five orders below standard RoPE's change.
      if (dir.starts_with("models/"))
        CHECK(exact_err.value() <= 1e-5f * logit_scale);
      else
        CHECK(exact_err.value() <= 1e-5f);
      CHECK(standard_err.value() > 1e-3f);  // the frequencies really change: not exact
    }
  }
}

TEST_CASE("widening rejects bad factors") {
  auto model = test::load_lm("tests/golden/runtime/gau-softmax/");
  CHECK(models::widen(*model, 0, true).status().code() == ErrorCode::kBadArgument);
  CHECK(models::widen(*model, 17, true).status().code() == ErrorCode::kBadArgument);
}
