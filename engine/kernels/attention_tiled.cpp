// The tiled SIMD128 kernel: one head's attention for calls of kTileQueries queries or more, 4×8
// register-blocked Q·Kᵀ on packed key panels, the row kernel's online update, 4-row P·V.
#include "kernels/attention_tiled.h"

#include <algorithm>
#include <cstring>

#include "kernels/attention_row.h"
#include "kernels/simd_math.h"

namespace gyre::kernels::detail {

#if GYRE_SIMD128

namespace {

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

}  // namespace

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

template void attend_head_tiled<true>(const AttentionConfig&, const AttentionShape&,
                                      const HeadView&, float*);
template void attend_head_tiled<false>(const AttentionConfig&, const AttentionShape&,
                                       const HeadView&, float*);

#endif  // GYRE_SIMD128

}  // namespace gyre::kernels::detail
