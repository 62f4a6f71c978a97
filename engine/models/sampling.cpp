#include "models/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace gyre::models {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint32_t rotl(std::uint32_t x, int k) {
  return (x << k) | (x >> (32 - k));
}

}  // namespace

void Rng::reseed(std::uint64_t seed) {
  std::uint64_t x = seed;
  const std::uint64_t a = splitmix64(x), b = splitmix64(x);
  state_[0] = static_cast<std::uint32_t>(a);
  state_[1] = static_cast<std::uint32_t>(a >> 32);
  state_[2] = static_cast<std::uint32_t>(b);
  state_[3] = static_cast<std::uint32_t>(b >> 32);
  has_spare_ = false;
}

std::uint32_t Rng::next_u32() {
  const std::uint32_t result = rotl(state_[1] * 5, 7) * 9;
  const std::uint32_t t = state_[1] << 9;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 11);
  return result;
}

float Rng::uniform() {
  return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f);
}

float Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  // u1 in (0, 1] so that log never sees 0. Double precision keeps the tails right.
  const double u1 = (static_cast<double>(next_u32() >> 8) + 1.0) / 16777216.0;
  const double u2 = static_cast<double>(next_u32() >> 8) / 16777216.0;
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 6.283185307179586 * u2;
  spare_ = static_cast<float>(radius * std::sin(angle));
  has_spare_ = true;
  return static_cast<float>(radius * std::cos(angle));
}

void Rng::fill_normal(float* out, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = normal();
}

TokenSampler::TokenSampler(const SamplingOptions& options, int vocab_size)
    : options_(options),
      rng_(options.seed),
      adjusted_(vocab_size),
      order_(vocab_size),
      probabilities_(vocab_size) {}

int TokenSampler::sample(std::span<const float> logits, std::span<const int> recent) {
  const int vocab = static_cast<int>(adjusted_.size());
  std::copy(logits.begin(), logits.begin() + vocab, adjusted_.begin());
  if (options_.repetition_penalty != 1.0f && options_.repetition_window > 0) {
    const std::size_t window = std::min<std::size_t>(recent.size(), options_.repetition_window);
    // Penalise each distinct recent token once: mark with order_ as a seen-flag array.
    std::fill(order_.begin(), order_.end(), 0);
    for (std::size_t i = recent.size() - window; i < recent.size(); ++i) {
      const int token = recent[i];
      if (token < 0 || token >= vocab || order_[token]) continue;
      order_[token] = 1;
      float& logit = adjusted_[token];
      logit = logit > 0 ? logit / options_.repetition_penalty : logit * options_.repetition_penalty;
    }
  }
  if (options_.temperature <= 0.0f) {
    return static_cast<int>(std::max_element(adjusted_.begin(), adjusted_.end()) -
                            adjusted_.begin());
  }
  // Candidates sorted by logit, best first; top-k truncates, then softmax at the temperature, then
  // top-p.
  std::iota(order_.begin(), order_.end(), 0);
  int count = vocab;
  if (options_.top_k > 0 && options_.top_k < vocab) count = options_.top_k;
  std::partial_sort(order_.begin(), order_.begin() + count, order_.end(), [&](int a, int b) {
    return adjusted_[a] > adjusted_[b] || (adjusted_[a] == adjusted_[b] && a < b);
  });
  const double inverse_temperature = 1.0 / options_.temperature;
  const double top = adjusted_[order_[0]];
  double total = 0;
  for (int i = 0; i < count; ++i) {
    const double p = std::exp((adjusted_[order_[i]] - top) * inverse_temperature);
    probabilities_[i] = static_cast<float>(p);
    total += p;
  }
  if (options_.top_p < 1.0f) {
    double mass = 0;
    int kept = 0;
    while (kept < count) {
      mass += probabilities_[kept++] / total;
      if (mass >= options_.top_p) break;
    }
    count = kept;
    total = 0;
    for (int i = 0; i < count; ++i) total += probabilities_[i];
  }
  const double target = static_cast<double>(rng_.uniform()) * total;
  double cumulative = 0;
  for (int i = 0; i < count; ++i) {
    cumulative += probabilities_[i];
    if (target < cumulative) return order_[i];
  }
  return order_[count - 1];
}

}  // namespace gyre::models
