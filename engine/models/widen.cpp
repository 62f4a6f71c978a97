#include "models/widen.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace gyre::models {
namespace {

// Maps an index of the wide dimension to the original index it copies.
using IndexMap = std::function<int(int)>;

IndexMap in_place(int k) {
  return [k](int wide) { return wide / k; };
}

// Q/K features inside heads of `head` original floats (k·head wide).
IndexMap rope_features(int k, int head, bool exact_rope) {
  if (exact_rope) {  // k consecutive copies of the head: [h, h, …]
    return [k, head](int wide) { return wide / (k * head) * head + wide % (k * head) % head; };
  }
  return [k, head](int wide) {  // each pair repeated in place: [x0 x1 x0 x1 x2 x3 x2 x3 …]
    const int within = wide % (k * head);
    return wide / (k * head) * head + 2 * (within / 2 / k) + within % 2;
  };
}

// W̃[o', i'] = W[rows(o'), i'/k] · factor for a PyTorch [out, in] matrix (inputs are always in
// place).
Result<Tensor> widen_matrix(const Tensor& w, int k, const IndexMap& rows, float factor,
                            const std::string& name) {
  const int out = static_cast<int>(w.dim(0)), in = static_cast<int>(w.dim(1));
  Result<Tensor> wide =
      Tensor::zeros({static_cast<std::int64_t>(out) * k, static_cast<std::int64_t>(in) * k}, name);
  if (!wide) return wide.status();
  float* dst = wide.value().data();
  for (int o = 0; o < out * k; ++o) {
    const float* src = w.data() + static_cast<std::size_t>(rows(o)) * in;
    float* row = dst + static_cast<std::size_t>(o) * in * k;
    for (int i = 0; i < in * k; ++i) row[i] = src[i / k] * factor;
  }
  return wide;
}

Result<Tensor> widen_vector(const Tensor& v, int k, const IndexMap& map, float factor,
                            const std::string& name) {
  const int n = static_cast<int>(v.dim(0));
  Result<Tensor> wide = Tensor::zeros({static_cast<std::int64_t>(n) * k}, name);
  if (!wide) return wide.status();
  for (int i = 0; i < n * k; ++i) wide.value().data()[i] = v.data()[map(i)] * factor;
  return wide;
}

// Rows of i_dense: [U (e) | V (e) | Z (s)], U and V in place, Z laid out for RoPE.
IndexMap gau_input_rows(int k, int e, int s, bool exact_rope) {
  const IndexMap z = rope_features(k, s, exact_rope);
  return [k, e, z](int wide) {
    if (wide < 2 * k * e) return wide < k * e ? wide / k : e + (wide - k * e) / k;
    return 2 * e + z(wide - 2 * k * e);
  };
}

}  // namespace

