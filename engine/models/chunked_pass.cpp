#include "models/chunked_pass.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>

namespace gyre::models {
namespace {

Status bad_argument(std::string message) {
  return Status(ErrorCode::kBadArgument, std::move(message));
}

}  // namespace

Result<std::unique_ptr<ChunkedPass>> ChunkedPass::start(const LanguageModel& model,
                                                        std::vector<int> tokens,
                                                        const PassRequest& request,
                                                        const LanguageModel* reference) {
  const LmConfig& c = model.config();
  const int n = static_cast<int>(std::min<std::size_t>(tokens.size(), 1u << 30));
  std::unique_ptr<ChunkedPass> pass(new ChunkedPass());
  pass->request_ = request;
  pass->inputs_ = request.result == PassResult::nll ? n - 1 : n;
  pass->layer_end_ = c.layers;
  std::uint64_t floats = 0;
  switch (request.result) {
    case PassResult::nll:
      if (n < 2) return bad_argument("evaluation needs at least two tokens");
      floats = static_cast<std::uint64_t>(n) - 1;
      break;
    case PassResult::logits:
      floats = static_cast<std::uint64_t>(n) * c.vocab_size;
      break;
    case PassResult::entropy:
      if (request.layer < 0 || request.layer >= c.layers)
        return bad_argument("layer " + std::to_string(request.layer) + " is outside [0, " +
                            std::to_string(c.layers) + ")");
      floats = static_cast<std::uint64_t>(n) * c.attention_heads();
      pass->layer_end_ = request.layer + 1;
      break;
    case PassResult::weights:
      if (request.layer < 0 || request.layer >= c.layers || request.head < 0 ||
          request.head >= c.attention_heads())
        return bad_argument("layer " + std::to_string(request.layer) + " / head " +
                            std::to_string(request.head) + " does not exist");
      if (request.query_begin < 0 || request.query_end > n ||
          request.query_begin >= request.query_end)
        return bad_argument("the query range [" + std::to_string(request.query_begin) + ", " +
                            std::to_string(request.query_end) + ") is not inside [0, " +
                            std::to_string(n) + ")");
      floats = static_cast<std::uint64_t>(request.query_end - request.query_begin) * n;
      if (floats > (1ull << 26))
        return Status(ErrorCode::kTooLarge, "the weights would hold " + std::to_string(floats) +
                                                " floats; ask for fewer queries at a time");
      pass->layer_end_ = request.layer + 1;
      // Keys after the last captured query cannot change its weights.
      pass->inputs_ = request.query_end;
      break;
    case PassResult::max_difference:
      if (reference == nullptr) return bad_argument("max_difference needs a reference model");
      if (reference->config().vocab_size != c.vocab_size)
        return bad_argument("the two models have different vocabularies");
      floats = 1;
      break;
  }
  if (n < 1) return bad_argument("the text is empty: at least one token is needed");
  Result<FloatBuffer> result = FloatBuffer::allocate(floats, "the pass's result");
  if (!result) return result.status();
  pass->result_ = std::move(result).value();
  pass->result_size_ = floats;
  std::fill_n(pass->result_.data(), floats, 0.0f);
  pass->tokens_ = std::move(tokens);
  if (Status s = model.start_chunks(pass->state_, request.attention, pass->inputs_); !s.is_ok())
    return s;
  if (reference != nullptr && request.result == PassResult::max_difference) {
    if (Status s = reference->start_chunks(pass->reference_state_, request.attention, pass->inputs_);
        !s.is_ok())
      return s;
  }
  return pass;
}

Status ChunkedPass::run(LanguageModel& model, LanguageModel* reference, double budget_ms) {
  if (failed_) return bad_argument("this pass failed earlier and cannot continue");
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  while (!done()) {
    if (Status s = run_one(model, reference); !s.is_ok()) {
      failed_ = true;
      return s;
    }
    const double elapsed =
        std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (elapsed >= budget_ms) break;
  }
  return Status::ok();
}

Status ChunkedPass::run_one(LanguageModel& model, LanguageModel* reference) {
  const int vocab = model.config().vocab_size;
  const int rows = std::min(model.chunk_rows(state_), inputs_ - next_);
  const std::span<const int> chunk(tokens_.data() + next_, static_cast<std::size_t>(rows));
  const bool needs_logits = request_.result == PassResult::nll ||
                            request_.result == PassResult::logits ||
                            request_.result == PassResult::max_difference;
  float* logits = nullptr;
  if (request_.result == PassResult::logits) {
    logits = result_.data() + static_cast<std::size_t>(next_) * vocab;
  } else if (needs_logits) {
    if (Status s = ensure_capacity(logits_, static_cast<std::uint64_t>(rows) * vocab, "the logits");
        !s.is_ok())
      return s;
    logits = logits_.data();
  }
  Capture capture;
  if (request_.result == PassResult::entropy) {
    capture.layer = request_.layer;
    capture.entropy =
        result_.data() + static_cast<std::size_t>(next_) * model.config().attention_heads();
  } else if (request_.result == PassResult::weights) {
    capture.layer = request_.layer;
    capture.weights = result_.data();
    capture.weights_head = request_.head;
    capture.query_begin = request_.query_begin;
    capture.query_end = request_.query_end;
    capture.weights_stride = static_cast<int>(tokens_.size());
  }
  if (Status s = model.run_chunk(state_, chunk, layer_end_, logits, capture); !s.is_ok()) return s;
  if (request_.result == PassResult::nll) {
    for (int i = 0; i < rows; ++i) {
      const float* row = logits + static_cast<std::size_t>(i) * vocab;
      const float top = *std::max_element(row, row + vocab);
      double sum = 0;
      for (int j = 0; j < vocab; ++j) sum += std::exp(static_cast<double>(row[j]) - top);
      result_.data()[next_ + i] =
          static_cast<float>(std::log(sum) + top - row[tokens_[next_ + i + 1]]);
    }
  } else if (request_.result == PassResult::max_difference) {
    if (reference == nullptr) return bad_argument("max_difference needs its reference model");
    if (Status s = ensure_capacity(reference_logits_, static_cast<std::uint64_t>(rows) * vocab,
                                   "the logits");
        !s.is_ok())
      return s;
    if (Status s = reference->run_chunk(reference_state_, chunk, reference->config().layers,
                                        reference_logits_.data());
        !s.is_ok())
      return s;
    float& worst = result_.data()[0];
    for (std::size_t i = 0; i < static_cast<std::size_t>(rows) * vocab; ++i)
      worst = std::max(worst, std::fabs(logits[i] - reference_logits_.data()[i]));
  }
  next_ += rows;
  return Status::ok();
}

}  // namespace gyre::models
