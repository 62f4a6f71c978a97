// DDPM samplers over the U-Net (docs/ALGORITHMS.md §6.3 and §6.5, Su's notation:
// α_t = √(1 − 0.02t/T) and ᾱ, β̄ are square roots of the paper's quantities). Network index
// k = t − 1.
//   ancestral  x ← (x − β_t²/β̄_t · ε̂(x, k)) / α_t + σ_t z for t = T … 1, with σ_t = β_t ("beta") or
//              β_t · β̄_{t−1}/β̄_t ("posterior", the single-point optimum; β̄_0 = 0)
//   strided    DDIM over ᾱ' = ᾱ[::stride] (from t = 1, Keras-DDPM ddim.py):
//              x ← (x − coef · ε̂(x, i·stride)) / α' + σ' z, σ' = η β̄'_prev/β̄' √(1 − α'²),
//              coef = β̄' − α' √(β̄'_prev² − σ'²)
// Class-conditional nets can be guided (classifier-free guidance, Ho & Salimans 2022):
//   ε̂ = ε̂(x, k, any) + w (ε̂(x, k, label) − ε̂(x, k, any)), two network calls per step when w ≠ 1.
// The final x is clipped to [−1, 1]. A seed fixes the starting noise and every z, so a run is
// reproducible on every build. The sampler advances one network call at a time so callers can show
// x_t and the predicted x̂_0 = (x_t − β̄_t ε̂)/ᾱ_t after each step.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "models/sampling.h"
#include "models/unet.h"

namespace gyre::models {

struct DdpmSchedule {
  // Index k = t − 1, k in [0, T).
  std::vector<double> alpha, beta, bar_alpha, bar_beta;
  static DdpmSchedule su(int steps);
};

enum class DdpmMethod : std::uint8_t { ancestral, strided };
enum class DdpmSigma : std::uint8_t { beta, posterior };

struct DdpmOptions {
  int count = 1;
  DdpmMethod method = DdpmMethod::strided;
  int stride = 20;  // strided: network calls = ceil(T / stride)
  float eta = 0.0f;
  DdpmSigma sigma = DdpmSigma::beta;  // ancestral
  std::uint64_t seed = 0;
  // Class-conditional nets: one label per image (−1: any class); empty means any class for all.
  std::vector<int> labels;
  float guidance = 1.0f;  // w in [0, 10]: 1 is the plain conditional net, 0 the any-class one
};

class DdpmSampler {
 public:
  explicit DdpmSampler(UNet& net) : net_(net) {}

  // Draws x_T from the seed; with `start` (count images) starts from it instead.
  Status begin(const DdpmOptions& options, const float* start = nullptr);
  // One network call and update. After the last step x() is clipped to [−1, 1].
  Status step();
  bool done() const { return remaining_ == 0; }
  int total_steps() const { return total_; }
  int steps_done() const { return total_ - remaining_; }
  int current_k() const { return last_k_; }  // network index of the step just taken

  const float* x() const { return x_.data(); }                  // [count, C, H, W]
  const float* predicted_x0() const { return x0_.data(); }      // after each step
  const float* predicted_noise() const { return eps_.data(); }  // the network output of the step
  std::size_t floats() const {
    return static_cast<std::size_t>(options_.count) * net_.image_floats();
  }

 private:
  UNet& net_;
  DdpmOptions options_;
  DdpmSchedule schedule_;
  Rng rng_;
  // Strided schedule (or, for ancestral, the full one): per step i the network index and
  // coefficients.
  std::vector<int> k_;
  std::vector<float> divide_, noise_coef_, sigma_;
  int total_ = 0, remaining_ = 0, last_k_ = -1;
  FloatBuffer x_, x0_, eps_, eps_any_;
  std::vector<int> batch_k_;
};

}  // namespace gyre::models
