#include "kernels/vecmath.h"

#include <cmath>
#include <initializer_list>
#include <string>

#include "kernels/simd_math.h"

namespace gyre::kernels {
namespace {

std::size_t idx(int row, int stride) {
  return static_cast<std::size_t>(row) * static_cast<std::size_t>(stride);
}

// ---------------------------------------------------------------------------------------------
// Row primitives. kSimd selects the SIMD128 body; the scalar body is the twin.

template <bool kSimd, typename VecOp, typename ScalarOp>
void map_unary(const float* x, float* y, int n, VecOp vec_op, ScalarOp scalar_op) {
  int i = 0;
#if GYRE_SIMD128
  if constexpr (kSimd) {
    for (; i + 8 <= n; i += 8) {
      const v128_t a = wasm_v128_load(x + i);
      const v128_t b = wasm_v128_load(x + i + 4);
      wasm_v128_store(y + i, vec_op(a));
      wasm_v128_store(y + i + 4, vec_op(b));
    }
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, vec_op(wasm_v128_load(x + i)));
  }
#else
  (void)vec_op;
#endif
  for (; i < n; ++i) y[i] = scalar_op(x[i]);
}

template <bool kSimd, typename VecOp, typename ScalarOp>
void map_binary(const float* a, const float* b, float* y, int n, VecOp vec_op, ScalarOp scalar_op) {
  int i = 0;
#if GYRE_SIMD128
  if constexpr (kSimd) {
    for (; i + 4 <= n; i += 4)
      wasm_v128_store(y + i, vec_op(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  }
#else
  (void)vec_op;
#endif
  for (; i < n; ++i) y[i] = scalar_op(a[i], b[i]);
}

template <bool kSimd>
float row_max(const float* x, int n) {
  float m = -__builtin_inff();
  int i = 0;
#if GYRE_SIMD128
  if constexpr (kSimd) {
    if (n >= 16) {
      // Four independent chains, so the loop runs at the load rate rather than pmax's latency.
      v128_t m0 = wasm_v128_load(x), m1 = wasm_v128_load(x + 4), m2 = wasm_v128_load(x + 8),
             m3 = wasm_v128_load(x + 12);
      for (i = 16; i + 16 <= n; i += 16) {
        m0 = wasm_f32x4_pmax(m0, wasm_v128_load(x + i));
        m1 = wasm_f32x4_pmax(m1, wasm_v128_load(x + i + 4));
        m2 = wasm_f32x4_pmax(m2, wasm_v128_load(x + i + 8));
        m3 = wasm_f32x4_pmax(m3, wasm_v128_load(x + i + 12));
      }
      m = hmax_f32x4(wasm_f32x4_pmax(wasm_f32x4_pmax(m0, m1), wasm_f32x4_pmax(m2, m3)));
    }
  }
#endif
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// y = exp(x − shift), returns Σ y. shift is the row max, so every argument is <= 0.
float exp_shifted_store_sum_scalar(const float* x, float* y, int n, float shift) {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    y[i] = exp_nonpositive_scalar(x[i] - shift);
    sum += y[i];
  }
  return sum;
}

#if GYRE_SIMD128
// One step of the SIMD softmax, which pipelines its three passes across rows: y = exp(x − shift)
// (shift = this row's max; the sum is returned) in the same loop as the max of the next row
// (into *next_max) and the normalisation of the previous one (prev *= prev_scale, its sum being
// known by now). The exponentials keep the multiply ports busy; the other two passes' loads,
// maxes and stores fill the slack, so the row costs little more than its exponentials.
template <bool kScalePrev>
float softmax_row_simd128(const float* x, float* y, int n, float shift, const float* next,
                          float* next_max, float* prev, float prev_scale) {
  const v128_t s = wasm_f32x4_splat(shift);
  const v128_t ps = wasm_f32x4_splat(prev_scale);
  v128_t sums = wasm_f32x4_splat(0.0f);
  v128_t maxes = wasm_f32x4_splat(-__builtin_inff());
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t e = exp_nonpositive_f32x4(wasm_f32x4_sub(wasm_v128_load(x + i), s));
    maxes = wasm_f32x4_pmax(maxes, wasm_v128_load(next + i));
    if constexpr (kScalePrev)
      wasm_v128_store(prev + i, wasm_f32x4_mul(wasm_v128_load(prev + i), ps));
    wasm_v128_store(y + i, e);
    sums = wasm_f32x4_add(sums, e);
  }
  float sum = hsum_f32x4(sums);
  float max = hmax_f32x4(maxes);
  for (; i < n; ++i) {
    max = next[i] > max ? next[i] : max;
    if constexpr (kScalePrev) prev[i] *= prev_scale;
    y[i] = exp_nonpositive_scalar(x[i] - shift);
    sum += y[i];
  }
  *next_max = max;
  return sum;
}
#endif

template <bool kSimd>
void scale_row(float* y, int n, float scale) {
  int i = 0;
#if GYRE_SIMD128
  if constexpr (kSimd) {
    const v128_t s = wasm_f32x4_splat(scale);
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(y + i), s));
  }
#endif
  for (; i < n; ++i) y[i] *= scale;
}

