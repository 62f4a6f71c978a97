// The generator (models/generator.h) against a plain reference loop that keeps the whole token
// history and hands all of it to the sampler, which reads the last repetition_window tokens: the
// generator keeps only what the window needs, and must sample exactly the same tokens.
#include <algorithm>
#include <string>
#include <vector>

#include "model_test_util.h"
#include "models/generator.h"

using namespace gyre;
using models::AttentionOverride;
using models::Generator;
using models::SamplingOptions;

namespace {

const char* const kModel = "tests/golden/runtime/gau-softmax/";

std::vector<int> reference_tokens(models::LanguageModel& model, std::vector<int> history,
                                  const AttentionOverride& attention,
                                  const SamplingOptions& options, int count) {
  models::TokenSampler sampler(options, model.config().vocab_size);
  REQUIRE(model.begin(history, attention).is_ok());
  std::vector<int> tokens;
  for (int i = 0; i < count; ++i) {
    if (i > 0) REQUIRE(model.advance(tokens.back()).is_ok());
    tokens.push_back(sampler.sample(model.next_logits(), history));
    history.push_back(tokens.back());
  }
  return tokens;
}

std::vector<int> generated_tokens(models::LanguageModel& model, const std::vector<int>& prompt,
                                  const AttentionOverride& attention,
                                  const SamplingOptions& options, int count) {
  Result<Generator> generator = Generator::start(model, prompt, attention, options);
  REQUIRE_MESSAGE(generator.is_ok(), generator.status().to_string());
  CHECK(generator->position() == static_cast<int>(prompt.size()));
  std::vector<int> tokens;
  for (int i = 0; i < count; ++i) {
    Result<int> token = generator->next();
    REQUIRE_MESSAGE(token.is_ok(), token.status().to_string());
    tokens.push_back(token.value());
  }
  CHECK(generator->position() == static_cast<int>(prompt.size()) + count - 1);
  return tokens;
}

}  // namespace

TEST_CASE("generator: seeded sampling equals the reference loop and repeats with its seed") {
  auto model = test::load_lm(kModel);
  const std::vector<int> prompt = model->tokenizer().encode("It is a truth universally");
  SamplingOptions options;
  options.temperature = 0.8f;
  options.top_k = 12;
  options.top_p = 0.9f;
  options.repetition_penalty = 1.3f;
  options.repetition_window = 48;
  options.seed = 7;
  for (const AttentionOverride& attention :
       {AttentionOverride{}, AttentionOverride{AttentionOverride::Mode::local, 16, false}}) {
    CAPTURE(attention.window);
    const std::vector<int> expected = reference_tokens(*model, prompt, attention, options, 300);
    CHECK(generated_tokens(*model, prompt, attention, options, 300) == expected);
    CHECK(generated_tokens(*model, prompt, attention, options, 300) == expected);
  }
}

// The JS API allows repetitionWindow up to 4096. A window above 1024 must still hold once more than
// 4096 tokens have passed. The model attends over a window of 16 keys in each of its 2 layers, so
// its logits at the end of a 5000-token prompt do not depend on token 3500; the test plants there
// the token a 1024-token window would pick next, which a 2000-token window penalises.
TEST_CASE("generator: a repetition window of 2000 holds after more than 4096 tokens") {
  auto model = test::load_lm(kModel);
  const AttentionOverride local{AttentionOverride::Mode::local, 16, false};
  SamplingOptions greedy;
  greedy.temperature = 0;
  greedy.repetition_penalty = 100;
  const std::vector<int> filler = model->tokenizer().encode("the ");
  std::vector<int> prompt;
  while (prompt.size() < 5000) prompt.insert(prompt.end(), filler.begin(), filler.end());

  SamplingOptions short_window = greedy;
  short_window.repetition_window = 1024;
  const int planted = reference_tokens(*model, prompt, local, short_window, 2)[1];
  REQUIRE(std::find(filler.begin(), filler.end(), planted) == filler.end());
  prompt[3500] = planted;

  SamplingOptions long_window = greedy;
  long_window.repetition_window = 2000;
  const int count = 2100;  // the generator trims its history again after 2000 more tokens
  const std::vector<int> expected = reference_tokens(*model, prompt, local, long_window, count);
  // Without the planted token in its window, the sampler picks it at step 2.
  REQUIRE(reference_tokens(*model, prompt, local, short_window, 2)[1] == planted);
  REQUIRE(expected[1] != planted);
  CHECK(generated_tokens(*model, prompt, local, long_window, count) == expected);
}

TEST_CASE("generator: invalid sampling options and prompts are BAD_ARGUMENT") {
  auto model = test::load_lm(kModel);
  const std::vector<int> prompt = {1, 2, 3};
  const AttentionOverride attention;
  auto code_of = [&](const SamplingOptions& options, const std::vector<int>& ids) {
    return Generator::start(*model, ids, attention, options).status().code();
  };
  SamplingOptions options;
  CHECK(code_of(options, prompt) == ErrorCode::kOk);
  CHECK(code_of(options, {}) == ErrorCode::kBadArgument);
  CHECK(code_of(options, {1, 999}) == ErrorCode::kBadArgument);
  for (auto spoil : std::vector<void (*)(SamplingOptions&)>{
           [](SamplingOptions& o) { o.temperature = -1; },
           [](SamplingOptions& o) { o.top_k = -1; },
           [](SamplingOptions& o) { o.top_k = 1000; },
           [](SamplingOptions& o) { o.top_p = 1.5f; },
           [](SamplingOptions& o) { o.repetition_penalty = 0; },
           [](SamplingOptions& o) { o.repetition_window = -1; },
       }) {
    SamplingOptions bad;
    spoil(bad);
    CHECK(code_of(bad, prompt) == ErrorCode::kBadArgument);
  }
}
