// Internal to the attention kernels (attention.cpp, attention_tiled.cpp, kv_cache.cpp, flash.cpp):
// the row kernel (attention_row.cpp), one query's online-softmax state and the per-segment update,
// so that decoding from a ring buffer can feed two key segments into one normalisation, and the
// block update and 4-row P·V that the tiled kernel shares with it. Not part of the public kernel
// API.
#pragma once

#include <cstddef>

#include "kernels/attention.h"

namespace gyre::kernels::detail {

inline constexpr int kKeyBlock = 128;  // keys per online-softmax step (row and tile kernels)
// A logit of a masked key: finite, so that 0·(s − max) stays 0 in the entropy sums, and far below
// any real logit, so that exp(s − max) underflows to exactly 0.
inline constexpr float kMaskedLogit = -1e30f;

inline std::size_t round_up(std::size_t x, std::size_t m) {
  return (x + m - 1) / m * m;
}

inline void scale_query(const float* q, int d, float factor, float* q_scaled) {
  for (int t = 0; t < d; ++t) q_scaled[t] = q[t] * factor;
}

// The running statistics of one query: with s the scaled logits seen so far,
//   softmax: max = max s, sum = Σ e^(s − max), moment = Σ e^(s − max)·(s − max)
//   relu2:   sum = Σ r, moment = Σ r·log r, r = relu(s)²
// and acc = Σ weight·v (value_dim floats, caller-owned, zeroed by row_begin).
struct RowState {
  float max;
  float sum;
  float moment;
  float* acc;
};

void row_begin(RowState& state, float* acc, int value_dim);

// Online update of one row's statistics with a block of `width` scaled logits (a multiple of 4;
// padding masked), SIMD builds only: overwrites the block with the weights and returns the factor
// the row's accumulator must be scaled by.
float update_row_simd(bool relu2, bool with_entropy, float* s, int width, RowState& st);

// Adds keys k[0..count) (rows of stride k_stride) and their values to the state. q_scaled is the
// query already multiplied by its logit factor; scores is scratch of kKeyBlock + 4 floats.
void row_segment(bool relu2, bool with_entropy, const float* q_scaled, int head_dim, const float* k,
                 int k_stride, const float* v, int v_stride, int value_dim, int count,
                 RowState& state, float* scores);
void row_segment_scalar(bool relu2, bool with_entropy, const float* q_scaled, int head_dim,
                        const float* k, int k_stride, const float* v, int v_stride, int value_dim,
                        int count, RowState& state, float* scores);

// Writes acc / normaliser to out (zeros when no key was seen) and, when entropy is not null, the
// entropy.
void row_finish(bool relu2, float divisor, const RowState& state, int value_dim, float* out,
                float* entropy);

// attention() after validation, on caller-provided scratch of attention_scratch_floats(shape)
// floats (attention.cpp).
std::size_t attention_scratch_floats(const AttentionShape& shape);
void attention_unchecked(const AttentionConfig& config, const AttentionShape& shape, const float* q,
                         const float* k, const float* v, float* out, float* scratch,
                         const AttentionOutputs& extra);

// o[r][0..dv) = alpha[r]·o[r] + Σ_c p[r][c]·v[c] for 4 rows given by pointers (a row that is not
// needed may point at zeros for p and at scratch for o). The register-blocked 4-row core of P·V,
// also used by FLASH's linear part.
void accumulate4(const float* const p[4], int count, const float* v, int v_stride, int dv,
                 const float alpha[4], float* const o[4]);
void accumulate4_scalar(const float* const p[4], int count, const float* v, int v_stride, int dv,
                        const float alpha[4], float* const o[4]);

}  // namespace gyre::kernels::detail