// Σ x and Σ (x − center)²: 2×4 float lanes in SIMD, double in the scalar twin.
template <bool kSimd>
double row_sum(const float* x, int n) {
  double sum = 0.0;
  int i = 0;
#if GYRE_SIMD128
  if constexpr (kSimd) {
    v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0;
    for (; i + 8 <= n; i += 8) {
      s0 = wasm_f32x4_add(s0, wasm_v128_load(x + i));
      s1 = wasm_f32x4_add(s1, wasm_v128_load(x + i + 4));
    }
    sum = hsum_f32x4(wasm_f32x4_add(s0, s1));
  }
#endif
  for (; i < n; ++i) sum += x[i];
  return sum;
}

template <bool kSimd>
double row_sum_sq_dev(const float* x, int n, float center) {
  double sum = 0.0;
  int i = 0;
#if GYRE_SIMD128
  if constexpr (kSimd) {
    const v128_t c = wasm_f32x4_splat(center);
    v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0;
    for (; i + 8 <= n; i += 8) {
      const v128_t d0 = wasm_f32x4_sub(wasm_v128_load(x + i), c);
      const v128_t d1 = wasm_f32x4_sub(wasm_v128_load(x + i + 4), c);
      s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(d0, d0));
      s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(d1, d1));
    }
    sum = hsum_f32x4(wasm_f32x4_add(s0, s1));
  }
#endif
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - center;
    sum += d * d;
  }
  return sum;
}

// y = (x − center) · scale · gain[i] + bias[i]  (gain, bias may be null).
template <bool kSimd>
void normalize_row(const float* x, float* y, int n, float center, float scale, const float* gain,
                   const float* bias) {
  int i = 0;
#if GYRE_SIMD128
  if constexpr (kSimd) {
    const v128_t c = wasm_f32x4_splat(center), s = wasm_f32x4_splat(scale);
    for (; i + 4 <= n; i += 4) {
      v128_t v = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + i), c), s);
      if (gain) v = wasm_f32x4_mul(v, wasm_v128_load(gain + i));
      if (bias) v = wasm_f32x4_add(v, wasm_v128_load(bias + i));
      wasm_v128_store(y + i, v);
    }
  }
#endif
  for (; i < n; ++i) {
    float v = (x[i] - center) * scale;
    if (gain) v *= gain[i];
    if (bias) v += bias[i];
    y[i] = v;
  }
}

// y = x·a + b.
template <bool kSimd>
void affine_row(const float* x, float* y, int n, float a, float b) {
  int i = 0;
#if GYRE_SIMD128
  if constexpr (kSimd) {
    const v128_t va = wasm_f32x4_splat(a), vb = wasm_f32x4_splat(b);
    for (; i + 4 <= n; i += 4)
      wasm_v128_store(y + i, wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(x + i), va), vb));
  }
