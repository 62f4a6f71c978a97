// Rotary position embedding (RoPE), docs/ALGORITHMS.md §1.
//
// For a head vector x of even size d at integer position m, pair i is rotated by the angle m·θ_i
// with θ_i = base^(−2i/d), i = 0 … d/2 − 1:
//   y_a = x_a cos(mθ_i) − x_b sin(mθ_i)
//   y_b = x_a sin(mθ_i) + x_b cos(mθ_i)
// Layout interleaved (RoFormer, bert4keras; the default): pair i is (a, b) = (2i, 2i + 1).
// Layout half_split (GPT-NeoX): pair i is (a, b) = (i, i + d/2). The two give identical scores
// after the permutation interleaved index 2i -> i, 2i + 1 -> i + d/2 of the q and k features.
//
// Usage (rotate a query at position m and a key at position n; q·k then depends only on m − n):
//   auto table = gyre::kernels::RopeTable::create(/*head_dim=*/64, /*max_positions=*/1024);
//   if (!table) return table.status();
//   Status s = gyre::kernels::rope_apply(table.value(), q, /*rows=*/1, /*row_stride=*/64,
//   /*num_heads=*/1, /*first_position=*/m); s = gyre::kernels::rope_apply(table.value(), k, 1, 64,
//   1, n);
//
// Errors (core/status.h, never exceptions): BAD_ARGUMENT for a bad size (odd or non-positive
// head_dim, negative counts, a row stride too small for its heads, a base that is not finite and >
// 1, a null buffer) or a position outside [table.first_position(), table.max_positions()) (grow
// the table with extend() or move it with slide()); TOO_LARGE when a table would exceed 2^31 floats. On error nothing is modified.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace gyre::kernels {

enum class RopeLayout : std::uint8_t { interleaved, half_split };

// cos(mθ_i) and sin(mθ_i) for positions 0 … max_positions − 1, computed once in double precision
// and stored as f32, d/2 entries per position (row-major by position).
class RopeTable {
 public:
  static Result<RopeTable> create(int head_dim, int max_positions, double base = 10000.0);

  // Adds positions up to max_positions − 1 (never shrinks); existing entries are not recomputed.
  Status extend(int max_positions);
  // Recomputes the table for positions first_position … first_position + count − 1 only, so that
  // decoding far beyond any fixed table keeps a table of constant size.
  Status slide(int first_position, int count);

  int head_dim() const { return head_dim_; }
  int first_position() const { return first_; }  // 0 unless slid
  int max_positions() const { return max_positions_; }  // one past the last position held
  double base() const { return base_; }
  // θ_i for i = 0 … head_dim/2 − 1.
  double theta(int i) const;
  // head_dim/2 values for one position; the position must be in range.
  const float* cos_at(int position) const {
    return cos_.data() + static_cast<std::size_t>(position - first_) * half();
  }
  const float* sin_at(int position) const {
    return sin_.data() + static_cast<std::size_t>(position - first_) * half();
  }

 private:
  RopeTable(int head_dim, double base) : head_dim_(head_dim), base_(base) {}
  std::size_t half() const { return static_cast<std::size_t>(head_dim_ / 2); }
  int head_dim_;
  int first_ = 0;
  int max_positions_ = 0;
  double base_;
  std::vector<float> cos_, sin_;
};

// Rotates, in place, `rows` rows of x. Row r starts at x + r·row_stride and holds num_heads heads
// of table.head_dim() contiguous floats each (row_stride ≥ num_heads·head_dim); every head of row r
// is at position first_position + r. Use it on Q and K (never V) after their projections.
Status rope_apply(const RopeTable& table, float* x, int rows, int row_stride, int num_heads = 1,
                  int first_position = 0, RopeLayout layout = RopeLayout::interleaved);

// Scalar reference of rope_apply (same contract); always compiled, so tests can compare the two.
Status rope_apply_scalar(const RopeTable& table, float* x, int rows, int row_stride,
                         int num_heads = 1, int first_position = 0,
                         RopeLayout layout = RopeLayout::interleaved);

}  // namespace gyre::kernels
