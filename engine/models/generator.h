// Autoregressive generation from a language model: a prefill step runs the prompt through the
// model's decoding caches, then every decode step samples a token from the model's next-token
// logits (TokenSampler: temperature, top-k, top-p, repetition penalty) and feeds it back.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "core/status.h"
#include "models/language_model.h"
#include "models/sampling.h"

namespace gyre::models {

class Generator {
 public:
  // Validates `options`, then runs the prompt (at least one token). The model must outlive the
  // generator, and its decoding state belongs to the generator until the next start().
  static Result<Generator> start(LanguageModel& model, std::span<const int> prompt,
                                 const AttentionOverride& attention,
                                 const SamplingOptions& options);

  // Samples the next token; from the second call on, the previous token is decoded first.
  Result<int> next();

  // Tokens the model has consumed (the prompt plus every token decoded so far).
  int position() const { return model_->position(); }

 private:
  Generator(LanguageModel& model, const SamplingOptions& options);
  Status prefill(std::span<const int> prompt, const AttentionOverride& attention);
  Status decode(int token);
  void remember(std::span<const int> tokens);

  LanguageModel* model_;
  TokenSampler sampler_;
  std::size_t repetition_window_;
  std::vector<int> recent_;  // at least the last repetition_window_ tokens, prompt included
  int pending_ = -1;         // the last sampled token, decoded by the next call
};

}  // namespace gyre::models