#endif
  for (; i < n; ++i) y[i] = x[i] * a + b;
}

// Per-channel sums over pixels of an NHWC image: sum[c] += x[p][c] − center[c] (squared when
// `square`); SIMD across channels.
template <bool kSimd>
void channel_sums(const float* x, int channels, int pixels, const float* center, bool square,
                  float* sum) {
  for (int p = 0; p < pixels; ++p) {
    const float* row = x + idx(p, channels);
    int c = 0;
#if GYRE_SIMD128
    if constexpr (kSimd) {
      for (; c + 4 <= channels; c += 4) {
        v128_t d = wasm_f32x4_sub(wasm_v128_load(row + c), wasm_v128_load(center + c));
        if (square) d = wasm_f32x4_mul(d, d);
        wasm_v128_store(sum + c, wasm_f32x4_add(wasm_v128_load(sum + c), d));
      }
    }
#endif
    for (; c < channels; ++c) {
      const float d = row[c] - center[c];
      sum[c] += square ? d * d : d;
    }
  }
}

// y[p][c] = x[p][c]·a[c] + b[c].
template <bool kSimd>
void channel_affine(const float* x, float* y, int channels, int pixels, const float* a,
                    const float* b) {
  for (int p = 0; p < pixels; ++p) {
    const float* in = x + idx(p, channels);
    float* out = y + idx(p, channels);
    int c = 0;
#if GYRE_SIMD128
    if constexpr (kSimd) {
      for (; c + 4 <= channels; c += 4)
        wasm_v128_store(
            out + c, wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(in + c), wasm_v128_load(a + c)),
                                    wasm_v128_load(b + c)));
    }
#endif
    for (; c < channels; ++c) out[c] = in[c] * a[c] + b[c];
  }
}

// ---------------------------------------------------------------------------------------------
// Validation.

Status bad(const char* fn, const std::string& what) {
  return {ErrorCode::kBadArgument, std::string(fn) + ": " + what};
}

Status check_n(const char* fn, int n, std::initializer_list<const void*> buffers) {
  if (n < 0) return bad(fn, "negative count " + std::to_string(n));
  if (n > 0)
    for (const void* p : buffers)
      if (!p) return bad(fn, "null buffer");
  return Status::ok();
}

Status check_rows(const char* fn, const float* x, const float* y, int rows, int cols, int stride) {
  if (rows < 0 || cols < 0)
    return bad(fn, "negative size rows=" + std::to_string(rows) + " cols=" + std::to_string(cols));
  if (rows > 0 && cols > 0) {
    if (!x || !y) return bad(fn, "null buffer");
    if (stride < cols)
      return bad(
          fn, "stride=" + std::to_string(stride) + " is smaller than cols=" + std::to_string(cols));
  }
  return Status::ok();
}

