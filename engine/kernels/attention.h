// Fused attention O = normalise(scale · Q Kᵀ) · V that never materialises the n × n score matrix
// (docs/ALGORITHMS.md §2, §3, §5 and §7).
//
// The SIMD128 path (attention_tiled.cpp) tiles queries by 4 (in blocks of 64) and keys by 128 with
// an online (flash-attention) softmax; K of each head is packed once into 8-key panels (O(n·d)
// workspace). Memory is O(n·d) for every mask; the sliding window and the band cost O(n·w) time
// because only key tiles that some query of a tile can see are visited. Calls of fewer than 4
// queries (decoding) and the scalar build go through the row kernel (attention_row.cpp), one query
// at a time over its visible keys; the scalar reference (attention_scalar) is its scalar variant.
// attention.cpp holds the entry points, the per-query visibility, validation and the workspace.
//
// Masks are defined on absolute positions: query i is at position query_position + i, key j at
// key_position + j (both 0 for a plain full pass; decoding and chunked prefill shift them):
//   bidirectional   every key
//   causal          key position <= query position
//   causal_window   query position − w < key position <= query position
//                   (w = window >= 1 keys, the current one included; docs/ALGORITHMS.md §7.2)
//   band            |query position − key position| <= window
//                   (half-width >= 0; bidirectional local)
// l(i), the number of keys query i sees after masking, drives every length-dependent factor:
//   softmax        softmax(scale · q·k)
//   softmax_plus   softmax(scale · f(i) · q·k),  f(i) = log(max(c, min_len)) / log(train_len),
//                  c = l(i) (or the query's position + 1 with log_count_positions), and f >= 1
//                  with log_at_least_one. Defaults (16, 512) are bert4keras's softmax_plus;
//                  min_len = 1 with log_at_least_one and log_count_positions is the post-hoc
//                  logn† of docs/ALGORITHMS.md §2.3.
//   relu2          relu(scale · q·k)² / l(i), or / relu2_fixed_len when that is > 0; with
//                  relu2_logn also × c², c = max(1, log l(i) / log train_len): the post-hoc
//                  logn† on the scores, since relu(c·a)² = c²·relu(a)².
// A query that sees no key gets a zero output (and entropy 0).
//
// Errors are returned as Status (BAD_ARGUMENT, TOO_LARGE), never thrown; on error nothing is
// written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/status.h"

namespace gyre::kernels {

enum class AttentionMask : std::uint8_t { bidirectional, causal, causal_window, band };
enum class AttentionNormaliser : std::uint8_t { softmax, softmax_plus, relu2 };

struct AttentionConfig {
  AttentionMask mask = AttentionMask::causal;
  int window = 0;  // causal_window: w >= 1 keys; band: half-width >= 0; ignored otherwise
  AttentionNormaliser normaliser = AttentionNormaliser::softmax;
  float scale = 0.0f;  // logit scale; 0 means 1/sqrt(head_dim)
  // softmax_plus (section 2): f = log(max(count, min_len)) / log(train_len)
  float train_len = 512.0f;
  float min_len = 16.0f;
  bool log_at_least_one = false;  // f = max(f, 1): lengths inside the training range are unchanged
  bool log_count_positions = false;  // count = query position + 1 instead of the visible keys
  int relu2_fixed_len = 0;           // relu2: divide by this fixed n (> 0) instead of l(i)
  bool relu2_logn = false;           // relu2: weights × max(1, log l(i) / log train_len)²
};

// Row-major buffers; each row holds num_heads heads side by side. A stride of 0 means dense rows
// (num_heads · head_dim for q and k, num_heads · value_dim for v and out).
struct AttentionShape {
  int num_queries = 0;
  int num_keys = 0;
  int num_heads = 1;
  int head_dim = 0;        // q and k per head (GAU: s up to 256; any size is accepted)
  int value_dim = 0;       // v and out per head; 0 means head_dim (GAU uses e here)
  int query_position = 0;  // absolute position of query row 0
  int key_position = 0;    // absolute position of key row 0
  int q_stride = 0, k_stride = 0, v_stride = 0, out_stride = 0;
};

// Scratch memory owned by the caller so the hot path does not allocate once it has grown (a model
// keeps one per thread, sized at load with reserve()). Holds one head's packed K (num_keys rounded
// up to 8, times head_dim) plus per-tile buffers.
class AttentionWorkspace {
 public:
  AttentionWorkspace() = default;
  AttentionWorkspace(const AttentionWorkspace&) = delete;
  AttentionWorkspace& operator=(const AttentionWorkspace&) = delete;
  AttentionWorkspace(AttentionWorkspace&& other) noexcept;
  AttentionWorkspace& operator=(AttentionWorkspace&& other) noexcept;
  ~AttentionWorkspace();

  // Grows to what attention() needs for this shape; OUT_OF_MEMORY (workspace unchanged) when it
  // cannot.
  Status reserve(const AttentionShape& shape);
  std::size_t capacity_floats() const { return size_; }
  // At least `count` floats (contents not preserved), or null when the allocation fails.
  float* floats(std::size_t count);

 private:
  float* data_ = nullptr;
  std::size_t size_ = 0;
};

// Optional outputs beside O; every pointer may be null. They are produced only when asked for: the
// plain call runs a kernel compiled without them.
struct AttentionOutputs {
  // Per-query attention entropy −Σ_j p_ij log p_ij in nats (p the normalised weights; relu2 weights
  // are renormalised to sum 1 for this), [num_queries][num_heads] with row stride entropy_stride
  // (0: heads).
  float* entropy = nullptr;
  int entropy_stride = 0;
};

// Scalars of one query's attention computed from config and shape: used by the kernels and by
// callers that need to show them (the length-extrapolation lab).
struct QueryVisibility {
  int first_key = 0;  // visible keys are [first_key, end_key)
  int end_key = 0;
  float logit_factor = 0;  // scale · f(i) (f = 1 unless softmax_plus)
  float divisor = 1;       // relu2: l(i) or relu2_fixed_len (over c² with relu2_logn); 1 otherwise
};
QueryVisibility attention_query_visibility(const AttentionConfig& config,
                                           const AttentionShape& shape, int query);

Status attention_validate(const AttentionConfig& config, const AttentionShape& shape,
                          const float* q, const float* k, const float* v, const float* out);

// O = attention(Q, K, V) for every head.
Status attention(const AttentionConfig& config, const AttentionShape& shape, const float* q,
                 const float* k, const float* v, float* out, AttentionWorkspace& workspace,
                 const AttentionOutputs& extra = {});

// Scalar reference with the same contract (O(num_keys) scratch per query, never n × n).
Status attention_scalar(const AttentionConfig& config, const AttentionShape& shape, const float* q,
                        const float* k, const float* v, float* out,
                        const AttentionOutputs& extra = {});

// The attention weights of one head for queries [query_begin, query_end): row r of `weights` (row
// stride num_keys) receives the normalised weights of query query_begin + r over all keys (0 where
// masked), exactly the matrix the fused kernel applies to V. For heat maps; O(rows · num_keys)
// memory.
Status attention_weights(const AttentionConfig& config, const AttentionShape& shape, const float* q,
                         const float* k, int head, int query_begin, int query_end, float* weights);

}  // namespace gyre::kernels
