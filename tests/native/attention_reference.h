// A double-precision naive attention for the tests: materialises each query's scores, applies the
// mask from docs/ALGORITHMS.md directly (independent of attention_query_visibility), normalises and
// sums.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/attention.h"

namespace gyre::test {

using kernels::AttentionConfig;
using kernels::AttentionMask;
using kernels::AttentionNormaliser;
using kernels::AttentionShape;

inline bool naive_visible(const AttentionConfig& c, long long query_pos, long long key_pos) {
  switch (c.mask) {
    case AttentionMask::bidirectional:
      return true;
    case AttentionMask::causal:
      return key_pos <= query_pos;
    case AttentionMask::causal_window:
      return query_pos - c.window < key_pos && key_pos <= query_pos;
    case AttentionMask::band:
      return std::llabs(query_pos - key_pos) <= c.window;
  }
  return false;
}

struct NaiveResult {
  std::vector<double> out;      // [query][head][value_dim], dense
  std::vector<double> entropy;  // [query][head]
  std::vector<double> weights;  // [head][query][key]
};

// Dense inputs with the given strides (0 = dense), exactly as the kernel reads them.
inline NaiveResult naive_attention(const AttentionConfig& c, const AttentionShape& s,
                                   const std::vector<float>& q, const std::vector<float>& k,
                                   const std::vector<float>& v) {
  const int H = s.num_heads, d = s.head_dim, dv = s.value_dim ? s.value_dim : s.head_dim;
  const int qs = s.q_stride ? s.q_stride : H * d, ks = s.k_stride ? s.k_stride : H * d;
  const int vs = s.v_stride ? s.v_stride : H * dv;
  NaiveResult r;
  r.out.assign(static_cast<std::size_t>(s.num_queries) * H * dv, 0.0);
  r.entropy.assign(static_cast<std::size_t>(s.num_queries) * H, 0.0);
  r.weights.assign(static_cast<std::size_t>(H) * s.num_queries * s.num_keys, 0.0);
  const double scale = c.scale != 0 ? c.scale : 1.0 / std::sqrt(static_cast<double>(d));
  for (int h = 0; h < H; ++h) {
    for (int i = 0; i < s.num_queries; ++i) {
      const long long qp = static_cast<long long>(s.query_position) + i;
      std::vector<int> keys;
      for (int j = 0; j < s.num_keys; ++j)
        if (naive_visible(c, qp, static_cast<long long>(s.key_position) + j)) keys.push_back(j);
      const double l = static_cast<double>(keys.size());
      if (keys.empty()) continue;
      double factor = scale;
      if (c.normaliser == AttentionNormaliser::softmax_plus) {
        const double count = c.log_count_positions ? static_cast<double>(qp + 1) : l;
        double f = std::log(std::max(count, static_cast<double>(c.min_len))) /
                   std::log(static_cast<double>(c.train_len));
        if (c.log_at_least_one) f = std::max(f, 1.0);
        factor *= f;
      }
      std::vector<double> w(keys.size());
      for (std::size_t x = 0; x < keys.size(); ++x) {
        double dot = 0;
        for (int t = 0; t < d; ++t)
          dot += static_cast<double>(q[static_cast<std::size_t>(i) * qs + h * d + t]) *
                 k[static_cast<std::size_t>(keys[x]) * ks + h * d + t];
        w[x] = factor * dot;
      }
      if (c.normaliser == AttentionNormaliser::relu2) {
        const double n = c.relu2_fixed_len > 0 ? c.relu2_fixed_len : l;
        for (double& x : w) x = x > 0 ? x * x / n : 0.0;
      } else {
        const double m = *std::max_element(w.begin(), w.end());
        double sum = 0;
        for (double& x : w) sum += (x = std::exp(x - m));
        for (double& x : w) x /= sum;
      }
      double total = 0;
      for (double x : w) total += x;
      double entropy = 0;
      for (std::size_t x = 0; x < keys.size(); ++x) {
        const double p = total > 0 ? w[x] / total : 0;
        if (p > 0) entropy -= p * std::log(p);
        r.weights[(static_cast<std::size_t>(h) * s.num_queries + i) * s.num_keys + keys[x]] = w[x];
        for (int e = 0; e < dv; ++e)
          r.out[(static_cast<std::size_t>(i) * H + h) * dv + e] +=
              w[x] * v[static_cast<std::size_t>(keys[x]) * vs + h * dv + e];
      }
      r.entropy[static_cast<std::size_t>(i) * H + h] = entropy;
    }
  }
  return r;
}

inline std::vector<float> random_floats(std::mt19937& rng, std::size_t n, float sigma = 1.0f) {
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> x(n);
  for (float& e : x) e = normal(rng);
  return x;
}

}  // namespace gyre::test
