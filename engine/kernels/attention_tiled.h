// Internal to attention.cpp: the tiled SIMD128 kernel (attention_tiled.cpp) that attention() runs
// on each head when a call has kTileQueries queries or more. Not part of the public kernel API.
#pragma once

#include <cstddef>

#include "kernels/attention.h"

namespace gyre::kernels::detail {

inline constexpr int kTileQueries = 4;  // rows of the register-blocked micro-tile
inline constexpr int kBlockQueries =
    64;  // rows that share one pass over the key blocks (a multiple of 4)
inline constexpr int kPanelKeys = 8;

// One head's buffers, rows already offset to the head.
struct HeadView {
  const float* q;
  const float* k;
  const float* v;
  float* out;
  float* entropy;
  int q_stride, k_stride, v_stride, out_stride, entropy_stride;
  int head_dim, value_dim;
};

// One head through the tiled kernel (SIMD builds only), kEntropy when h.entropy is written.
// workspace holds round_up(num_keys, kPanelKeys)·head_dim floats of packed keys, then
// kBlockQueries·(head_dim + value_dim) + kTileQueries·kKeyBlock floats (attention_scratch_floats).
template <bool kEntropy>
void attend_head_tiled(const AttentionConfig& config, const AttentionShape& shape,
                       const HeadView& h, float* workspace);

}  // namespace gyre::kernels::detail