Status check_eps(const char* fn, float eps) {
  if (!(eps >= 0.0f) || std::isinf(eps)) return bad(fn, "eps must be finite and >= 0");
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// Implementations shared by the public functions and their scalar twins.

#if GYRE_SIMD128
v128_t relu_f32x4(v128_t x) {
  return wasm_f32x4_pmax(x, wasm_f32x4_splat(0.0f));
}
#define GYRE_VEC(op) [](v128_t v) { return op(v); }
#else
#define GYRE_VEC(op) nullptr
#endif

float relu_scalar(float x) {
  return x > 0.0f ? x : 0.0f;
}

template <bool kSimd>
Status softmax_rows_impl(const char* fn, const float* x, float* y, int rows, int cols, int stride) {
  Status s = check_rows(fn, x, y, rows, cols, stride);
  if (!s.is_ok()) return s;
  if (rows == 0 || cols == 0) return Status::ok();
#if GYRE_SIMD128
  if constexpr (kSimd) {
    // Row r's loop reads rows r and r + 1 of x and writes rows r − 1 and r of y, so y may be x.
    float max = row_max<true>(x, cols);
    float prev_scale = 1.0f;
    for (int r = 0; r < rows; ++r) {
      const float* xr = x + idx(r, stride);
      float* yr = y + idx(r, stride);
      const float* next = x + idx(r + 1 < rows ? r + 1 : r, stride);
      float next_max = 0.0f;
      const float sum =
          r == 0 ? softmax_row_simd128<false>(xr, yr, cols, max, next, &next_max, nullptr, 0.0f)
                 : softmax_row_simd128<true>(xr, yr, cols, max, next, &next_max,
                                             y + idx(r - 1, stride), prev_scale);
      prev_scale = 1.0f / sum;
      max = next_max;
    }
    scale_row<true>(y + idx(rows - 1, stride), cols, prev_scale);
    return Status::ok();
  }
#endif
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + idx(r, stride);
    float* yr = y + idx(r, stride);
    const float sum = exp_shifted_store_sum_scalar(xr, yr, cols, row_max<false>(xr, cols));
    scale_row<false>(yr, cols, 1.0f / sum);
  }
  return Status::ok();
}

template <bool kSimd>
Status rms_norm_impl(const char* fn, const float* x, float* y, int rows, int cols, int stride,
                     const float* gain, float eps) {
  Status s = check_rows(fn, x, y, rows, cols, stride);
  if (s.is_ok()) s = check_eps(fn, eps);
  if (!s.is_ok()) return s;
  for (int r = 0; r < rows && cols > 0; ++r) {
    const float* xr = x + idx(r, stride);
    const double mean_sq = row_sum_sq_dev<kSimd>(xr, cols, 0.0f) / cols;
    const float scale = static_cast<float>(1.0 / std::sqrt(mean_sq + eps));
    normalize_row<kSimd>(xr, y + idx(r, stride), cols, 0.0f, scale, gain, nullptr);
  }
  return Status::ok();
}

template <bool kSimd>
Status layer_norm_impl(const char* fn, const float* x, float* y, int rows, int cols, int stride,
                       const float* gamma, const float* beta, float eps) {
  Status s = check_rows(fn, x, y, rows, cols, stride);
  if (s.is_ok()) s = check_eps(fn, eps);
  if (!s.is_ok()) return s;
  for (int r = 0; r < rows && cols > 0; ++r) {
    const float* xr = x + idx(r, stride);
    const float mean = static_cast<float>(row_sum<kSimd>(xr, cols) / cols);
    const double var = row_sum_sq_dev<kSimd>(xr, cols, mean) / cols;
    const float scale = static_cast<float>(1.0 / std::sqrt(var + eps));
    normalize_row<kSimd>(xr, y + idx(r, stride), cols, mean, scale, gamma, beta);
  }
  return Status::ok();
}

// Channels up to which a channels-last GroupNorm keeps per-channel statistics on the stack.
constexpr int kGroupNormSweepChannels = 1024;

