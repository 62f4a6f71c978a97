// A long causal pass run a chunk at a time and resumable (LanguageModel::start_chunks/run_chunk):
// run(budget) processes chunks until the budget is spent, so the JS API can report progress, keep
// the page (or the worker's other calls) responsive and cancel between calls. Memory is that of a
// chunk plus the caches: a window for local attention, every key for full attention (bounded by
// LanguageModel::kMaxCacheBytes, refused up front). Each pass computes one kind of result.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "models/language_model.h"

namespace gyre::models {

enum class PassResult : std::uint8_t {
  nll,             // [n − 1] −log p(token i + 1 | tokens 0 … i), nats
  logits,          // [n × vocab]
  entropy,         // [n × heads] attention entropy of one layer, nats
  weights,         // [(query_end − query_begin) × n] attention weights of one layer and head
  max_difference,  // [1] max |logits − reference logits| (widening's verify)
};

struct PassRequest {
  PassResult result = PassResult::nll;
  AttentionOverride attention;
  int layer = 0, head = 0;              // entropy, weights
  int query_begin = 0, query_end = 0;   // weights
};

class ChunkedPass {
 public:
  // Validates the request and sets up the caches (nothing runs yet). `reference` (max_difference
  // only) runs the same chunks beside `model`; both must outlive the pass (or be passed again).
  static Result<std::unique_ptr<ChunkedPass>> start(const LanguageModel& model,
                                                    std::vector<int> tokens,
                                                    const PassRequest& request,
                                                    const LanguageModel* reference = nullptr);

  // Runs chunks for about `budget_ms` milliseconds (at least one chunk), or to the end. The models
  // are those given to start(). After an error the pass cannot continue.
  Status run(LanguageModel& model, LanguageModel* reference, double budget_ms);
  bool done() const { return next_ == inputs_; }
  int tokens_done() const { return next_; }
  int tokens_total() const { return inputs_; }
  std::span<const float> result() const { return {result_.data(), result_size_}; }

 private:
  ChunkedPass() = default;
  Status run_one(LanguageModel& model, LanguageModel* reference);

  PassRequest request_;
  std::vector<int> tokens_;
  int inputs_ = 0;  // tokens run through the model (n − 1 for nll)
  int next_ = 0;
  int layer_end_ = 0;
  SequenceState state_, reference_state_;
  FloatBuffer result_;
  std::size_t result_size_ = 0;
  FloatBuffer logits_, reference_logits_;  // one chunk's
  bool failed_ = false;
};

}  // namespace gyre::models