Result<std::unique_ptr<LanguageModel>> widen(const LanguageModel& model, int k, bool exact_rope) {
  using Out = Result<std::unique_ptr<LanguageModel>>;
  if (k < 1 || k > 16)
    return Out(ErrorCode::kBadArgument,
               "the widening factor must be an integer in [1, 16], not " + std::to_string(k));
  const LmConfig& c = model.config();
  if (c.family == LmFamily::flash)
    return Out(ErrorCode::kBadArgument,
               "widening covers gau-lm and roformer-v2 models; flash-lm is not supported");
  LmConfig wide = c;
  wide.hidden = c.hidden * k;
  wide.expansion = c.expansion * k;
  wide.key_size = c.key_size * k;
  wide.intermediate = c.intermediate * k;
  wide.rope_dim = exact_rope ? c.rope_dim : wide.head_size();
  wide.norm_gain = c.norm_gain / std::sqrt(static_cast<float>(k));
  wide.rms_eps = c.rms_eps / static_cast<float>(k);
  const std::uint64_t floats = model.parameter_count() * static_cast<std::uint64_t>(k) * k;
  if (floats * 3 * sizeof(float) > max_allocation_bytes()) {
    return Out(ErrorCode::kTooLarge, "widening by " + std::to_string(k) + " needs " +
                                         std::to_string(floats) +
                                         " parameters, more than the engine can hold");
  }
  if (!exact_rope && c.rope_dim != c.head_size()) {
    return Out(ErrorCode::kBadArgument,
               "this model was widened with a duplicated θ table; widen it again with exactRope");
  }

  const float rk = std::sqrt(static_cast<float>(k));
  const float qk = std::pow(static_cast<float>(k), 0.25f);
  const IndexMap same = in_place(k);
  TensorMap weights;
  const auto put = [&](const std::string& name, Result<Tensor> tensor) -> Status {
    if (!tensor) return tensor.status();
    weights.emplace(name, std::move(tensor).value());
    return Status::ok();
  };
  const auto& w = model.weights();
  // Embedding and output are [vocab, hidden]: the hidden (input) side is repeated, the vocabulary
  // kept.
  for (const char* name : {"embeddings.weight", "output.weight"}) {
    const Tensor& t = w.at(name);
    Result<Tensor> widened = Tensor::zeros({t.dim(0), t.dim(1) * k}, name);
    if (!widened) return widened.status();
    for (std::int64_t v = 0; v < t.dim(0); ++v)
      for (std::int64_t i = 0; i < t.dim(1) * k; ++i)
        widened.value().data()[v * t.dim(1) * k + i] = t.data()[v * t.dim(1) + i / k] / rk;
    if (Status s = put(name, std::move(widened)); !s.is_ok()) return s;
  }
  for (int l = 0; l < c.layers; ++l) {
    if (c.family == LmFamily::gau) {
      const std::string p = "layers." + std::to_string(l) + ".";
      const IndexMap z = rope_features(k, c.key_size, exact_rope);
      for (Status s :
           {put(p + "i_dense.weight",
                widen_matrix(w.at(p + "i_dense.weight"), k,
                             gau_input_rows(k, c.expansion, c.key_size, exact_rope), 1 / rk, p)),
            put(p + "o_dense.weight",
                widen_matrix(w.at(p + "o_dense.weight"), k, same, 1 / (k * rk), p)),
            put(p + "q_scale", widen_vector(w.at(p + "q_scale"), k, z, 1 / qk, p)),
            put(p + "k_scale", widen_vector(w.at(p + "k_scale"), k, z, 1 / qk, p))}) {
        if (!s.is_ok()) return s;
      }
    } else {
      const std::string a = "attentions." + std::to_string(l) + ".";
      const std::string f = "feed_forwards." + std::to_string(l) + ".";
      const IndexMap qk_rows = rope_features(k, c.head_size(), exact_rope);
      for (Status s :
           {put(a + "q_dense.weight",
                widen_matrix(w.at(a + "q_dense.weight"), k, qk_rows, qk / k, a)),
            put(a + "k_dense.weight",
                widen_matrix(w.at(a + "k_dense.weight"), k, qk_rows, qk / k, a)),
            put(a + "v_dense.weight",
                widen_matrix(w.at(a + "v_dense.weight"), k, same, 1.0f / k, a)),
            put(a + "o_dense.weight",
                widen_matrix(w.at(a + "o_dense.weight"), k, same, 1.0f / k, a)),
            put(f + "i_dense.weight", widen_matrix(w.at(f + "i_dense.weight"), k, same, 1 / rk, f)),
            put(f + "o_dense.weight",
                widen_matrix(w.at(f + "o_dense.weight"), k, same, 1 / (k * rk), f))}) {
        if (!s.is_ok()) return s;
      }
    }
  }
  return LanguageModel::create(std::move(wide), std::move(weights));
}

Result<float> max_logit_difference(LanguageModel& a, LanguageModel& b,
                                   std::span<const int> tokens) {
  if (a.config().vocab_size != b.config().vocab_size) {
    return Result<float>(ErrorCode::kBadArgument, "the two models have different vocabularies");
  }
  const std::size_t count = tokens.size() * static_cast<std::size_t>(a.config().vocab_size);
  Result<FloatBuffer> la = FloatBuffer::allocate(count, "the logits");
  Result<FloatBuffer> lb = FloatBuffer::allocate(count, "the logits");
  if (!la) return la.status();
  if (!lb) return lb.status();
  if (Status s = a.forward(tokens, {}, la.value().data()); !s.is_ok()) return s;
  if (Status s = b.forward(tokens, {}, lb.value().data()); !s.is_ok()) return s;
  float worst = 0;
  for (std::size_t i = 0; i < count; ++i)
    worst = std::max(worst, std::fabs(la.value().data()[i] - lb.value().data()[i]));
  return worst;
}

}  // namespace gyre::models
