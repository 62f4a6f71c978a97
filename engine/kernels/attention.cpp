// The attention entry points: visibility (mask and length factors per query), validation, the
// workspace, the dispatch between the tiled kernel (attention_tiled.cpp) and the row kernel
// (attention_row.cpp), the scalar reference and the explicit weights for heat maps.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "kernels/attention_row.h"
#include "kernels/attention_tiled.h"
#include "kernels/simd_math.h"

namespace gyre::kernels {

namespace {

using detail::HeadView;
using detail::kBlockQueries;
using detail::kKeyBlock;
using detail::kPanelKeys;
using detail::kTileQueries;
using detail::round_up;
using detail::RowState;
using detail::scale_query;

constexpr bool kSimdBuild = GYRE_SIMD128;

int q_stride_of(const AttentionShape& s) {
  return s.q_stride ? s.q_stride : s.num_heads * s.head_dim;
}
int k_stride_of(const AttentionShape& s) {
  return s.k_stride ? s.k_stride : s.num_heads * s.head_dim;
}
int value_dim_of(const AttentionShape& s) {
  return s.value_dim ? s.value_dim : s.head_dim;
}
int v_stride_of(const AttentionShape& s) {
  return s.v_stride ? s.v_stride : s.num_heads * value_dim_of(s);
}
int out_stride_of(const AttentionShape& s) {
  return s.out_stride ? s.out_stride : s.num_heads * value_dim_of(s);
}
HeadView head_view(const AttentionShape& shape, const float* q, const float* k, const float* v,
                   float* out, const AttentionOutputs& extra, int head) {
  const int d = shape.head_dim, dv = value_dim_of(shape);
  return HeadView{q + static_cast<std::size_t>(head) * d,
                  k + static_cast<std::size_t>(head) * d,
                  v + static_cast<std::size_t>(head) * dv,
                  out + static_cast<std::size_t>(head) * dv,
                  extra.entropy ? extra.entropy + head : nullptr,
                  q_stride_of(shape),
                  k_stride_of(shape),
                  v_stride_of(shape),
                  out_stride_of(shape),
                  extra.entropy_stride ? extra.entropy_stride : shape.num_heads,
                  d,
                  dv};
}

// One query through the row kernel (scalar or SIMD): the scalar reference, and the SIMD path when a
// call has fewer queries than a tile (decoding-sized calls).
template <bool kSimd>
void attend_query(const AttentionConfig& config, const AttentionShape& shape, const HeadView& h,
                  int i, float* scratch) {
  const QueryVisibility vis = attention_query_visibility(config, shape, i);
  float* q_scaled = scratch;
  float* acc = q_scaled + round_up(h.head_dim, 4);
  float* scores = acc + round_up(h.value_dim, 4);
  const bool relu2 = config.normaliser == AttentionNormaliser::relu2;
  scale_query(h.q + static_cast<std::size_t>(i) * h.q_stride, h.head_dim, vis.logit_factor,
              q_scaled);
  RowState state;
  detail::row_begin(state, acc, h.value_dim);
  const int count = vis.end_key - vis.first_key;
  if (count > 0) {
    const float* k = h.k + static_cast<std::size_t>(vis.first_key) * h.k_stride;
    const float* v = h.v + static_cast<std::size_t>(vis.first_key) * h.v_stride;
    if constexpr (kSimd)
      detail::row_segment(relu2, h.entropy != nullptr, q_scaled, h.head_dim, k, h.k_stride, v,
                          h.v_stride, h.value_dim, count, state, scores);
    else
      detail::row_segment_scalar(relu2, h.entropy != nullptr, q_scaled, h.head_dim, k, h.k_stride,
                                 v, h.v_stride, h.value_dim, count, state, scores);
  }
  detail::row_finish(
      relu2, vis.divisor, state, h.value_dim, h.out + static_cast<std::size_t>(i) * h.out_stride,
      h.entropy ? h.entropy + static_cast<std::size_t>(i) * h.entropy_stride : nullptr);
}

std::size_t row_scratch_floats(const AttentionShape& shape) {
  return round_up(shape.head_dim, 4) + round_up(value_dim_of(shape), 4) + kKeyBlock + 8;
}

}  // namespace

QueryVisibility attention_query_visibility(const AttentionConfig& config,
                                           const AttentionShape& shape, int query) {
  const long long qp = static_cast<long long>(shape.query_position) + query;
  const long long kp = shape.key_position;
  const long long n = shape.num_keys;
  long long lo = 0, hi = n;  // key indices
  switch (config.mask) {
    case AttentionMask::bidirectional:
      break;
    case AttentionMask::causal:
      hi = qp - kp + 1;
      break;
    case AttentionMask::causal_window:
      hi = qp - kp + 1;
      lo = qp - config.window + 1 - kp;
      break;
    case AttentionMask::band:
      lo = qp - config.window - kp;
      hi = qp + config.window + 1 - kp;
      break;
  }
  lo = std::clamp(lo, 0LL, n);
  hi = std::clamp(hi, lo, n);
  QueryVisibility vis;
  vis.first_key = static_cast<int>(lo);
  vis.end_key = static_cast<int>(hi);
  const double visible = static_cast<double>(hi - lo);
  const double scale =
      config.scale != 0.0f ? config.scale : 1.0 / std::sqrt(static_cast<double>(shape.head_dim));
  double factor = scale;
  if (config.normaliser == AttentionNormaliser::softmax_plus) {
    const double count = config.log_count_positions ? static_cast<double>(qp + 1) : visible;
    double f = std::log(std::max(count, static_cast<double>(config.min_len))) /
               std::log(static_cast<double>(config.train_len));
    if (config.log_at_least_one) f = std::max(f, 1.0);
    factor *= f;
  }
  vis.logit_factor = static_cast<float>(factor);
  vis.divisor = 1.0f;
  if (config.normaliser == AttentionNormaliser::relu2) {
    double divisor = config.relu2_fixed_len > 0 ? config.relu2_fixed_len : visible;
    if (config.relu2_logn) {
      const double c = std::max(
          1.0, std::log(std::max(visible, 1.0)) / std::log(static_cast<double>(config.train_len)));
      divisor /= c * c;
    }
    vis.divisor = static_cast<float>(divisor);
  }
  return vis;
}

AttentionWorkspace::AttentionWorkspace(AttentionWorkspace&& other) noexcept
    : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

AttentionWorkspace& AttentionWorkspace::operator=(AttentionWorkspace&& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  return *this;
}

AttentionWorkspace::~AttentionWorkspace() {
  std::free(data_);
}

Status AttentionWorkspace::reserve(const AttentionShape& shape) {
  const std::size_t need = detail::attention_scratch_floats(shape);
  if (floats(need) == nullptr)
    return Status(ErrorCode::kOutOfMemory, "attention: could not allocate a workspace of " +
                                               format_bytes(need * sizeof(float)));
  return Status::ok();
}

float* AttentionWorkspace::floats(std::size_t count) {
  if (count > size_) {
    // malloc, not new: a failed allocation must become OUT_OF_MEMORY, not an abort (no exceptions
    // in wasm).
    float* grown = static_cast<float*>(std::malloc(count * sizeof(float)));
    if (grown == nullptr) return nullptr;
    std::free(data_);
    data_ = grown;
    size_ = count;
  }
  return data_;
}

Status attention_validate(const AttentionConfig& config, const AttentionShape& shape,
                          const float* q, const float* k, const float* v, const float* out) {
  auto bad = [](const std::string& message) {
    return Status(ErrorCode::kBadArgument, "attention: " + message);
  };
  if (shape.num_queries < 0 || shape.num_keys < 0)
    return bad("num_queries and num_keys must be >= 0");
  if (shape.num_heads < 1 || shape.head_dim < 1 || shape.value_dim < 0)
    return bad("num_heads and head_dim must be >= 1 and value_dim >= 0");
  const long long heads = shape.num_heads;
  const long long dv = value_dim_of(shape);
  if (heads * shape.head_dim > (1 << 24) || heads * dv > (1 << 24))
    return Status(ErrorCode::kTooLarge, "attention: num_heads x head size exceeds 2^24");
  if (shape.q_stride < 0 || shape.k_stride < 0 || shape.v_stride < 0 || shape.out_stride < 0)
    return bad("strides must be >= 0 (0 means dense rows)");
  if (q_stride_of(shape) < heads * shape.head_dim || k_stride_of(shape) < heads * shape.head_dim)
    return bad("q_stride and k_stride must be >= num_heads*head_dim = " +
               std::to_string(heads * shape.head_dim));
  if (v_stride_of(shape) < heads * dv || out_stride_of(shape) < heads * dv)
    return bad("v_stride and out_stride must be >= num_heads*value_dim = " +
               std::to_string(heads * dv));
  if (static_cast<long long>(shape.query_position) + shape.num_queries > (1LL << 31) - 1 ||
      static_cast<long long>(shape.key_position) + shape.num_keys > (1LL << 31) - 1)
    return bad("positions overflow a 32-bit index");
  // 64-bit on purpose: size_t is 32 bits in wasm.
  const unsigned long long packed_floats =
      (static_cast<unsigned long long>(shape.num_keys) + kPanelKeys) * shape.head_dim;
  if (packed_floats > (1ULL << 28))
    return Status(ErrorCode::kTooLarge,
                  "attention: num_keys x head_dim exceeds 2^28 floats (1 GiB of packed keys)");
  if (config.mask == AttentionMask::causal_window && config.window < 1)
    return bad("causal_window needs window >= 1 (keys visible to a query, itself included), got " +
               std::to_string(config.window));
  if (config.mask == AttentionMask::band && config.window < 0)
    return bad("band needs a half-width window >= 0, got " + std::to_string(config.window));
  if (static_cast<unsigned>(config.mask) > static_cast<unsigned>(AttentionMask::band) ||
      static_cast<unsigned>(config.normaliser) > static_cast<unsigned>(AttentionNormaliser::relu2))
    return bad("unknown mask or normaliser");
  if (!std::isfinite(config.scale)) return bad("scale must be finite (0 selects 1/sqrt(head_dim))");
  if (config.normaliser == AttentionNormaliser::softmax_plus &&
      (!(config.train_len > 1.0f) || !std::isfinite(config.train_len) ||
       !(config.min_len >= 1.0f) || !std::isfinite(config.min_len)))
    return bad("softmax_plus needs a finite train_len > 1 and min_len >= 1");
  if (config.relu2_fixed_len < 0) return bad("relu2_fixed_len must be >= 0");
  if (config.normaliser == AttentionNormaliser::relu2 && config.relu2_logn &&
      (!(config.train_len > 1.0f) || !std::isfinite(config.train_len)))
    return bad("relu2 with log-n needs a finite train_len > 1");
  if (shape.num_queries > 0 && (q == nullptr || out == nullptr)) return bad("q or out is null");
  if (shape.num_queries > 0 && shape.num_keys > 0 && (k == nullptr || v == nullptr))
    return bad("k or v is null");
  return Status::ok();
}

Status attention_scalar(const AttentionConfig& config, const AttentionShape& shape, const float* q,
                        const float* k, const float* v, float* out, const AttentionOutputs& extra) {
  if (Status s = attention_validate(config, shape, q, k, v, out); !s.is_ok()) return s;
  std::vector<float> scratch(row_scratch_floats(shape));
  for (int head = 0; head < shape.num_heads; ++head) {
    const HeadView h = head_view(shape, q, k, v, out, extra, head);
    for (int i = 0; i < shape.num_queries; ++i)
      attend_query<false>(config, shape, h, i, scratch.data());
  }
  return Status::ok();
}

namespace detail {

std::size_t attention_scratch_floats(const AttentionShape& shape) {
  // Few queries (decoding) and the scalar build go through the row kernel: no packed K needed.
  if (!kSimdBuild || shape.num_queries < kTileQueries) return row_scratch_floats(shape);
  const std::size_t dv = static_cast<std::size_t>(value_dim_of(shape));
  const std::size_t tiled =
      round_up(static_cast<std::size_t>(std::max(shape.num_keys, 0)), kPanelKeys) * shape.head_dim +
      kBlockQueries * (static_cast<std::size_t>(shape.head_dim) + dv) + kTileQueries * kKeyBlock +
      16;
  return std::max(tiled, row_scratch_floats(shape));
}

void attention_unchecked(const AttentionConfig& config, const AttentionShape& shape, const float* q,
                         const float* k, const float* v, float* out, float* scratch,
                         const AttentionOutputs& extra) {
  for (int head = 0; head < shape.num_heads; ++head) {
    const HeadView h = head_view(shape, q, k, v, out, extra, head);
#if GYRE_SIMD128
    if (shape.num_queries >= kTileQueries) {
      if (h.entropy)
        attend_head_tiled<true>(config, shape, h, scratch);
      else
        attend_head_tiled<false>(config, shape, h, scratch);
      continue;
    }
    for (int i = 0; i < shape.num_queries; ++i) attend_query<true>(config, shape, h, i, scratch);
#else
    for (int i = 0; i < shape.num_queries; ++i) attend_query<false>(config, shape, h, i, scratch);
#endif
  }
}

}  // namespace detail

Status attention(const AttentionConfig& config, const AttentionShape& shape, const float* q,
                 const float* k, const float* v, float* out, AttentionWorkspace& workspace,
                 const AttentionOutputs& extra) {
  if (Status s = attention_validate(config, shape, q, k, v, out); !s.is_ok()) return s;
  if (Status s = workspace.reserve(shape); !s.is_ok()) return s;
  detail::attention_unchecked(config, shape, q, k, v, out, workspace.floats(0), extra);
  return Status::ok();
}

Status attention_weights(const AttentionConfig& config, const AttentionShape& shape, const float* q,
                         const float* k, int head, int query_begin, int query_end, float* weights) {
  if (Status s = attention_validate(config, shape, q, k, k, q); !s.is_ok()) return s;
  if (head < 0 || head >= shape.num_heads)
    return Status(ErrorCode::kBadArgument, "attention_weights: head out of range");
  if (query_begin < 0 || query_end < query_begin || query_end > shape.num_queries)
    return Status(ErrorCode::kBadArgument, "attention_weights: query range [" +
                                               std::to_string(query_begin) + ", " +
                                               std::to_string(query_end) + ") is outside [0, " +
                                               std::to_string(shape.num_queries) + ")");
  if (query_end > query_begin && weights == nullptr)
    return Status(ErrorCode::kBadArgument, "attention_weights: weights is null");
  const int d = shape.head_dim;
  const bool relu2 = config.normaliser == AttentionNormaliser::relu2;
  std::vector<float> q_scaled(d);
  const float* kh = k + static_cast<std::size_t>(head) * d;
  const int k_stride = k_stride_of(shape);
  for (int i = query_begin; i < query_end; ++i) {
    const QueryVisibility vis = attention_query_visibility(config, shape, i);
    float* row = weights + static_cast<std::size_t>(i - query_begin) * shape.num_keys;
    std::fill(row, row + shape.num_keys, 0.0f);
    scale_query(
        q + static_cast<std::size_t>(i) * q_stride_of(shape) + static_cast<std::size_t>(head) * d,
        d, vis.logit_factor, q_scaled.data());
    for (int j = vis.first_key; j < vis.end_key; ++j) {
      const float* kr = kh + static_cast<std::size_t>(j) * k_stride;
      float dot = 0;
      for (int t = 0; t < d; ++t) dot += q_scaled[t] * kr[t];
      row[j] = dot;
    }
    if (vis.end_key <= vis.first_key) continue;
    float* live = row + vis.first_key;
    const int count = vis.end_key - vis.first_key;
    if (relu2) {
      for (int j = 0; j < count; ++j)
        live[j] = live[j] > 0 ? live[j] * live[j] / vis.divisor : 0.0f;
    } else {
      const float m = *std::max_element(live, live + count);
      float sum = 0;
      for (int j = 0; j < count; ++j) sum += (live[j] = exp_scalar(live[j] - m));
      for (int j = 0; j < count; ++j) live[j] /= sum;
    }
  }
  return Status::ok();
}

}  // namespace gyre::kernels