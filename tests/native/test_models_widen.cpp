// Lossless widening (ALGORITHMS.md 8) on the shipped and the runtime test models: exact cases
// within 1e-5 in float32, the standard-θ RoPE case measurably approximate.
#include <cstdio>

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
      std::printf("widen %s k=%d: exact max|dlogit| %.3g, standard RoPE %.3g\n", dir.c_str(), k,
                  exact_err.value(), standard_err.value());
      // Random-weight test models: within 1e-5. The trained 6-layer model has logits up to ~20,
      // where float32 rounding of the two (differently summed) passes alone reaches ~1e-5.
      CHECK(exact_err.value() <= (dir.starts_with("models/") ? 1e-4f : 1e-5f));
      CHECK(standard_err.value() > 1e-3f);  // the frequencies really change: not exact
    }
  }
}

TEST_CASE("widening rejects bad factors") {
  auto model = test::load_lm("tests/golden/runtime/gau-softmax/");
  CHECK(models::widen(*model, 0, true).status().code() == ErrorCode::kBadArgument);
  CHECK(models::widen(*model, 17, true).status().code() == ErrorCode::kBadArgument);
}