template <bool kSimd>
Status group_norm_impl(const char* fn, const float* x, float* y, int channels, int pixels,
                       int groups, const float* gamma, const float* beta, float eps,
                       GroupNormLayout layout) {
  if (channels < 0 || pixels < 0) return bad(fn, "negative size");
  if (groups <= 0 || channels % groups != 0)
    return bad(fn, "groups=" + std::to_string(groups) +
                       " must be positive and divide channels=" + std::to_string(channels));
  if (layout != GroupNormLayout::channels_first && layout != GroupNormLayout::channels_last)
    return bad(fn, "unknown layout");
  Status s = check_eps(fn, eps);
  if (!s.is_ok()) return s;
  if (channels == 0 || pixels == 0) return Status::ok();
  if (!x || !y) return bad(fn, "null buffer");
  const int per_group = channels / groups;
  const double count = static_cast<double>(per_group) * pixels;
  if (layout == GroupNormLayout::channels_last && channels <= kGroupNormSweepChannels) {
    // Three sweeps over the image, SIMD across channels: per-channel sums, per-channel squared
    // deviations from the group mean, then y = x·a[c] + b[c]. Float sums per channel (each over
    // `pixels` values), combined per group in double.
    alignas(16) float center[kGroupNormSweepChannels] = {}, sum[kGroupNormSweepChannels] = {};
    alignas(16) float a[kGroupNormSweepChannels], b[kGroupNormSweepChannels];
    const auto group_mean = [&](int g) {
      double total = 0.0;
      for (int c = g * per_group; c < (g + 1) * per_group; ++c) total += sum[c];
      return total / count;
    };
    channel_sums<kSimd>(x, channels, pixels, center, false, sum);
    for (int g = 0; g < groups; ++g) {
      const float mean = static_cast<float>(group_mean(g));
      for (int c = g * per_group; c < (g + 1) * per_group; ++c) {
        center[c] = mean;
        sum[c] = 0.0f;
      }
    }
    channel_sums<kSimd>(x, channels, pixels, center, true, sum);
    for (int g = 0; g < groups; ++g) {
      const float scale = static_cast<float>(1.0 / std::sqrt(group_mean(g) + eps));
      for (int c = g * per_group; c < (g + 1) * per_group; ++c) {
        a[c] = scale * (gamma ? gamma[c] : 1.0f);
        b[c] = (beta ? beta[c] : 0.0f) - center[c] * a[c];
      }
    }
    channel_affine<kSimd>(x, y, channels, pixels, a, b);
    return Status::ok();
  }
  for (int g = 0; g < groups; ++g) {
    const int c0 = g * per_group;
    if (layout == GroupNormLayout::channels_first) {
      // The group is one contiguous block of per_group·pixels values.
      const float* xg = x + idx(c0, pixels);
      const int n = per_group * pixels;
      const float mean = static_cast<float>(row_sum<kSimd>(xg, n) / count);
      const float scale =
          static_cast<float>(1.0 / std::sqrt(row_sum_sq_dev<kSimd>(xg, n, mean) / count + eps));
      for (int c = c0; c < c0 + per_group; ++c) {
        // Per channel: y = x·a + b with a = scale·gamma[c], b = beta[c] − mean·a.
        const float a = scale * (gamma ? gamma[c] : 1.0f);
        affine_row<kSimd>(x + idx(c, pixels), y + idx(c, pixels), pixels, a,
                          (beta ? beta[c] : 0.0f) - mean * a);
      }
    } else {
      // The group is per_group consecutive channels of every pixel.
      double sum = 0.0;
      for (int p = 0; p < pixels; ++p) sum += row_sum<kSimd>(x + idx(p, channels) + c0, per_group);
      const float mean = static_cast<float>(sum / count);
      double sq = 0.0;
      for (int p = 0; p < pixels; ++p)
        sq += row_sum_sq_dev<kSimd>(x + idx(p, channels) + c0, per_group, mean);
      const float scale = static_cast<float>(1.0 / std::sqrt(sq / count + eps));
      for (int p = 0; p < pixels; ++p)
        normalize_row<kSimd>(x + idx(p, channels) + c0, y + idx(p, channels) + c0, per_group, mean,
                             scale, gamma ? gamma + c0 : nullptr, beta ? beta + c0 : nullptr);
    }
  }
  return Status::ok();
}

constexpr bool kUseSimd = GYRE_SIMD128 != 0;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public entry points and their scalar twins.

