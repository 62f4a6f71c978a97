// The kernels that pay to share between threads, split over independent outputs and run through
// core::parallel_for: each chunk is an ordinary call of the single-thread kernel on a sub-range, so
// every output is summed in the same order as in the single-thread build and the bits agree.
//   gemm_packed, gemm, gemm_nt   rows of A and C, in multiples of the 4-row microkernel
//   attention          heads, or blocks of queries when there are fewer heads than threads
//   conv3x3_winograd   images of the batch
//   group_norm_images  images of the batch
// Calls below a threshold (decoding one token, a GEMV, a one-image convolution) run on the caller:
// waking the workers costs more than they save there.
#pragma once

#include <cstddef>

#include "core/status.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/conv3x3.h"
#include "kernels/vecmath.h"

namespace gyre::parallel {

// Multiply-adds below which a GEMM runs on the calling thread.
inline constexpr double kGemmMinMacs = 1 << 20;

Status gemm_packed(int M, int N, int K, const float* A, int lda, const float* packed_b, float* C,
                   int ldc, const float* bias = nullptr,
                   kernels::Activation activation = kernels::Activation::none);

// As kernels::gemm and kernels::gemm_nt (B unpacked: each chunk packs the blocks it needs).
Status gemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
            int ldc, const float* bias = nullptr,
            kernels::Activation activation = kernels::Activation::none);
Status gemm_nt(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
               int ldc, const float* bias = nullptr,
               kernels::Activation activation = kernels::Activation::none);

// As kernels::attention; the workers use scratch of their own, the caller `workspace`.
Status attention(const kernels::AttentionConfig& config, const kernels::AttentionShape& shape,
                 const float* q, const float* k, const float* v, float* out,
                 kernels::AttentionWorkspace& workspace,
                 const kernels::AttentionOutputs& extra = {});

// As kernels::conv3x3_winograd; `scratch` serves the caller, the workers use scratch of their own.
Status conv3x3_winograd(const kernels::Conv3x3Shape& shape, const float* x, const float* packed,
                        float* y, kernels::Activation activation, float* scratch);

// kernels::group_norm on each of `images` images of channels × pixels values, stored one after
// the other.
Status group_norm_images(const float* x, float* y, int images, int channels, int pixels, int groups,
                         const float* gamma, const float* beta, float eps,
                         kernels::GroupNormLayout layout);

}  // namespace gyre::parallel
