// Resampling NHWC images by a factor of two (the U-Net's way down and up), x [batch, side, side,
// channels] row-major:
//   avg_pool_2x2          y[b, i, j, c] = (x[b, 2i, 2j, c] + x[b, 2i, 2j+1, c]
//                                          + x[b, 2i+1, 2j, c] + x[b, 2i+1, 2j+1, c]) · 1/4
//                         y is [batch, side/2, side/2, channels]; side must be even.
//   upsample_nearest_2x   y[b, i, j, c] = x[b, ⌊i/2⌋, ⌊j/2⌋, c]
//                         y is [batch, 2·side, 2·side, channels].
// avg_pool_2x2 has a SIMD128 body (four channels at a time) and a `_scalar` twin that adds in the
// same order, so both give the same bits; upsampling only copies rows of channels.
//
// Errors: BAD_ARGUMENT for a negative size, an odd side (pooling), a null buffer when there is
// work, or a size whose output cannot be indexed. On error nothing is written. y must not overlap x.
#pragma once

#include "core/status.h"

namespace gyre::kernels {

Status avg_pool_2x2(const float* x, float* y, int batch, int side, int channels);
Status upsample_nearest_2x(const float* x, float* y, int batch, int side, int channels);

// Scalar twin (always compiled; the scalar wasm build runs it).
Status avg_pool_2x2_scalar(const float* x, float* y, int batch, int side, int channels);

}  // namespace gyre::kernels
