// f32 GEMM: C[M,N] = act(A[M,K] · B[K,N] + bias[N]), the engine's workhorse.
//
// Weights are packed once, at model load, into panels of 8 columns: panel p holds columns
// 8p … 8p+7 as K consecutive rows of 8 floats (zero-padded past N). The SIMD128 microkernels
// (gemm_4x8_simd128 and its 1–3 row edge twins) keep a 4×8 tile of C in registers and read A by
// broadcast and B by two vector loads per k; the tile shape was chosen by measurement under
// Node's V8 (4x8 beat 2x8, 3x8, 5x8 and 6x8; figures in the README). The driver blocks
// over N and K so a B block stays in L2 and a micro-panel in L1. M = 1 takes a GEMV path that
// streams three panels at once.
//
// Row-major everywhere; lda/ldb/ldc are row strides in floats. The activation is applied after
// the bias, once the whole K sum is done. Every entry point validates its arguments and returns a
// Status (BAD_ARGUMENT: negative sizes, null buffers, a stride smaller than its row) without
// touching C on error. Sizes of 0 are valid and do nothing (K = 0 gives C = act(bias)).
//
// Usage:
//   std::vector<float> packed(gemm_packed_size(K, N));
//   gemm_pack_b(W, K, N, /*ldb=*/N, /*transposed=*/false, packed.data());   // once, at load
//   gemm_packed(M, N, K, X, K, packed.data(), Y, N, bias, Activation::gelu);  // every call
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"
#include "kernels/activation.h"

namespace gyre::kernels {

inline constexpr int kGemmPanelWidth = 8;

// Floats needed by gemm_pack_b for a K×N matrix.
std::size_t gemm_packed_size(int K, int N);

// Packs B into panels. transposed = false: B is [K,N] with row stride ldb (ldb >= N).
// transposed = true: B is given as Bᵀ, [N,K] with row stride ldb (ldb >= K), e.g. a PyTorch
// nn.Linear weight [out, in].
Status gemm_pack_b(const float* B, int K, int N, int ldb, bool transposed, float* packed);

// C = act(A·B + bias) with B packed by gemm_pack_b. bias may be null.
Status gemm_packed(int M, int N, int K, const float* A, int lda, const float* packed_b, float* C,
                   int ldc, const float* bias = nullptr, Activation activation = Activation::none);

// C = act(A·B + bias) with B row-major [K,N] (ldb >= N), packed block by block on the stack.
// For activations times activations (attention's P·V); weights should use gemm_packed.
Status gemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
            int ldc, const float* bias = nullptr, Activation activation = Activation::none);

// C = act(A·Bᵀ + bias) with B row-major [N,K] (ldb >= K): attention scores Q·Kᵀ.
Status gemm_nt(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
               int ldc, const float* bias = nullptr, Activation activation = Activation::none);

// Scalar twin of gemm_packed (same packing, blocking and edges, scalar microkernel). The scalar
// wasm build runs it; the SIMD build keeps it for tests.
Status gemm_packed_scalar(int M, int N, int K, const float* A, int lda, const float* packed_b,
                          float* C, int ldc, const float* bias = nullptr,
                          Activation activation = Activation::none);

}  // namespace gyre::kernels
