// flash-lm in the engine beyond its golden vectors (test_golden_lm.cpp): chunked passes through the
// per-layer FlashDecoders equal the whole-sequence mixed-chunk pass over many chunks, the decoding
// state does not grow with the sequence, and the options FLASH does not have (window, log-n,
// attention capture) are refused with BAD_ARGUMENT, leaving the model usable.
#include <cstdio>

#include "model_test_util.h"
#include "models/chunked_pass.h"

using namespace gyre;
using gyre::models::AttentionOverride;
using gyre::models::ChunkedPass;
using gyre::models::PassRequest;
using gyre::models::PassResult;

namespace {

std::vector<int> text_tokens(const models::LanguageModel& model, int count) {
  const nlohmann::json manifest = test::read_json("tests/golden/golden.json");
  const std::vector<int> prompt =
      model.tokenizer().encode(manifest["models"]["flash-lm"]["prompt"].get<std::string>());
  std::vector<int> ids;
  while (static_cast<int>(ids.size()) < count) ids.insert(ids.end(), prompt.begin(), prompt.end());
  ids.resize(count);
  return ids;
}

}  // namespace

TEST_CASE("flash-lm: chunked passes and decoding equal the whole-sequence pass") {
  auto model = test::load_lm("models/flash-lm/");
  REQUIRE(model->config().family == models::LmFamily::flash);
  REQUIRE(model->config().chunk == 32);
  const int vocab = model->config().vocab_size;
  const std::vector<int> ids = text_tokens(*model, 1000);  // 32 FLASH chunks, the last partial
  const int n = static_cast<int>(ids.size());
  std::vector<float> logits(static_cast<std::size_t>(n) * vocab);
  REQUIRE(model->forward(ids, {}, logits.data()).is_ok());

  // A chunked pass a few tokens per call: its chunks do not line up with FLASH's chunks of 32.
  PassRequest request;
  request.result = PassResult::logits;
  auto pass = ChunkedPass::start(*model, ids, request);
  REQUIRE_MESSAGE(pass.is_ok(), pass.status().to_string());
  while (!pass.value()->done()) REQUIRE(pass.value()->run(*model, nullptr, 0.0).is_ok());
  const std::span<const float> chunked = pass.value()->result();
  REQUIRE(chunked.size() == logits.size());
  const float chunked_err = test::max_abs_diff(chunked.data(), logits.data(), logits.size());
  std::printf("flash-lm chunked pass == whole pass over %d tokens: max|err| %.3g\n", n,
              chunked_err);
  CHECK(chunked_err <= 1e-4f);

  // Generation: a prompt of 77 tokens, then one token at a time to the end.
  const int prompt = 77;
  REQUIRE(model->begin(std::span(ids).first(prompt), {}).is_ok());
  float worst =
      test::max_abs_diff(model->next_logits().data(),
                         logits.data() + static_cast<std::size_t>(prompt - 1) * vocab, vocab);
  for (int i = prompt; i < n; ++i) {
    REQUIRE(model->advance(ids[i]).is_ok());
    worst = std::max(
        worst, test::max_abs_diff(model->next_logits().data(),
                                  logits.data() + static_cast<std::size_t>(i) * vocab, vocab));
  }
  std::printf("flash-lm decode == whole pass over %d tokens: max|err| %.3g\n", n, worst);
  CHECK(worst <= 1e-4f);
  CHECK(model->position() == n);
}

TEST_CASE("flash-lm: the decoding state does not grow with the sequence") {
  auto model = test::load_lm("models/flash-lm/");
  models::SequenceState state;
  REQUIRE(model->start_chunks(state, {}, 1 << 22).is_ok());  // no cache limit to refuse
  REQUIRE(state.flash.size() == static_cast<std::size_t>(model->config().layers));
  CHECK(state.caches.empty());
  const std::size_t bytes = state.flash[0].bytes();
  const std::vector<int> ids = text_tokens(*model, 3000);
  for (int done = 0; done < 3000; done += 250)
    REQUIRE(
        model->run_chunk(state, std::span(ids).subspan(done, 250), model->config().layers, nullptr)
            .is_ok());
  CHECK(state.position == 3000);
  for (const kernels::FlashDecoder& decoder : state.flash) {
    CHECK(decoder.length() == 3000);
    CHECK(decoder.bytes() == bytes);
  }
}

TEST_CASE("flash-lm refuses a window, log-n and attention capture with BAD_ARGUMENT") {
  auto model = test::load_lm("models/flash-lm/");
  const std::vector<int> ids = text_tokens(*model, 100);
  const int vocab = model->config().vocab_size;
  std::vector<float> logits(ids.size() * vocab);
  AttentionOverride local;
  local.mode = AttentionOverride::Mode::local;
  local.window = 64;
  AttentionOverride logn;
  logn.mode = AttentionOverride::Mode::full;
  logn.logn = true;
  for (const AttentionOverride& attention : {local, logn}) {
    const Status s = model->forward(ids, attention, logits.data());
    CHECK(s.code() == ErrorCode::kBadArgument);
    CHECK(s.message().find("flash-lm has no window or log-n") != std::string::npos);
    CHECK(model->begin(ids, attention).code() == ErrorCode::kBadArgument);
    models::SequenceState state;
    CHECK(model->start_chunks(state, attention, 100).code() == ErrorCode::kBadArgument);
    CHECK(model->negative_log_likelihood(ids, attention).status().code() ==
          ErrorCode::kBadArgument);
  }
  CHECK(model->attention_entropy(ids, {}, 0).status().code() == ErrorCode::kBadArgument);
  CHECK(model->attention_weights(ids, {}, 0, 0, 99, 100).status().code() ==
        ErrorCode::kBadArgument);
  // Still usable; "full" without log-n is the model as trained.
  AttentionOverride full;
  full.mode = AttentionOverride::Mode::full;
  CHECK(model->forward(ids, full, logits.data()).is_ok());
  CHECK(model->begin(ids, {}).is_ok());
  CHECK(model->advance(ids[0]).is_ok());
}
