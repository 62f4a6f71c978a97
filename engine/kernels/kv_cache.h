// Key/value cache for incremental decoding (one per attention layer).
//
// A linear cache holds up to `capacity` tokens, positions 0 … length − 1. A ring cache (window w >
// 0) holds only the last w tokens in w slots (position p lives in slot p mod w), so memory stays
// O(w) however long generation runs: the sliding-window layers of docs/ALGORITHMS.md §7.2 need
// nothing older. Rows are stored like the projections produce them: [slot][num_heads · head_dim]
// for keys and [slot][num_heads · value_dim] for values.
//
// Decoding one token: rotate its q and k with RoPE at position cache.length(), append(k, v), then
// attention_decode(config, cache, q, out). The result equals the last row of a full pass over all
// tokens with the same config. For several queries at once over a linear cache (chunked prefill),
// call attention() with k = keys(), v = values(), key_position = 0 and query_position = the first
// query's position.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

#include "core/status.h"
#include "kernels/attention.h"

namespace gyre::kernels {

class KvCache {
 public:
  // value_dim 0 means head_dim. window 0: linear cache of `capacity` tokens; window > 0: ring
  // buffer of `window` tokens (capacity is then ignored). BAD_ARGUMENT for non-positive sizes,
  // TOO_LARGE beyond 2^30 floats, OUT_OF_MEMORY when the allocation fails.
  static Result<KvCache> create(int num_heads, int head_dim, int value_dim, int capacity,
                                int window = 0);

  // Appends `rows` tokens (k rows of stride k_stride, v rows of stride v_stride; 0 = dense). A ring
  // keeps only the last `window` of them. A full linear cache refuses with BAD_ARGUMENT and is
  // unchanged.
  Status append(const float* k, const float* v, int rows = 1, int k_stride = 0, int v_stride = 0);
  void clear() { length_ = 0; }

  int length() const {
    return length_;
  }  // tokens appended since clear(): the next token's position
  int size() const { return length_ < slots_ ? length_ : slots_; }  // tokens held
  int first_position() const { return length_ - size(); }           // oldest token held
  bool is_ring() const { return ring_; }
  int slots() const { return slots_; }  // capacity (linear) or window (ring)
  int num_heads() const { return num_heads_; }
  int head_dim() const { return head_dim_; }
  int value_dim() const { return value_dim_; }
  std::size_t bytes() const {
    return static_cast<std::size_t>(slots_) * num_heads_ * (head_dim_ + value_dim_) * sizeof(float);
  }
  // Slot rows; slot s holds position p with p mod slots() == s (ring) or p == s (linear).
  const float* keys() const { return keys_.get(); }
  const float* values() const { return values_.get(); }

 private:
  struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
  };
  using Buffer = std::unique_ptr<float[], FreeDeleter>;
  KvCache(int num_heads, int head_dim, int value_dim, int slots, bool ring, Buffer keys,
          Buffer values);
  int num_heads_, head_dim_, value_dim_, slots_;
  bool ring_;
  int length_ = 0;
  Buffer keys_, values_;
};

// Attention of the newest token (position cache.length() − 1, already appended) over the cache.
// q holds num_heads · head_dim floats, out num_heads · value_dim; extra.entropy gets one value per
// head. Masks: causal and causal_window (and band, whose future half is empty); bidirectional is
// treated as causal since later tokens do not exist yet. BAD_ARGUMENT when the mask needs tokens a
// ring has already dropped (e.g. full causal attention over a window cache) or when the cache is
// empty.
Status attention_decode(const AttentionConfig& config, const KvCache& cache, const float* q,
                        float* out, AttentionWorkspace& workspace,
                        const AttentionOutputs& extra = {});

// Scalar reference of attention_decode (same contract).
Status attention_decode_scalar(const AttentionConfig& config, const KvCache& cache, const float* q,
                               float* out, const AttentionOutputs& extra = {});

}  // namespace gyre::kernels