#define GYRE_UNARY(name, vec_op, scalar_op)                                                 \
  Status name(const float* x, float* y, int n) {                                            \
    Status s = check_n(#name, n, {x, y});                                                   \
    if (s.is_ok())                                                                          \
      map_unary<kUseSimd>(x, y, n, GYRE_VEC(vec_op), [](float v) { return scalar_op(v); }); \
    return s;                                                                               \
  }                                                                                         \
  Status name##_scalar(const float* x, float* y, int n) {                                   \
    Status s = check_n(#name "_scalar", n, {x, y});                                         \
    if (s.is_ok())                                                                          \
      map_unary<false>(x, y, n, GYRE_VEC(vec_op), [](float v) { return scalar_op(v); });    \
    return s;                                                                               \
  }

GYRE_UNARY(vec_exp, exp_f32x4, exp_scalar)
GYRE_UNARY(vec_sigmoid, sigmoid_f32x4, sigmoid_scalar)
GYRE_UNARY(vec_silu, silu_f32x4, silu_scalar)
GYRE_UNARY(vec_gelu, gelu_f32x4, gelu_scalar)
GYRE_UNARY(vec_relu, relu_f32x4, relu_scalar)

#if GYRE_SIMD128
#define GYRE_BINARY_VEC(op) [](v128_t u, v128_t v) { return op(u, v); }
#else
#define GYRE_BINARY_VEC(op) nullptr
#endif

#define GYRE_BINARY(name, vec_op, expr)                                   \
  Status name(const float* a, const float* b, float* y, int n) {          \
    Status s = check_n(#name, n, {a, b, y});                              \
    if (s.is_ok())                                                        \
      map_binary<kUseSimd>(a, b, y, n, GYRE_BINARY_VEC(vec_op),           \
                           [](float p, float q) { return expr; });        \
    return s;                                                             \
  }                                                                       \
  Status name##_scalar(const float* a, const float* b, float* y, int n) { \
    Status s = check_n(#name "_scalar", n, {a, b, y});                    \
    if (s.is_ok())                                                        \
      map_binary<false>(a, b, y, n, GYRE_BINARY_VEC(vec_op),              \
                        [](float p, float q) { return expr; });           \
    return s;                                                             \
  }

GYRE_BINARY(vec_add, wasm_f32x4_add, p + q)
GYRE_BINARY(vec_mul, wasm_f32x4_mul, p* q)

Status softmax_rows(const float* x, float* y, int rows, int cols, int stride) {
  return softmax_rows_impl<kUseSimd>("softmax_rows", x, y, rows, cols, stride);
}
Status softmax_rows_scalar(const float* x, float* y, int rows, int cols, int stride) {
  return softmax_rows_impl<false>("softmax_rows_scalar", x, y, rows, cols, stride);
}

Status rms_norm(const float* x, float* y, int rows, int cols, int stride, const float* gain,
                float eps) {
  return rms_norm_impl<kUseSimd>("rms_norm", x, y, rows, cols, stride, gain, eps);
}
Status rms_norm_scalar(const float* x, float* y, int rows, int cols, int stride, const float* gain,
                       float eps) {
  return rms_norm_impl<false>("rms_norm_scalar", x, y, rows, cols, stride, gain, eps);
}

Status layer_norm(const float* x, float* y, int rows, int cols, int stride, const float* gamma,
                  const float* beta, float eps) {
  return layer_norm_impl<kUseSimd>("layer_norm", x, y, rows, cols, stride, gamma, beta, eps);
}
Status layer_norm_scalar(const float* x, float* y, int rows, int cols, int stride,
                         const float* gamma, const float* beta, float eps) {
  return layer_norm_impl<false>("layer_norm_scalar", x, y, rows, cols, stride, gamma, beta, eps);
}

Status group_norm(const float* x, float* y, int channels, int pixels, int groups,
                  const float* gamma, const float* beta, float eps, GroupNormLayout layout) {
  return group_norm_impl<kUseSimd>("group_norm", x, y, channels, pixels, groups, gamma, beta, eps,
                                   layout);
}
Status group_norm_scalar(const float* x, float* y, int channels, int pixels, int groups,
                         const float* gamma, const float* beta, float eps, GroupNormLayout layout) {
  return group_norm_impl<false>("group_norm_scalar", x, y, channels, pixels, groups, gamma, beta,
                                eps, layout);
}

}  // namespace gyre::kernels
