// 3×3 convolution, stride 1, zero padding 1, no bias, on NHWC images, by Winograd's minimal
// filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
//
// Every 2×2 block of outputs (a tile) comes from the 4×4 input patch around it:
//   V = Bᵀ d B      per tile and input channel (16 values: the input transform)
//   M_ξ = V_ξ · U_ξ for each of the 16 positions ξ: one GEMM [tiles × C_in]·[C_in × C_out]
//   Y = Aᵀ M A      per tile and output channel (2×2 outputs), then the activation
// with U = G g Gᵀ the weights transformed once, at load. The GEMMs do 16·C_in·C_out multiply-adds
// per tile where im2col does 4·9·C_in·C_out: 2.25× fewer, the point of the exercise. Float error
// stays within a few ulp of the direct sum for F(2×2, 3×3) (its transforms hold only 0, ±1, ±½).
// Tiles are processed in chunks whose transformed inputs and products stay in L2.
#pragma once

#include <cstddef>

#include "core/status.h"
#include "kernels/gemm.h"

namespace gyre::kernels {

struct Conv3x3Shape {
  int batch = 0, height = 0, width = 0;
  int in_channels = 0, out_channels = 0;
};

// Floats of the transformed, packed weights: 16 packed [C_in × C_out] matrices.
std::size_t conv3x3_winograd_packed_size(int in_channels, int out_channels);

// weight: PyTorch's Conv2d layout [out][in][3][3]. Writes conv3x3_winograd_packed_size floats.
Status conv3x3_winograd_pack(const float* weight, int in_channels, int out_channels, float* packed);

// Floats of scratch conv3x3_winograd needs for this shape (independent of the batch and image size
// beyond the first tile chunk).
std::size_t conv3x3_winograd_scratch_floats(const Conv3x3Shape& shape);

// y [batch, height, width, out_channels] = act(conv(x [batch, height, width, in_channels])).
// BAD_ARGUMENT for non-positive sizes or null buffers (nothing written); x and y must not overlap.
Status conv3x3_winograd(const Conv3x3Shape& shape, const float* x, const float* packed, float* y,
                        Activation activation, float* scratch);

// Scalar twin: the same transforms and chunks, scalar loops and gemm_packed_scalar.
Status conv3x3_winograd_scalar(const Conv3x3Shape& shape, const float* x, const float* packed,
                               float* y, Activation activation, float* scratch);

// The direct 9-tap sum in double precision from the PyTorch weight layout: the oracle for tests.
void conv3x3_reference(const Conv3x3Shape& shape, const float* x, const float* weight, float* y,
                       Activation activation);

}  // namespace gyre::kernels
