#include "models/generator.h"

#include <cmath>
#include <string>

namespace gyre::models {
namespace {

Status check_sampling(const SamplingOptions& o, int vocab_size) {
  auto bad = [](const std::string& what) {
    return Status(ErrorCode::kBadArgument, "sampling: " + what);
  };
  if (!(std::isfinite(o.temperature) && o.temperature >= 0))
    return bad("temperature must be a finite number >= 0");
  if (o.top_k < 0 || o.top_k > vocab_size)
    return bad("top_k must be in [0, " + std::to_string(vocab_size) + "]");
  if (!(o.top_p >= 0 && o.top_p <= 1)) return bad("top_p must be in [0, 1]");
  if (!(std::isfinite(o.repetition_penalty) && o.repetition_penalty > 0))
    return bad("repetition_penalty must be a finite number > 0");
  if (o.repetition_window < 0) return bad("repetition_window must be >= 0");
  return Status::ok();
}

}  // namespace

Generator::Generator(LanguageModel& model, const SamplingOptions& options)
    : model_(&model),
      sampler_(options, model.config().vocab_size),
      repetition_window_(static_cast<std::size_t>(options.repetition_window)) {}

Result<Generator> Generator::start(LanguageModel& model, std::span<const int> prompt,
                                   const AttentionOverride& attention,
                                   const SamplingOptions& options) {
  if (Status s = check_sampling(options, model.config().vocab_size); !s.is_ok()) return s;
  Generator generator(model, options);
  if (Status s = generator.prefill(prompt, attention); !s.is_ok()) return s;
  return generator;
}

Status Generator::prefill(std::span<const int> prompt, const AttentionOverride& attention) {
  if (Status s = model_->begin(prompt, attention); !s.is_ok()) return s;
  remember(prompt);
  return Status::ok();
}

Status Generator::decode(int token) {
  return model_->advance(token);
}

Result<int> Generator::next() {
  if (pending_ >= 0) {
    if (Status s = decode(pending_); !s.is_ok()) return s;
  }
  const int token = sampler_.sample(model_->next_logits(), recent_);
  remember({&token, 1});
  pending_ = token;
  return token;
}

void Generator::remember(std::span<const int> tokens) {
  // Of a long prompt only the last window matters (and a copy of all of it would grow memory).
  if (tokens.size() > repetition_window_) tokens = tokens.last(repetition_window_);
  recent_.insert(recent_.end(), tokens.begin(), tokens.end());
  // Dropping the oldest only once twice the window has piled up keeps this O(1) per token.
  if (recent_.size() > 2 * repetition_window_)
    recent_.erase(recent_.begin(), recent_.end() - static_cast<std::ptrdiff_t>(repetition_window_));
}

}  // namespace gyre::models
