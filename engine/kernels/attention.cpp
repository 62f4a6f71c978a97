#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "kernels/attention_row.h"
#include "kernels/simd_math.h"

namespace gyre::kernels {

namespace {

using detail::kKeyBlock;
using detail::RowState;

// A logit of a masked key: finite, so that 0·(s − max) stays 0 in the entropy sums, and far below
// any real logit, so that exp(s − max) underflows to exactly 0.
constexpr float kMaskedLogit = -1e30f;
constexpr int kTileQueries = 4;    // rows of the register-blocked micro-tile
constexpr int kBlockQueries = 64;  // rows that share one pass over the key blocks (a multiple of 4)
constexpr int kPanelKeys = 8;
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
std::size_t round_up(std::size_t x, std::size_t m) {
  return (x + m - 1) / m * m;
}

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

void scale_query(const float* q, int d, float factor, float* q_scaled) {
  for (int t = 0; t < d; ++t) q_scaled[t] = q[t] * factor;
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

// Moves a row's softmax statistics to a new running max (>= the old one) and returns the factor
// alpha = e^(old max − new max) by which its accumulator must be scaled.
float rescale_row(bool with_entropy, float new_max, RowState& st) {
  float alpha = 1.0f;
  if (st.sum > 0 && new_max > st.max) {
    alpha = exp_scalar(st.max - new_max);
    if (with_entropy) st.moment = alpha * (st.moment + (st.max - new_max) * st.sum);
    st.sum *= alpha;
  }
  st.max = new_max;
  return alpha;
}

// Online update of one row's statistics with a block of scaled logits (scalar; the SIMD row kernel
// has its own vector version below). Masked entries hold kMaskedLogit (softmax) or anything <= 0
// (relu2). Overwrites the block with the weights and returns the factor the row's accumulator must
// be scaled by.
float update_row_scalar(bool relu2, bool with_entropy, float* s, int count, RowState& st) {
  if (relu2) {
    float sum = 0, moment = 0;
    for (int j = 0; j < count; ++j) {
      const float r = s[j] > 0 ? s[j] * s[j] : 0.0f;
      s[j] = r;
      sum += r;
      if (with_entropy && r > 0) moment += r * std::log(r);
    }
    st.sum += sum;
    st.moment += moment;
    return 1.0f;
  }
  float block_max = kMaskedLogit;
  for (int j = 0; j < count; ++j) block_max = std::max(block_max, s[j]);
  const float new_max = std::max(st.max, block_max);
  const float alpha = rescale_row(with_entropy, new_max, st);
  float sum = 0, moment = 0;
  for (int j = 0; j < count; ++j) {
    const float shifted = s[j] - new_max;
    const float p = exp_scalar(shifted);
    s[j] = p;
    sum += p;
    if (with_entropy) moment += p * shifted;
  }
  st.sum += sum;
  st.moment += moment;
  return alpha;
}

#if GYRE_SIMD128

// 4 queries × one 8-key panel of K (d × 8, packed): s[r][0..8) = qs[r]·k.
GYRE_MICROKERNEL void qk_panel(const float* qs, int d, const float* panel, float* s, int s_stride) {
  v128_t a00 = wasm_f32x4_splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
         a30 = a00, a31 = a00;
  const float* q0 = qs;
  const float* q1 = qs + d;
  const float* q2 = qs + 2 * d;
  const float* q3 = qs + 3 * d;
  for (int t = 0; t < d; ++t) {
    const v128_t b0 = wasm_v128_load(panel + 8 * t);
    const v128_t b1 = wasm_v128_load(panel + 8 * t + 4);
    v128_t x = wasm_v128_load32_splat(q0 + t);
    a00 = madd_f32x4(x, b0, a00);
    a01 = madd_f32x4(x, b1, a01);
    x = wasm_v128_load32_splat(q1 + t);
    a10 = madd_f32x4(x, b0, a10);
    a11 = madd_f32x4(x, b1, a11);
    x = wasm_v128_load32_splat(q2 + t);
    a20 = madd_f32x4(x, b0, a20);
    a21 = madd_f32x4(x, b1, a21);
    x = wasm_v128_load32_splat(q3 + t);
    a30 = madd_f32x4(x, b0, a30);
    a31 = madd_f32x4(x, b1, a31);
  }
  wasm_v128_store(s, a00);
  wasm_v128_store(s + 4, a01);
  wasm_v128_store(s + s_stride, a10);
  wasm_v128_store(s + s_stride + 4, a11);
  wasm_v128_store(s + 2 * s_stride, a20);
  wasm_v128_store(s + 2 * s_stride + 4, a21);
  wasm_v128_store(s + 3 * s_stride, a30);
  wasm_v128_store(s + 3 * s_stride + 4, a31);
}

// Vector version of update_row_scalar over `width` entries (a multiple of 4; padding masked).
GYRE_MICROKERNEL float update_row_simd(bool relu2, bool with_entropy, float* s, int width,
                                       RowState& st) {
  if (relu2) {
    v128_t sum = wasm_f32x4_splat(0);
    const v128_t zero = sum;
    for (int j = 0; j < width; j += 4) {
      const v128_t x = wasm_f32x4_pmax(wasm_v128_load(s + j), zero);
      const v128_t r = wasm_f32x4_mul(x, x);
      wasm_v128_store(s + j, r);
      sum = wasm_f32x4_add(sum, r);
    }
    st.sum += hsum_f32x4(sum);
    if (with_entropy)
      for (int j = 0; j < width; ++j)
        if (s[j] > 0) st.moment += s[j] * std::log(s[j]);
    return 1.0f;
  }
  v128_t vmax = wasm_f32x4_splat(kMaskedLogit);
  for (int j = 0; j < width; j += 4) vmax = wasm_f32x4_pmax(vmax, wasm_v128_load(s + j));
  const float new_max = std::max(st.max, hmax_f32x4(vmax));
  const float alpha = rescale_row(with_entropy, new_max, st);
  const v128_t m = wasm_f32x4_splat(new_max);
  v128_t sum = wasm_f32x4_splat(0), moment = sum;
  for (int j = 0; j < width; j += 4) {
    const v128_t shifted = wasm_f32x4_sub(wasm_v128_load(s + j), m);
    const v128_t p = exp_f32x4(shifted);
    wasm_v128_store(s + j, p);
    sum = wasm_f32x4_add(sum, p);
    if (with_entropy) moment = madd_f32x4(p, shifted, moment);
  }
  st.sum += hsum_f32x4(sum);
  if (with_entropy) st.moment += hsum_f32x4(moment);
  return alpha;
}

// Packs one head's K into panels of 8 keys: panel p holds d rows of 8 floats, keys past the end are
// 0.
void pack_key_panels(const float* k, int k_stride, int num_keys, int d, float* panels) {
  const int num_panels = (num_keys + kPanelKeys - 1) / kPanelKeys;
  for (int p = 0; p < num_panels; ++p) {
    float* panel = panels + static_cast<std::size_t>(p) * d * kPanelKeys;
    for (int c = 0; c < kPanelKeys; ++c) {
      const int j = p * kPanelKeys + c;
      if (j < num_keys) {
        const float* row = k + static_cast<std::size_t>(j) * k_stride;
        for (int t = 0; t < d; ++t) panel[t * kPanelKeys + c] = row[t];
      } else {
        for (int t = 0; t < d; ++t) panel[t * kPanelKeys + c] = 0.0f;
      }
    }
  }
}

// The tiled kernel for one head. Queries go in blocks of kBlockQueries (micro-tiles of 4 rows); for
// each key block of kKeyBlock keys, every micro-tile of the query block that sees some of those
// keys runs QKᵀ, the online-softmax update and P·V on exactly its visible key range (rounded to
// panels). Visiting key blocks in the outer loop keeps one block of packed K and V in cache for all
// the micro-tiles of the query block instead of streaming all keys once per 4 queries.
template <bool kEntropy>
void attend_head_tiled(const AttentionConfig& config, const AttentionShape& shape,
                       const HeadView& h, float* workspace) {
  const int d = h.head_dim, dv = h.value_dim;
  const bool relu2 = config.normaliser == AttentionNormaliser::relu2;
  const float masked = relu2 ? 0.0f : kMaskedLogit;
  float* panels = workspace;
  float* qs = panels + round_up(static_cast<std::size_t>(shape.num_keys), kPanelKeys) * d;
  float* s = qs + static_cast<std::size_t>(kBlockQueries) * d;
  float* o = s + kTileQueries * kKeyBlock;
  pack_key_panels(h.k, h.k_stride, shape.num_keys, d, panels);
  const float* const p_rows[kTileQueries] = {s, s + kKeyBlock, s + 2 * kKeyBlock,
                                             s + 3 * kKeyBlock};
  QueryVisibility vis[kBlockQueries];
  RowState st[kBlockQueries];

  for (int b0 = 0; b0 < shape.num_queries; b0 += kBlockQueries) {
    const int block_rows = std::min(kBlockQueries, shape.num_queries - b0);
    const int padded_rows = static_cast<int>(round_up(block_rows, kTileQueries));
    int first = shape.num_keys, end = 0;
    for (int r = 0; r < padded_rows; ++r) {
      if (r < block_rows) {
        vis[r] = attention_query_visibility(config, shape, b0 + r);
        if (vis[r].end_key > vis[r].first_key) {
          first = std::min(first, vis[r].first_key);
          end = std::max(end, vis[r].end_key);
        }
        scale_query(h.q + static_cast<std::size_t>(b0 + r) * h.q_stride, d, vis[r].logit_factor,
                    qs + static_cast<std::size_t>(r) * d);
      } else {
        vis[r] = QueryVisibility{};
        std::memset(qs + static_cast<std::size_t>(r) * d, 0, sizeof(float) * d);
      }
      detail::row_begin(st[r], o + static_cast<std::size_t>(r) * dv, dv);
    }
    for (int j0 = first / kPanelKeys * kPanelKeys; j0 < end; j0 += kKeyBlock) {
      const int j1 = std::min(j0 + kKeyBlock, end);
      for (int t0 = 0; t0 < padded_rows; t0 += kTileQueries) {
        // The keys of [j0, j1) that some row of this micro-tile sees, from a panel boundary.
        int lo = j1, hi = j0;
        for (int r = t0; r < t0 + kTileQueries; ++r) {
          if (vis[r].end_key <= vis[r].first_key) continue;
          lo = std::min(lo, std::max(vis[r].first_key, j0));
          hi = std::max(hi, std::min(vis[r].end_key, j1));
        }
        if (hi <= lo) continue;
        lo = lo / kPanelKeys * kPanelKeys;
        const int count = hi - lo;
        const int width = static_cast<int>(round_up(count, kPanelKeys));
        const float* q_tile = qs + static_cast<std::size_t>(t0) * d;
        for (int p = 0; p < width; p += kPanelKeys)
          qk_panel(q_tile, d, panels + static_cast<std::size_t>(lo + p) * d, s + p, kKeyBlock);
        float alpha[kTileQueries];
        for (int x = 0; x < kTileQueries; ++x) {
          const int r = t0 + x;
          float* row = s + x * kKeyBlock;
          const int row_lo = std::max(vis[r].first_key - lo, 0);
          const int row_hi = std::min(vis[r].end_key - lo, count);
          if (row_hi <= row_lo) {
            std::memset(row, 0, sizeof(float) * width);
            alpha[x] = 1.0f;
            continue;
          }
          for (int c = 0; c < row_lo; ++c) row[c] = masked;
          for (int c = row_hi; c < width; ++c) row[c] = masked;
          alpha[x] = update_row_simd(relu2, kEntropy, row, width, st[r]);
        }
        float* const o_rows[kTileQueries] = {st[t0].acc, st[t0 + 1].acc, st[t0 + 2].acc,
                                             st[t0 + 3].acc};
        detail::accumulate4(p_rows, count, h.v + static_cast<std::size_t>(lo) * h.v_stride,
                            h.v_stride, dv, alpha, o_rows);
      }
    }
    for (int r = 0; r < block_rows; ++r)
      detail::row_finish(
          relu2, vis[r].divisor, st[r], dv, h.out + static_cast<std::size_t>(b0 + r) * h.out_stride,
          kEntropy ? h.entropy + static_cast<std::size_t>(b0 + r) * h.entropy_stride : nullptr);
  }
}

// Dot products of q with 4 key rows at once, reduced to one vector [s0 s1 s2 s3].
inline v128_t dot4(const float* q, const float* k0, const float* k1, const float* k2,
                   const float* k3, int d) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  int t = 0;
  for (; t + 4 <= d; t += 4) {
    const v128_t x = wasm_v128_load(q + t);
    a0 = madd_f32x4(x, wasm_v128_load(k0 + t), a0);
    a1 = madd_f32x4(x, wasm_v128_load(k1 + t), a1);
    a2 = madd_f32x4(x, wasm_v128_load(k2 + t), a2);
    a3 = madd_f32x4(x, wasm_v128_load(k3 + t), a3);
  }
  v128_t sums = hsum4_f32x4(a0, a1, a2, a3);
  if (t < d) {
    float tail[4] = {0, 0, 0, 0};
    for (; t < d; ++t) {
      tail[0] += q[t] * k0[t];
      tail[1] += q[t] * k1[t];
      tail[2] += q[t] * k2[t];
      tail[3] += q[t] * k3[t];
    }
    sums = wasm_f32x4_add(sums, wasm_v128_load(tail));
  }
  return sums;
}

#endif  // GYRE_SIMD128

}  // namespace

namespace detail {

void row_begin(RowState& state, float* acc, int value_dim) {
  state.max = kMaskedLogit;
  state.sum = 0;
  state.moment = 0;
  state.acc = acc;
  std::memset(acc, 0, sizeof(float) * value_dim);
}

void accumulate4_scalar(const float* const p[4], int count, const float* v, int v_stride, int dv,
                        const float alpha[4], float* const o[4]) {
  for (int r = 0; r < 4; ++r) {
    float* orow = o[r];
    if (alpha[r] != 1.0f)
      for (int c = 0; c < dv; ++c) orow[c] *= alpha[r];
    for (int x = 0; x < count; ++x) {
      const float w = p[r][x];
      if (w == 0.0f) continue;
      const float* vr = v + static_cast<std::size_t>(x) * v_stride;
      for (int c = 0; c < dv; ++c) orow[c] += w * vr[c];
    }
  }
}

GYRE_MICROKERNEL void accumulate4(const float* const p[4], int count, const float* v, int v_stride,
                                  int dv, const float alpha[4], float* const o[4]) {
#if GYRE_SIMD128
  const v128_t al0 = wasm_f32x4_splat(alpha[0]), al1 = wasm_f32x4_splat(alpha[1]);
  const v128_t al2 = wasm_f32x4_splat(alpha[2]), al3 = wasm_f32x4_splat(alpha[3]);
  float* o0 = o[0];
  float* o1 = o[1];
  float* o2 = o[2];
  float* o3 = o[3];
  const float* p0 = p[0];
  const float* p1 = p[1];
  const float* p2 = p[2];
  const float* p3 = p[3];
  int c0 = 0;
  for (; c0 + 8 <= dv; c0 += 8) {
    v128_t a00 = wasm_f32x4_mul(wasm_v128_load(o0 + c0), al0),
           a01 = wasm_f32x4_mul(wasm_v128_load(o0 + c0 + 4), al0);
    v128_t a10 = wasm_f32x4_mul(wasm_v128_load(o1 + c0), al1),
           a11 = wasm_f32x4_mul(wasm_v128_load(o1 + c0 + 4), al1);
    v128_t a20 = wasm_f32x4_mul(wasm_v128_load(o2 + c0), al2),
           a21 = wasm_f32x4_mul(wasm_v128_load(o2 + c0 + 4), al2);
    v128_t a30 = wasm_f32x4_mul(wasm_v128_load(o3 + c0), al3),
           a31 = wasm_f32x4_mul(wasm_v128_load(o3 + c0 + 4), al3);
    const float* vr = v + c0;
    for (int c = 0; c < count; ++c, vr += v_stride) {
      const v128_t b0 = wasm_v128_load(vr), b1 = wasm_v128_load(vr + 4);
      v128_t x = wasm_v128_load32_splat(p0 + c);
      a00 = madd_f32x4(x, b0, a00);
      a01 = madd_f32x4(x, b1, a01);
      x = wasm_v128_load32_splat(p1 + c);
      a10 = madd_f32x4(x, b0, a10);
      a11 = madd_f32x4(x, b1, a11);
      x = wasm_v128_load32_splat(p2 + c);
      a20 = madd_f32x4(x, b0, a20);
      a21 = madd_f32x4(x, b1, a21);
      x = wasm_v128_load32_splat(p3 + c);
      a30 = madd_f32x4(x, b0, a30);
      a31 = madd_f32x4(x, b1, a31);
    }
    wasm_v128_store(o0 + c0, a00);
    wasm_v128_store(o0 + c0 + 4, a01);
    wasm_v128_store(o1 + c0, a10);
    wasm_v128_store(o1 + c0 + 4, a11);
    wasm_v128_store(o2 + c0, a20);
    wasm_v128_store(o2 + c0 + 4, a21);
    wasm_v128_store(o3 + c0, a30);
    wasm_v128_store(o3 + c0 + 4, a31);
  }
  for (; c0 + 4 <= dv; c0 += 4) {
    v128_t a0 = wasm_f32x4_mul(wasm_v128_load(o0 + c0), al0),
           a1 = wasm_f32x4_mul(wasm_v128_load(o1 + c0), al1);
    v128_t a2 = wasm_f32x4_mul(wasm_v128_load(o2 + c0), al2),
           a3 = wasm_f32x4_mul(wasm_v128_load(o3 + c0), al3);
    const float* vr = v + c0;
    for (int c = 0; c < count; ++c, vr += v_stride) {
      const v128_t b = wasm_v128_load(vr);
      a0 = madd_f32x4(wasm_v128_load32_splat(p0 + c), b, a0);
      a1 = madd_f32x4(wasm_v128_load32_splat(p1 + c), b, a1);
      a2 = madd_f32x4(wasm_v128_load32_splat(p2 + c), b, a2);
      a3 = madd_f32x4(wasm_v128_load32_splat(p3 + c), b, a3);
    }
    wasm_v128_store(o0 + c0, a0);
    wasm_v128_store(o1 + c0, a1);
    wasm_v128_store(o2 + c0, a2);
    wasm_v128_store(o3 + c0, a3);
  }
  for (; c0 < dv; ++c0) {
    for (int r = 0; r < 4; ++r) {
      float a = o[r][c0] * alpha[r];
      for (int c = 0; c < count; ++c) a += p[r][c] * v[static_cast<std::size_t>(c) * v_stride + c0];
      o[r][c0] = a;
    }
  }
#else
  accumulate4_scalar(p, count, v, v_stride, dv, alpha, o);
#endif
}

void row_segment_scalar(bool relu2, bool with_entropy, const float* q_scaled, int head_dim,
                        const float* k, int k_stride, const float* v, int v_stride, int value_dim,
                        int count, RowState& state, float* scores) {
  for (int j0 = 0; j0 < count; j0 += kKeyBlock) {
    const int n = std::min(kKeyBlock, count - j0);
    for (int j = 0; j < n; ++j) {
      const float* kr = k + static_cast<std::size_t>(j0 + j) * k_stride;
      float dot = 0;
      for (int t = 0; t < head_dim; ++t) dot += q_scaled[t] * kr[t];
      scores[j] = dot;
    }
    const float alpha = update_row_scalar(relu2, with_entropy, scores, n, state);
    if (alpha != 1.0f)
      for (int c = 0; c < value_dim; ++c) state.acc[c] *= alpha;
    for (int j = 0; j < n; ++j) {
      const float p = scores[j];
      if (p == 0.0f) continue;
      const float* vr = v + static_cast<std::size_t>(j0 + j) * v_stride;
      for (int c = 0; c < value_dim; ++c) state.acc[c] += p * vr[c];
    }
  }
}

void row_segment(bool relu2, bool with_entropy, const float* q_scaled, int head_dim, const float* k,
                 int k_stride, const float* v, int v_stride, int value_dim, int count,
                 RowState& state, float* scores) {
#if GYRE_SIMD128
  for (int j0 = 0; j0 < count; j0 += kKeyBlock) {
    const int n = std::min(kKeyBlock, count - j0);
    const int width = static_cast<int>(round_up(n, 4));
    const float* kb = k + static_cast<std::size_t>(j0) * k_stride;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
      const float* k0 = kb + static_cast<std::size_t>(j) * k_stride;
      wasm_v128_store(scores + j, dot4(q_scaled, k0, k0 + k_stride, k0 + 2 * k_stride,
                                       k0 + 3 * k_stride, head_dim));
    }
    if (j < n) {
      // The last 1–3 keys: repeat the last row for the missing lanes, then mask them.
      const float* rows[4];
      for (int x = 0; x < 4; ++x)
        rows[x] = kb + static_cast<std::size_t>(std::min(j + x, n - 1)) * k_stride;
      wasm_v128_store(scores + j, dot4(q_scaled, rows[0], rows[1], rows[2], rows[3], head_dim));
      for (int x = n; x < width; ++x) scores[x] = relu2 ? 0.0f : kMaskedLogit;
    }
    const float alpha = update_row_simd(relu2, with_entropy, scores, width, state);
    const v128_t va = wasm_f32x4_splat(alpha);
    const float* vb = v + static_cast<std::size_t>(j0) * v_stride;
    int c0 = 0;
    for (; c0 + 16 <= value_dim; c0 += 16) {
      float* a = state.acc + c0;
      v128_t a0 = wasm_f32x4_mul(wasm_v128_load(a), va),
             a1 = wasm_f32x4_mul(wasm_v128_load(a + 4), va);
      v128_t a2 = wasm_f32x4_mul(wasm_v128_load(a + 8), va),
             a3 = wasm_f32x4_mul(wasm_v128_load(a + 12), va);
      const float* vr = vb + c0;
      for (int x = 0; x < n; ++x, vr += v_stride) {
        const v128_t p = wasm_v128_load32_splat(scores + x);
        a0 = madd_f32x4(p, wasm_v128_load(vr), a0);
        a1 = madd_f32x4(p, wasm_v128_load(vr + 4), a1);
        a2 = madd_f32x4(p, wasm_v128_load(vr + 8), a2);
        a3 = madd_f32x4(p, wasm_v128_load(vr + 12), a3);
      }
      wasm_v128_store(a, a0);
      wasm_v128_store(a + 4, a1);
      wasm_v128_store(a + 8, a2);
      wasm_v128_store(a + 12, a3);
    }
    for (; c0 + 4 <= value_dim; c0 += 4) {
      v128_t a0 = wasm_f32x4_mul(wasm_v128_load(state.acc + c0), va);
      const float* vr = vb + c0;
      for (int x = 0; x < n; ++x, vr += v_stride)
        a0 = madd_f32x4(wasm_v128_load32_splat(scores + x), wasm_v128_load(vr), a0);
      wasm_v128_store(state.acc + c0, a0);
    }
    for (; c0 < value_dim; ++c0) {
      float a = state.acc[c0] * alpha;
      for (int x = 0; x < n; ++x) a += scores[x] * vb[static_cast<std::size_t>(x) * v_stride + c0];
      state.acc[c0] = a;
    }
  }
#else
  row_segment_scalar(relu2, with_entropy, q_scaled, head_dim, k, k_stride, v, v_stride, value_dim,
                     count, state, scores);
#endif
}

void row_finish(bool relu2, float divisor, const RowState& state, int value_dim, float* out,
                float* entropy) {
  const float norm = relu2 ? divisor : state.sum;
  const float inv = state.sum > 0 && norm > 0 ? 1.0f / norm : 0.0f;
  for (int c = 0; c < value_dim; ++c) out[c] = state.acc[c] * inv;
  if (entropy) {
    // softmax: H = log Σe − Σ e·(s − max) / Σe;  relu2 (renormalised): H = log R − Σ r log r / R.
    *entropy =
        state.sum > 0 ? std::max(0.0f, std::log(state.sum) - state.moment / state.sum) : 0.0f;
  }
}

}  // namespace detail

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
