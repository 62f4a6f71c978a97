// Seeded randomness and next-token sampling, shared by the language models and the DDPM samplers.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace gyre::models {

// xoshiro128** seeded through splitmix64: the same seed gives the same stream on every platform
// (native, wasm SIMD, wasm scalar), which is what makes a seeded generation or sampling
// reproducible.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }
  void reseed(std::uint64_t seed);
  std::uint32_t next_u32();
  // Uniform in [0, 1) with 24 random bits.
  float uniform();
  // Standard normal (Box–Muller, both values used).
  float normal();
  void fill_normal(float* out, std::size_t count);

 private:
  std::uint32_t state_[4] = {};
  bool has_spare_ = false;
  float spare_ = 0;
};

struct SamplingOptions {
  float temperature = 1.0f;         // 0: greedy (argmax)
  int top_k = 0;                    // 0: off
  float top_p = 1.0f;               // nucleus mass in (0, 1]; 1: off
  float repetition_penalty = 1.0f;  // CTRL-style: > 1 discourages tokens seen in the recent window
  int repetition_window = 64;  // how many recent tokens the penalty looks at (char-level models)
  std::uint64_t seed = 0;
};

// Picks next tokens from logits. Holds its scratch so that sampling does not allocate per token.
class TokenSampler {
 public:
  TokenSampler(const SamplingOptions& options, int vocab_size);
  // `recent` are the latest tokens (prompt and generated), used by the repetition penalty.
  int sample(std::span<const float> logits, std::span<const int> recent);

 private:
  SamplingOptions options_;
  Rng rng_;
  std::vector<float> adjusted_;
  std::vector<int> order_;
  std::vector<float> probabilities_;
};

}  // namespace gyre::models
