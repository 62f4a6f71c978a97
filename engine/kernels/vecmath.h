// Vector math on f32 buffers: elementwise activations, add/mul, row softmax and the norms.
//
// Each function has a SIMD128 body and a `_scalar` twin that computes the same thing with the
// same polynomials (kernels/simd_math.h); the public name runs the SIMD body in SIMD builds and
// the twin in the scalar build. Output may alias input (in place) wherever a function reads an
// element before writing it: every function here allows y == x exactly (not partial overlap).
//
// Errors: BAD_ARGUMENT for a negative count, a null buffer when there is work, a stride smaller
// than its row, a group count that does not divide the channels, a non-finite or negative eps.
// On error nothing is written.
#pragma once

#include <cstdint>

#include "core/status.h"

namespace gyre::kernels {

// Elementwise y[i] = f(x[i]) for i < n.
Status vec_exp(const float* x, float* y, int n);  // rel. error <= 2e-7; see simd_math.h limits
Status vec_sigmoid(const float* x, float* y, int n);
Status vec_silu(const float* x, float* y, int n);  // x·sigmoid(x) (Swish)
Status vec_gelu(const float* x, float* y, int n);  // exact erf GELU (abs. error <= 5e-7)
Status vec_relu(const float* x, float* y, int n);
// Elementwise y[i] = a[i] + b[i], a[i]·b[i].
Status vec_add(const float* a, const float* b, float* y, int n);
Status vec_mul(const float* a, const float* b, float* y, int n);

// Row softmax, max-subtracted: y[r, :] = exp(x[r, :] − max) / Σ exp(x[r, :] − max), rows of
// `cols` floats, `stride` floats apart (x and y share the stride). y may be x (in place);
// otherwise the two must not overlap. A row of −inf gives NaN, as in PyTorch; −inf entries in a
// finite row give exactly 0.
Status softmax_rows(const float* x, float* y, int rows, int cols, int stride);

// RMSNorm: y = x / sqrt(mean(x²) + eps) · gain (gain may be null: no scale, as RoFormerV2 and
// GAU-α use). Rows of `cols` floats, `stride` apart.
Status rms_norm(const float* x, float* y, int rows, int cols, int stride, const float* gain,
                float eps);
// LayerNorm over each row: y = (x − mean) / sqrt(var + eps) · gamma + beta (either may be null).
Status layer_norm(const float* x, float* y, int rows, int cols, int stride, const float* gamma,
                  const float* beta, float eps);

// GroupNorm over one image of `channels` × `pixels` values, per group of channels/groups
// consecutive channels, then per-channel gamma, beta (either may be null).
//   channels_first: x[c · pixels + p] (NCHW, one image);  channels_last: x[p · channels + c] (HWC).
// groups == channels is InstanceNorm.
enum class GroupNormLayout : std::uint8_t { channels_first, channels_last };
Status group_norm(const float* x, float* y, int channels, int pixels, int groups,
                  const float* gamma, const float* beta, float eps,
                  GroupNormLayout layout = GroupNormLayout::channels_first);

// Scalar twins (always compiled; the scalar wasm build runs them).
Status vec_exp_scalar(const float* x, float* y, int n);
Status vec_sigmoid_scalar(const float* x, float* y, int n);
Status vec_silu_scalar(const float* x, float* y, int n);
Status vec_gelu_scalar(const float* x, float* y, int n);
Status vec_relu_scalar(const float* x, float* y, int n);
Status vec_add_scalar(const float* a, const float* b, float* y, int n);
Status vec_mul_scalar(const float* a, const float* b, float* y, int n);
Status softmax_rows_scalar(const float* x, float* y, int rows, int cols, int stride);
Status rms_norm_scalar(const float* x, float* y, int rows, int cols, int stride, const float* gain,
                       float eps);
Status layer_norm_scalar(const float* x, float* y, int rows, int cols, int stride,
                         const float* gamma, const float* beta, float eps);
Status group_norm_scalar(const float* x, float* y, int channels, int pixels, int groups,
                         const float* gamma, const float* beta, float eps,
                         GroupNormLayout layout = GroupNormLayout::channels_first);

}  // namespace gyre::kernels
