// Chunked passes (models/chunked_pass.h) against the whole-sequence pass: the same per-position
// loss, logits, attention entropy and weights for every family and attention mode, in one budget or
// a chunk per call; begin() over a long prompt with a window equals the whole pass's last row
// although it runs only the prompt's reachable tail; full attention refuses a sequence whose caches
// exceed the limit before allocating them.
#include <cstdio>

#include "model_test_util.h"
#include "models/chunked_pass.h"

using namespace gyre;
using gyre::models::AttentionOverride;
using gyre::models::ChunkedPass;
using gyre::models::PassRequest;
using gyre::models::PassResult;

namespace {

std::vector<int> pseudo_random_tokens(int count, int vocab) {
  std::vector<int> ids(count);
  std::uint32_t state = 7;
  for (int& id : ids) {
    state = state * 1664525u + 1013904223u;
    id = static_cast<int>((state >> 8) % static_cast<std::uint32_t>(vocab));
  }
  return ids;
}

std::vector<float> run_pass(models::LanguageModel& model, const std::vector<int>& ids,
                            const PassRequest& request, double budget_ms, int* calls = nullptr) {
  auto pass = ChunkedPass::start(model, ids, request);
  REQUIRE_MESSAGE(pass.is_ok(), pass.status().to_string());
  int count = 0;
  while (!pass.value()->done()) {
    const int before = pass.value()->tokens_done();
    const Status s = pass.value()->run(model, nullptr, budget_ms);
    REQUIRE_MESSAGE(s.is_ok(), s.to_string());
    REQUIRE(pass.value()->tokens_done() > before);
    ++count;
  }
  if (calls) *calls = count;
  const std::span<const float> result = pass.value()->result();
  return {result.begin(), result.end()};
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  return test::max_abs_diff(a.data(), b.data(), a.size());
}

}  // namespace

TEST_CASE("chunked passes equal the whole-sequence pass: nll, logits, entropy, weights") {
  for (const char* dir : {"tests/golden/runtime/gau-softmax/", "tests/golden/runtime/gau-relu2/",
                          "tests/golden/runtime/roformer-softmax/",
                          "tests/golden/runtime/gau-softmax-plus/"}) {
    CAPTURE(dir);
    auto model = test::load_lm(dir);
    const int vocab = model->config().vocab_size;
    const std::vector<int> ids = pseudo_random_tokens(700, vocab);
    const int n = static_cast<int>(ids.size());
    AttentionOverride as_trained, full_logn, local;
    full_logn.mode = AttentionOverride::Mode::full;
    full_logn.logn = true;
    local.mode = AttentionOverride::Mode::local;
    local.window = 40;
    local.logn = true;
    for (const AttentionOverride& attention : {as_trained, full_logn, local}) {
      CAPTURE(attention.window);
      const auto nll = model->negative_log_likelihood(ids, attention);
      REQUIRE(nll.is_ok());
      PassRequest request;
      request.attention = attention;
      int calls = 0;
      const float nll_error = max_abs_diff(run_pass(*model, ids, request, 1e9), nll.value());
      CHECK(nll_error <= 1e-4f);
      CHECK(max_abs_diff(run_pass(*model, ids, request, 0, &calls), nll.value()) <= 1e-4f);
      CHECK(calls > 2);  // budget 0: one chunk per call

      std::vector<float> logits(static_cast<std::size_t>(n) * vocab);
      REQUIRE(model->forward(ids, attention, logits.data()).is_ok());
      request.result = PassResult::logits;
      CHECK(max_abs_diff(run_pass(*model, ids, request, 1e9), logits) <= 1e-4f);

      const int layer = model->config().layers - 1;
      const auto entropy = model->attention_entropy(ids, attention, layer);
      REQUIRE(entropy.is_ok());
      request.result = PassResult::entropy;
      request.layer = layer;
      CHECK(max_abs_diff(run_pass(*model, ids, request, 1e9), entropy.value()) <= 1e-4f);

      const int head = model->config().attention_heads() - 1;
      const auto weights = model->attention_weights(ids, attention, layer, head, 250, 600);
      REQUIRE(weights.is_ok());
      request.result = PassResult::weights;
      request.head = head;
      request.query_begin = 250;
      request.query_end = 600;
      CHECK(max_abs_diff(run_pass(*model, ids, request, 1e9), weights.value()) <= 1e-5f);
      std::printf("chunked == whole %s window %d: nll max|err| %.3g (%d calls of one chunk)\n", dir,
                  attention.window, nll_error, calls);
    }
  }
}

TEST_CASE("begin() over a long prompt with a window runs only its reachable tail, exactly") {
  auto model = test::load_lm("tests/golden/runtime/gau-softmax-plus/");
  const int vocab = model->config().vocab_size;
  const std::vector<int> ids = pseudo_random_tokens(3000, vocab);
  AttentionOverride local;
  local.mode = AttentionOverride::Mode::local;
  local.window = 12;
  std::vector<float> logits(ids.size() * vocab);
  REQUIRE(model->forward(ids, local, logits.data()).is_ok());
  REQUIRE(model->begin(ids, local).is_ok());
  CHECK(model->position() == 3000);
  const float* last = logits.data() + (ids.size() - 1) * vocab;
  const float error = test::max_abs_diff(model->next_logits().data(), last, vocab);
  std::printf("long prompt, window 12: next-token logits max|err| %.3g\n", error);
  CHECK(error <= 1e-4f);
  // Decoding continues exactly like the whole pass over the prompt plus the new token.
  std::vector<int> longer = ids;
  longer.push_back(3 % vocab);
  std::vector<float> more(longer.size() * vocab);
  REQUIRE(model->forward(longer, local, more.data()).is_ok());
  REQUIRE(model->advance(longer.back()).is_ok());
  CHECK(test::max_abs_diff(model->next_logits().data(), more.data() + (longer.size() - 1) * vocab,
                           vocab) <= 1e-4f);
}

TEST_CASE("full attention refuses a sequence whose caches exceed the limit, before allocating") {
  auto model = test::load_lm("models/gau-lm-softmax-plus/");
  models::SequenceState state;
  AttentionOverride full;
  full.mode = AttentionOverride::Mode::full;
  const Status s = model->start_chunks(state, full, 1 << 20);
  CHECK(s.code() == ErrorCode::kTooLarge);
  CHECK(s.message().find("1.00 GiB") != std::string::npos);
  CHECK(s.message().find("'local'") != std::string::npos);
  CHECK(state.caches.empty());
  std::vector<int> prompt(1 << 20, 1);
  CHECK(model->begin(prompt, full).code() == ErrorCode::kTooLarge);
  AttentionOverride local;
  local.mode = AttentionOverride::Mode::local;
  local.window = 128;
  CHECK(model->start_chunks(state, local, 1 << 22).is_ok());
  CHECK(state.caches.size() == static_cast<std::size_t>(model->config().layers));
}
