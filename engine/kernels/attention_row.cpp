// The row kernel: one query's online softmax (or relu²) over a range of keys, in blocks of
// kKeyBlock, SIMD128 with its scalar reference beside it. attention.cpp runs it for calls of fewer
// queries than a tile and in the scalar build; kv_cache.cpp feeds it the two segments of a ring
// buffer; the tiled kernel (attention_tiled.cpp) shares its block update and its 4-row P·V.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/attention_row.h"
#include "kernels/simd_math.h"

namespace gyre::kernels::detail {

namespace {

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

#if GYRE_SIMD128

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

#endif  // GYRE_SIMD128

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

}  // namespace gyre::kernels::detail
