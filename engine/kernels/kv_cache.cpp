#include "kernels/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "kernels/attention_row.h"

namespace gyre::kernels {

KvCache::KvCache(int num_heads, int head_dim, int value_dim, int slots, bool ring, Buffer keys,
                 Buffer values)
    : num_heads_(num_heads),
      head_dim_(head_dim),
      value_dim_(value_dim),
      slots_(slots),
      ring_(ring),
      keys_(std::move(keys)),
      values_(std::move(values)) {}

Result<KvCache> KvCache::create(int num_heads, int head_dim, int value_dim, int capacity,
                                int window) {
  if (value_dim == 0) value_dim = head_dim;
  if (num_heads < 1 || head_dim < 1 || value_dim < 1)
    return Status(ErrorCode::kBadArgument,
                  "KvCache: num_heads, head_dim and value_dim must be >= 1");
  if (window < 0)
    return Status(ErrorCode::kBadArgument, "KvCache: window must be >= 0 (0 = linear cache)");
  const int slots = window > 0 ? window : capacity;
  if (slots < 1)
    return Status(ErrorCode::kBadArgument,
                  "KvCache: capacity must be >= 1, got " + std::to_string(capacity));
  const unsigned long long floats = static_cast<unsigned long long>(slots) * num_heads *
                                    (static_cast<unsigned long long>(head_dim) + value_dim);
  if (floats > (1ULL << 30))
    return Status(ErrorCode::kTooLarge, "KvCache: " + std::to_string(slots) + " tokens x " +
                                            std::to_string(num_heads) + " heads need " +
                                            format_bytes(floats * sizeof(float)));
  // malloc, not new: a failed allocation must become OUT_OF_MEMORY, not an abort (no exceptions in
  // wasm).
  Buffer keys(static_cast<float*>(
      std::calloc(static_cast<std::size_t>(slots) * num_heads * head_dim, sizeof(float))));
  Buffer values(static_cast<float*>(
      std::calloc(static_cast<std::size_t>(slots) * num_heads * value_dim, sizeof(float))));
  if (!keys || !values)
    return Status(ErrorCode::kOutOfMemory,
                  "KvCache: could not allocate " + format_bytes(floats * sizeof(float)));
  return KvCache(num_heads, head_dim, value_dim, slots, window > 0, std::move(keys),
                 std::move(values));
}

Status KvCache::append(const float* k, const float* v, int rows, int k_stride, int v_stride) {
  const int kw = num_heads_ * head_dim_, vw = num_heads_ * value_dim_;
  if (k_stride == 0) k_stride = kw;
  if (v_stride == 0) v_stride = vw;
  if (rows < 0 || k_stride < kw || v_stride < vw)
    return Status(ErrorCode::kBadArgument,
                  "KvCache::append: rows must be >= 0 and strides >= the row widths");
  if (rows == 0) return Status::ok();
  if (k == nullptr || v == nullptr)
    return Status(ErrorCode::kBadArgument, "KvCache::append: k or v is null");
  if (static_cast<long long>(length_) + rows > (1LL << 31) - 1)
    return Status(ErrorCode::kTooLarge, "KvCache::append: positions beyond 2^31");
  if (!ring_ && length_ + rows > slots_)
    return Status(ErrorCode::kBadArgument,
                  "KvCache::append: the cache holds " + std::to_string(slots_) +
                      " tokens and already has " + std::to_string(length_) + "; " +
                      std::to_string(rows) + " more do not fit (create it larger)");
  // A ring only keeps the last `slots_` rows of a long block.
  const int skip = ring_ ? std::max(0, rows - slots_) : 0;
  for (int r = skip; r < rows; ++r) {
    const int position = length_ + r;
    const std::size_t slot = static_cast<std::size_t>(ring_ ? position % slots_ : position);
    std::memcpy(keys_.get() + slot * kw, k + static_cast<std::size_t>(r) * k_stride,
                sizeof(float) * kw);
    std::memcpy(values_.get() + slot * vw, v + static_cast<std::size_t>(r) * v_stride,
                sizeof(float) * vw);
  }
  length_ += rows;
  return Status::ok();
}

namespace {

// Shared by the SIMD and scalar entry points: validates, finds the visible positions and feeds them
// to the row kernel as at most two contiguous slot ranges.
template <bool kSimd>
Status decode(const AttentionConfig& config, const KvCache& cache, const float* q, float* out,
              float* scratch_or_null, const AttentionOutputs& extra) {
  if (cache.size() == 0)
    return Status(ErrorCode::kBadArgument,
                  "attention_decode: the cache is empty (append the token's k and v first)");
  AttentionConfig c = config;
  if (c.mask == AttentionMask::bidirectional) c.mask = AttentionMask::causal;
  // The held tokens as a linear key sequence starting at first_position(); the query is the newest.
  AttentionShape shape;
  shape.num_queries = 1;
  shape.num_keys = cache.size();
  shape.num_heads = cache.num_heads();
  shape.head_dim = cache.head_dim();
  shape.value_dim = cache.value_dim();
  shape.query_position = cache.length() - 1;
  shape.key_position = cache.first_position();
  if (Status s = attention_validate(c, shape, q, cache.keys(), cache.values(), out); !s.is_ok())
    return s;
  if (cache.first_position() > 0) {
    // Keys the mask needs but the ring has dropped: compare with an unbounded history.
    AttentionShape history = shape;
    history.num_keys = cache.length();
    history.key_position = 0;
    if (attention_query_visibility(c, history, 0).first_key < cache.first_position())
      return Status(ErrorCode::kBadArgument,
                    "attention_decode: the mask needs tokens older than the ring buffer keeps (it "
                    "holds the last " +
                        std::to_string(cache.slots()) +
                        "); use a linear cache or a window <= " + std::to_string(cache.slots()));
  }
  const QueryVisibility vis = attention_query_visibility(c, shape, 0);
  // Visible positions [a, b) → slot ranges.
  const int a = cache.first_position() + vis.first_key, b = cache.first_position() + vis.end_key;
  int seg_start[2], seg_count[2], segments = 0;
  if (b > a) {
    if (!cache.is_ring()) {
      seg_start[0] = a;
      seg_count[0] = b - a;
      segments = 1;
    } else {
      const int w = cache.slots(), sa = a % w;
      const int first_len = std::min(b - a, w - sa);
      seg_start[0] = sa;
      seg_count[0] = first_len;
      segments = 1;
      if (first_len < b - a) {
        seg_start[1] = 0;
        seg_count[1] = b - a - first_len;
        segments = 2;
      }
    }
  }
  const int H = cache.num_heads(), d = cache.head_dim(), dv = cache.value_dim();
  const bool relu2 = c.normaliser == AttentionNormaliser::relu2;
  std::vector<float> own_scratch;
  float* scratch = scratch_or_null;
  const std::size_t need = static_cast<std::size_t>(d + dv) + detail::kKeyBlock + 16;
  if (scratch == nullptr) {
    own_scratch.resize(need);
    scratch = own_scratch.data();
  }
  float* q_scaled = scratch;
  float* acc = q_scaled + ((d + 3) & ~3);
  float* scores = acc + ((dv + 3) & ~3);
  for (int h = 0; h < H; ++h) {
    const float* qh = q + static_cast<std::size_t>(h) * d;
    for (int t = 0; t < d; ++t) q_scaled[t] = qh[t] * vis.logit_factor;
    detail::RowState state;
    detail::row_begin(state, acc, dv);
    for (int sgm = 0; sgm < segments; ++sgm) {
      const float* k = cache.keys() + static_cast<std::size_t>(seg_start[sgm]) * H * d +
                       static_cast<std::size_t>(h) * d;
      const float* v = cache.values() + static_cast<std::size_t>(seg_start[sgm]) * H * dv +
                       static_cast<std::size_t>(h) * dv;
      if constexpr (kSimd)
        detail::row_segment(relu2, extra.entropy != nullptr, q_scaled, d, k, H * d, v, H * dv, dv,
                            seg_count[sgm], state, scores);
      else
        detail::row_segment_scalar(relu2, extra.entropy != nullptr, q_scaled, d, k, H * d, v,
                                   H * dv, dv, seg_count[sgm], state, scores);
    }
    detail::row_finish(relu2, vis.divisor, state, dv, out + static_cast<std::size_t>(h) * dv,
                       extra.entropy ? extra.entropy + h : nullptr);
  }
  return Status::ok();
}

}  // namespace

Status attention_decode(const AttentionConfig& config, const KvCache& cache, const float* q,
                        float* out, AttentionWorkspace& workspace, const AttentionOutputs& extra) {
  const std::size_t need =
      static_cast<std::size_t>(cache.head_dim() + cache.value_dim()) + detail::kKeyBlock + 16;
  float* scratch = workspace.floats(need);
  if (scratch == nullptr)
    return Status(ErrorCode::kOutOfMemory, "attention_decode: no memory for the scratch buffer");
  return decode<true>(config, cache, q, out, scratch, extra);
}

Status attention_decode_scalar(const AttentionConfig& config, const KvCache& cache, const float* q,
                               float* out, const AttentionOutputs& extra) {
  return decode<false>(config, cache, q, out, nullptr, extra);
}

}  // namespace gyre::kernels
