#include "models/ddpm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace gyre::models {

DdpmSchedule DdpmSchedule::su(int steps) {
  DdpmSchedule s;
  double product = 1.0;
  for (int k = 0; k < steps; ++k) {
    const double t = k + 1;
    const double alpha = std::sqrt(1.0 - 0.02 * t / steps);
    product *= alpha;
    s.alpha.push_back(alpha);
    s.beta.push_back(std::sqrt(1.0 - alpha * alpha));
    s.bar_alpha.push_back(product);
    s.bar_beta.push_back(std::sqrt(1.0 - product * product));
  }
  return s;
}

Status DdpmSampler::begin(const DdpmOptions& options, const float* start) {
  const int T = net_.config().steps;
  if (options.count < 1 || options.count > 4096) {
    return Status(ErrorCode::kBadArgument,
                  "count must be in [1, 4096], not " + std::to_string(options.count));
  }
  if (options.method == DdpmMethod::strided && (options.stride < 1 || options.stride > T)) {
    return Status(ErrorCode::kBadArgument, "stride must be in [1, " + std::to_string(T) +
                                               "], not " + std::to_string(options.stride));
  }
  if (!(options.eta >= 0.0f && options.eta <= 1.0f)) {
    return Status(ErrorCode::kBadArgument, "eta must be in [0, 1]");
  }
  if (!(options.guidance >= 0.0f && options.guidance <= 10.0f)) {
    return Status(ErrorCode::kBadArgument, "guidance must be in [0, 10]");
  }
  if (!options.labels.empty()) {
    if (options.labels.size() != static_cast<std::size_t>(options.count)) {
      return Status(ErrorCode::kBadArgument, "labels must hold one label per image (" +
                                                 std::to_string(options.count) + "), not " +
                                                 std::to_string(options.labels.size()));
    }
    if (Status s = net_.check_labels(options.labels.data(), options.count); !s.is_ok()) return s;
  }
  options_ = options;
  schedule_ = DdpmSchedule::su(T);
  k_.clear();
  divide_.clear();
  noise_coef_.clear();
  sigma_.clear();
  const DdpmSchedule& s = schedule_;
  if (options.method == DdpmMethod::ancestral) {
    for (int k = T - 1; k >= 0; --k) {
      k_.push_back(k);
      divide_.push_back(static_cast<float>(s.alpha[k]));
      noise_coef_.push_back(static_cast<float>(s.beta[k] * s.beta[k] / s.bar_beta[k]));
      const double previous = k > 0 ? s.bar_beta[k - 1] : 0.0;
      sigma_.push_back(static_cast<float>(
          options.sigma == DdpmSigma::beta ? s.beta[k] : s.beta[k] * previous / s.bar_beta[k]));
    }
  } else {
    const int count = (T + options.stride - 1) / options.stride;
    for (int i = count - 1; i >= 0; --i) {
      const double bar_alpha = s.bar_alpha[static_cast<std::size_t>(i) * options.stride];
      const double bar_alpha_prev =
          i > 0 ? s.bar_alpha[static_cast<std::size_t>(i - 1) * options.stride] : 1.0;
      const double bar_beta = std::sqrt(1.0 - bar_alpha * bar_alpha);
      const double bar_beta_prev = std::sqrt(1.0 - bar_alpha_prev * bar_alpha_prev);
      const double alpha = bar_alpha / bar_alpha_prev;
      const double sigma = options.eta * bar_beta_prev / bar_beta * std::sqrt(1.0 - alpha * alpha);
      k_.push_back(i * options.stride);
      divide_.push_back(static_cast<float>(alpha));
      noise_coef_.push_back(static_cast<float>(
          bar_beta - alpha * std::sqrt(bar_beta_prev * bar_beta_prev - sigma * sigma)));
      sigma_.push_back(static_cast<float>(sigma));
    }
  }
  total_ = remaining_ = static_cast<int>(k_.size());
  last_k_ = -1;
  rng_.reseed(options.seed);
  for (FloatBuffer* buffer : {&x_, &x0_, &eps_, &eps_any_}) {
    if (Status st = ensure_capacity(*buffer, floats(), "the DDPM images"); !st.is_ok()) return st;
  }
  if (start != nullptr)
    std::memcpy(x_.data(), start, sizeof(float) * floats());
  else
    rng_.fill_normal(x_.data(), floats());
  std::memset(x0_.data(), 0, sizeof(float) * floats());
  batch_k_.assign(options.count, 0);
  return Status::ok();
}

Status DdpmSampler::step() {
  if (remaining_ == 0)
    return Status(ErrorCode::kBadArgument, "the sampler has finished; call begin() again");
  const int i = total_ - remaining_;
  const int k = k_[i];
  std::fill(batch_k_.begin(), batch_k_.end(), k);
  const int* labels = options_.labels.empty() ? nullptr : options_.labels.data();
  if (Status s =
          net_.predict_noise(x_.data(), options_.count, batch_k_.data(), eps_.data(), labels);
      !s.is_ok())
    return s;
  if (labels != nullptr && options_.guidance != 1.0f) {
    if (Status s = net_.predict_noise(x_.data(), options_.count, batch_k_.data(), eps_any_.data());
        !s.is_ok())
      return s;
    const float w = options_.guidance;
    float* eps = eps_.data();
    const float* any = eps_any_.data();
    for (std::size_t j = 0; j < floats(); ++j) eps[j] = any[j] + w * (eps[j] - any[j]);
  }
  const float bar_alpha = static_cast<float>(schedule_.bar_alpha[k]);
  const float bar_beta = static_cast<float>(schedule_.bar_beta[k]);
  const float coef = noise_coef_[i], divide = divide_[i], sigma = sigma_[i];
  const bool last = remaining_ == 1;
  float* x = x_.data();
  const float* eps = eps_.data();
  for (std::size_t j = 0; j < floats(); ++j) {
    x0_.data()[j] = std::clamp((x[j] - bar_beta * eps[j]) / bar_alpha, -1.0f, 1.0f);
    x[j] = (x[j] - coef * eps[j]) / divide;
  }
  if (sigma > 0) {
    for (std::size_t j = 0; j < floats(); ++j) x[j] += sigma * rng_.normal();
  }
  if (last) {
    for (std::size_t j = 0; j < floats(); ++j) x[j] = std::clamp(x[j], -1.0f, 1.0f);
  }
  last_k_ = k;
  --remaining_;
  return Status::ok();
}

}  // namespace gyre::models
