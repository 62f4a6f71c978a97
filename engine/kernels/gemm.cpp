#include "kernels/gemm.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/simd_math.h"

namespace gyre::kernels {
namespace {

constexpr int kNR = kGemmPanelWidth;
// Blocking: a B block of kKc×kNc floats (256 KiB) stays in L2, a micro-panel of kKc×8 in L1.
// Under V8 on 512³, kKc of 128, 256 and 512 and kNc of 128 to 512 ran alike within the noise of
// a shared machine. On-the-fly packing (gemm, gemm_nt) uses a stack buffer of kKc×kNcStack floats.
constexpr int kKc = 256;
constexpr int kNc = 256;
constexpr int kNcStack = 64;

std::size_t idx(int row, int stride) {
  return static_cast<std::size_t>(row) * static_cast<std::size_t>(stride);
}

// ---------------------------------------------------------------------------------------------
// Microkernels. Each computes an MR×8 tile of C over kc steps of k:
//   tile = (load_c ? C : bias8 or 0) + A[MR,kc] · Bpanel[kc,8], then act(tile) stored to C.
// a: first row of the tile, rows lda apart; b: kc rows of 8 floats, contiguous; bias8: 8 floats
// or null. The caller routes ragged N edges through an 8-wide scratch tile.

template <int MR>
void gemm_tile_scalar(int kc, const float* a, int lda, const float* b, float* c, int ldc,
                      const float* bias8, bool load_c, Activation act) {
  float acc[MR][kNR];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < kNR; ++j)
      acc[r][j] = load_c ? c[idx(r, ldc) + j] : (bias8 ? bias8[j] : 0.0f);
  for (int k = 0; k < kc; ++k) {
    const float* bk = b + idx(k, kNR);
    for (int r = 0; r < MR; ++r) {
      const float av = a[idx(r, lda) + k];
      for (int j = 0; j < kNR; ++j) acc[r][j] += av * bk[j];
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < kNR; ++j) c[idx(r, ldc) + j] = apply_activation_scalar(acc[r][j], act);
}

#define GYRE_NAMED_TILE(name, impl, rows)                                              \
  inline void name(int kc, const float* a, int lda, const float* b, float* c, int ldc, \
                   const float* bias8, bool load_c, Activation act) {                  \
    impl<rows>(kc, a, lda, b, c, ldc, bias8, load_c, act);                             \
  }
GYRE_NAMED_TILE(gemm_4x8_scalar, gemm_tile_scalar, 4)
GYRE_NAMED_TILE(gemm_3x8_scalar, gemm_tile_scalar, 3)
GYRE_NAMED_TILE(gemm_2x8_scalar, gemm_tile_scalar, 2)
GYRE_NAMED_TILE(gemm_1x8_scalar, gemm_tile_scalar, 1)

#if GYRE_SIMD128

// MR rows × 8 columns: 2·MR accumulators, 2 B vectors and MR broadcasts (V8 issues a loop body's
// loads before its arithmetic), 14 of the 15 xmm registers V8 allocates for MR = 4. The k loop is
// not unrolled: unrolled by two it ran at 0.94× the speed (BestTiles below).
template <int MR>
void gemm_tile_simd128(int kc, const float* a, int lda, const float* b, float* c, int ldc,
                       const float* bias8, bool load_c, Activation act) {
  v128_t acc0[MR], acc1[MR];
  for (int r = 0; r < MR; ++r) {
    if (load_c) {
      acc0[r] = wasm_v128_load(c + idx(r, ldc));
      acc1[r] = wasm_v128_load(c + idx(r, ldc) + 4);
    } else if (bias8) {
      acc0[r] = wasm_v128_load(bias8);
      acc1[r] = wasm_v128_load(bias8 + 4);
    } else {
      acc0[r] = wasm_f32x4_splat(0.0f);
      acc1[r] = wasm_f32x4_splat(0.0f);
    }
  }
  const float* rows[MR];
  for (int r = 0; r < MR; ++r) rows[r] = a + idx(r, lda);
  for (int k = 0; k < kc; ++k) {
    const v128_t b0 = wasm_v128_load(b);
    const v128_t b1 = wasm_v128_load(b + 4);
    b += kNR;
    for (int r = 0; r < MR; ++r) {
      const v128_t av = wasm_v128_load32_splat(rows[r] + k);
      acc0[r] = madd_f32x4(av, b0, acc0[r]);
      acc1[r] = madd_f32x4(av, b1, acc1[r]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    wasm_v128_store(c + idx(r, ldc), activate_f32x4(acc0[r], act));
    wasm_v128_store(c + idx(r, ldc) + 4, activate_f32x4(acc1[r], act));
  }
}

GYRE_NAMED_TILE(gemm_4x8_simd128, gemm_tile_simd128, 4)
GYRE_NAMED_TILE(gemm_3x8_simd128, gemm_tile_simd128, 3)
GYRE_NAMED_TILE(gemm_2x8_simd128, gemm_tile_simd128, 2)
GYRE_NAMED_TILE(gemm_1x8_simd128, gemm_tile_simd128, 1)

#endif  // GYRE_SIMD128

// A family of tile kernels, 1 … 4 rows × 8 columns, which the driver takes as a template argument:
// every tile call is resolved at compile time.
using TileKernel = void (*)(int kc, const float* a, int lda, const float* b, float* c, int ldc,
                            const float* bias8, bool load_c, Activation act);

template <TileKernel k1x8, TileKernel k2x8, TileKernel k3x8, TileKernel k4x8>
struct TileFamily {
  static constexpr int kMR = 4;
  template <int R>
  static void tile(int kc, const float* a, int lda, const float* b, float* c, int ldc,
                   const float* bias8, bool load_c, Activation act) {
    static_assert(R >= 1 && R <= kMR);
    constexpr TileKernel kernels[] = {k1x8, k2x8, k3x8, k4x8};
    kernels[R - 1](kc, a, lda, b, c, ldc, bias8, load_c, act);
  }
};

using ScalarTiles = TileFamily<gemm_1x8_scalar, gemm_2x8_scalar, gemm_3x8_scalar, gemm_4x8_scalar>;
#if GYRE_SIMD128
// gemm_4x8_simd128 and its edge twins. 4x8 was chosen by measurement under Node 20's V8 on 512³
// (interleaved, median ratio to 4x8): 5x8 0.85, 6x8 0.72, 3x8 0.95, 2x8 0.76, 4x8 with k unrolled
// by 2 0.94. V8 issues a loop body's loads before its arithmetic: 4x8 holds 8 accumulators, 2 B
// vectors and 4 broadcasts, 14 of the 15 xmm registers it allocates; 5x8 and up spill.
using BestTiles =
    TileFamily<gemm_1x8_simd128, gemm_2x8_simd128, gemm_3x8_simd128, gemm_4x8_simd128>;
#else
using BestTiles = ScalarTiles;
#endif

// R rows × nc columns: full panels straight into C, a ragged right edge (nc % 8) through an
// 8-wide scratch tile.
template <class Tiles, int R>
void gemm_rows(int kc, const float* a, int lda, const float* block, std::size_t panel_stride,
               int nc, float* c, int ldc, const float* bias, bool load_c, Activation act) {
  int j = 0;
  for (; j + kNR <= nc; j += kNR)
    Tiles::template tile<R>(kc, a, lda, block + (j / kNR) * panel_stride, c + j, ldc,
                            bias ? bias + j : nullptr, load_c, act);
  if (j == nc) return;
  const int nr = nc - j;
  alignas(16) float scratch[R * kNR] = {};
  alignas(16) float bias8[kNR] = {};
  if (load_c)
    for (int r = 0; r < R; ++r)
      std::memcpy(scratch + r * kNR, c + idx(r, ldc) + j, sizeof(float) * nr);
  if (bias) std::memcpy(bias8, bias + j, sizeof(float) * nr);
  Tiles::template tile<R>(kc, a, lda, block + (j / kNR) * panel_stride, scratch, kNR,
                          bias ? bias8 : nullptr, load_c, act);
  for (int r = 0; r < R; ++r)
    std::memcpy(c + idx(r, ldc) + j, scratch + r * kNR, sizeof(float) * nr);
}

// All rows of C for columns [n0, n0 + nc) and k in [k0, k0 + kc), with B's block given as panels
// (panel q of the block at block + q·panel_stride, its rows kNR floats apart).
template <class Tiles>
void gemm_block(int M, int nc, int kc, const float* A, int lda, const float* block,
                std::size_t panel_stride, float* C, int ldc, const float* bias, bool first_k,
                bool last_k, Activation act) {
  static_assert(Tiles::kMR == 4, "the row dispatch below covers 1..4 rows");
  const Activation tile_act = last_k ? act : Activation::none;
  const float* tile_bias = first_k ? bias : nullptr;
  int m = 0;
  for (; m + 4 <= M; m += 4)
    gemm_rows<Tiles, 4>(kc, A + idx(m, lda), lda, block, panel_stride, nc, C + idx(m, ldc), ldc,
                        tile_bias, !first_k, tile_act);
  const float* a = A + idx(m, lda);
  float* c = C + idx(m, ldc);
  switch (M - m) {
    case 3:
      gemm_rows<Tiles, 3>(kc, a, lda, block, panel_stride, nc, c, ldc, tile_bias, !first_k,
                          tile_act);
      break;
    case 2:
      gemm_rows<Tiles, 2>(kc, a, lda, block, panel_stride, nc, c, ldc, tile_bias, !first_k,
                          tile_act);
      break;
    case 1:
      gemm_rows<Tiles, 1>(kc, a, lda, block, panel_stride, nc, c, ldc, tile_bias, !first_k,
                          tile_act);
      break;
    default:
      break;
  }
}

// K = 0: C = act(bias), or act(0).
void fill_epilogue_only(int M, int N, float* C, int ldc, const float* bias, Activation act) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j)
      C[idx(i, ldc) + j] = apply_activation_scalar(bias ? bias[j] : 0.0f, act);
}

template <class Tiles>
void gemm_packed_driver(int M, int N, int K, const float* A, int lda, const float* packed_b,
                        float* C, int ldc, const float* bias, Activation act) {
  if (M == 0 || N == 0) return;
  if (K == 0) return fill_epilogue_only(M, N, C, ldc, bias, act);
  const std::size_t panel_stride = static_cast<std::size_t>(K) * kNR;
  for (int n0 = 0; n0 < N; n0 += kNc) {
    const int nc = std::min(kNc, N - n0);
    for (int k0 = 0; k0 < K; k0 += kKc) {
      const int kc = std::min(kKc, K - k0);
      const float* block =
          packed_b + (n0 / kNR) * panel_stride + static_cast<std::size_t>(k0) * kNR;
      gemm_block<Tiles>(M, nc, kc, A + k0, lda, block, panel_stride, C + n0, ldc,
                        bias ? bias + n0 : nullptr, k0 == 0, k0 + kc == K, act);
    }
  }
}

// Packs rows [k0, k0+kc) × columns [n0, n0+nc) of B (or of Bᵀ's transpose) into panels of kc×8
// floats, panel q at out + q·kc·8, zero-padding columns past nc.
void pack_block(const float* B, int ldb, bool transposed, int k0, int kc, int n0, int nc,
                float* out) {
  for (int j = 0; j < nc; j += kNR) {
    const int nr = std::min(kNR, nc - j);
    float* panel = out + static_cast<std::size_t>(j / kNR) * kc * kNR;
    int k = 0;
#if GYRE_SIMD128
    if (nr == kNR && !transposed) {
      for (; k < kc; ++k) {
        const float* src = B + idx(k0 + k, ldb) + n0 + j;
        wasm_v128_store(panel + idx(k, kNR), wasm_v128_load(src));
        wasm_v128_store(panel + idx(k, kNR) + 4, wasm_v128_load(src + 4));
      }
    } else if (nr == kNR) {
      // Bᵀ rows are B's columns: transpose 8 columns × 4 k at a time (two 4×4 blocks).
      const float* col = B + idx(n0 + j, ldb) + k0;
      for (; k + 4 <= kc; k += 4) {
        for (int half = 0; half < 2; ++half) {
          const float* c0 = col + idx(4 * half, ldb) + k;
          const v128_t r0 = wasm_v128_load(c0), r1 = wasm_v128_load(c0 + ldb);
          const v128_t r2 = wasm_v128_load(c0 + 2 * static_cast<std::size_t>(ldb));
          const v128_t r3 = wasm_v128_load(c0 + 3 * static_cast<std::size_t>(ldb));
          const v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5),
                       t1 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5);
          const v128_t t2 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7),
                       t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
          float* d = panel + idx(k, kNR) + 4 * half;
          wasm_v128_store(d, wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5));
          wasm_v128_store(d + kNR, wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
          wasm_v128_store(d + 2 * kNR, wasm_i32x4_shuffle(t2, t3, 0, 1, 4, 5));
          wasm_v128_store(d + 3 * kNR, wasm_i32x4_shuffle(t2, t3, 2, 3, 6, 7));
        }
      }
    }
#endif
    for (; k < kc; ++k) {
      float* dst = panel + idx(k, kNR);
      for (int c = 0; c < nr; ++c)
        dst[c] = transposed ? B[idx(n0 + j + c, ldb) + k0 + k] : B[idx(k0 + k, ldb) + n0 + j + c];
      for (int c = nr; c < kNR; ++c) dst[c] = 0.0f;
    }
  }
}

template <class Tiles>
void gemm_unpacked_driver(int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                          bool transposed, float* C, int ldc, const float* bias, Activation act) {
  if (M == 0 || N == 0) return;
  if (K == 0) return fill_epilogue_only(M, N, C, ldc, bias, act);
  alignas(16) float block[kKc * kNcStack];
  for (int n0 = 0; n0 < N; n0 += kNcStack) {
    const int nc = std::min(kNcStack, N - n0);
    for (int k0 = 0; k0 < K; k0 += kKc) {
      const int kc = std::min(kKc, K - k0);
      pack_block(B, ldb, transposed, k0, kc, n0, nc, block);
      gemm_block<Tiles>(M, nc, kc, A + k0, lda, block, static_cast<std::size_t>(kc) * kNR, C + n0,
                        ldc, bias ? bias + n0 : nullptr, k0 == 0, k0 + kc == K, act);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GEMV (M = 1): y[N] = act(x[K] · B + bias). Memory-bound on B, so it streams three panels at once
// with one broadcast of x[k] per step, six independent accumulators.

void gemv_packed_scalar(int N, int K, const float* x, const float* packed_b, float* y,
                        const float* bias, Activation act) {
  const std::size_t panel_stride = static_cast<std::size_t>(K) * kNR;
  for (int j = 0; j < N; j += kNR) {
    const float* panel = packed_b + (j / kNR) * panel_stride;
    float acc[kNR] = {};
    for (int k = 0; k < K; ++k)
      for (int c = 0; c < kNR; ++c) acc[c] += x[k] * panel[idx(k, kNR) + c];
    for (int c = 0; c < std::min(kNR, N - j); ++c)
      y[j + c] = apply_activation_scalar(acc[c] + (bias ? bias[j + c] : 0.0f), act);
  }
}

#if GYRE_SIMD128
void store_gemv_panel(v128_t lo, v128_t hi, int j, int N, float* y, const float* bias,
                      Activation act) {
  alignas(16) float out[kNR];
  wasm_v128_store(out, lo);
  wasm_v128_store(out + 4, hi);
  const int nr = std::min(kNR, N - j);
  for (int c = 0; c < nr; ++c) out[c] += bias ? bias[j + c] : 0.0f;
  if (act != Activation::none) {
    wasm_v128_store(out, activate_f32x4(wasm_v128_load(out), act));
    wasm_v128_store(out + 4, activate_f32x4(wasm_v128_load(out + 4), act));
  }
  std::memcpy(y + j, out, sizeof(float) * nr);
}

// V8 issues all of a loop body's loads before its arithmetic, so every load holds an xmm register
// at once: six accumulators + six panel loads + one broadcast fit the 15 it allocates, while four
// panels (eight of each) spilled an accumulator to the stack and ran up to 1.3x slower. Unrolling
// would add the same pressure, hence GYRE_NO_UNROLL.
void gemv_packed_simd128(int N, int K, const float* x, const float* packed_b, float* y,
                         const float* bias, Activation act) {
  const std::size_t panel_stride = static_cast<std::size_t>(K) * kNR;
  const int panels = (N + kNR - 1) / kNR;
  int p = 0;
  for (; p + 3 <= panels; p += 3) {
    const float* b0 = packed_b + p * panel_stride;
    const float* b1 = b0 + panel_stride;
    const float* b2 = b1 + panel_stride;
    v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    GYRE_NO_UNROLL
    for (int k = 0; k < K; ++k, b0 += kNR, b1 += kNR, b2 += kNR) {
      const v128_t xk = wasm_v128_load32_splat(x + k);
      a0 = madd_f32x4(xk, wasm_v128_load(b0), a0);
      a1 = madd_f32x4(xk, wasm_v128_load(b0 + 4), a1);
      a2 = madd_f32x4(xk, wasm_v128_load(b1), a2);
      a3 = madd_f32x4(xk, wasm_v128_load(b1 + 4), a3);
      a4 = madd_f32x4(xk, wasm_v128_load(b2), a4);
      a5 = madd_f32x4(xk, wasm_v128_load(b2 + 4), a5);
    }
    store_gemv_panel(a0, a1, p * kNR, N, y, bias, act);
    store_gemv_panel(a2, a3, (p + 1) * kNR, N, y, bias, act);
    store_gemv_panel(a4, a5, (p + 2) * kNR, N, y, bias, act);
  }
  for (; p < panels; ++p) {
    const float* b0 = packed_b + p * panel_stride;
    // Two k streams so consecutive adds do not wait on each other.
    v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k + 2 <= K; k += 2) {
      const v128_t x0 = wasm_v128_load32_splat(x + k);
      const v128_t x1 = wasm_v128_load32_splat(x + k + 1);
      const float* bk = b0 + idx(k, kNR);
      a0 = madd_f32x4(x0, wasm_v128_load(bk), a0);
      a1 = madd_f32x4(x0, wasm_v128_load(bk + 4), a1);
      a2 = madd_f32x4(x1, wasm_v128_load(bk + 8), a2);
      a3 = madd_f32x4(x1, wasm_v128_load(bk + 12), a3);
    }
    if (k < K) {
      const v128_t x0 = wasm_v128_load32_splat(x + k);
      const float* bk = b0 + idx(k, kNR);
      a0 = madd_f32x4(x0, wasm_v128_load(bk), a0);
      a1 = madd_f32x4(x0, wasm_v128_load(bk + 4), a1);
    }
    store_gemv_panel(wasm_f32x4_add(a0, a2), wasm_f32x4_add(a1, a3), p * kNR, N, y, bias, act);
  }
}

// y[N] = act(x[K] · B + bias), B row-major [K,N]: 16 columns of accumulators per sweep over k,
// each step one broadcast of x[k] and four contiguous loads from row k.
void gemv_rowmajor_simd128(int N, int K, const float* x, const float* B, int ldb, float* y,
                           const float* bias, Activation act) {
  int j = 0;
  for (; j + 16 <= N; j += 16) {
    v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
    const float* b = B + j;
    for (int k = 0; k < K; ++k, b += ldb) {
      const v128_t xk = wasm_v128_load32_splat(x + k);
      a0 = madd_f32x4(xk, wasm_v128_load(b), a0);
      a1 = madd_f32x4(xk, wasm_v128_load(b + 4), a1);
      a2 = madd_f32x4(xk, wasm_v128_load(b + 8), a2);
      a3 = madd_f32x4(xk, wasm_v128_load(b + 12), a3);
    }
    store_gemv_panel(a0, a1, j, N, y, bias, act);
    store_gemv_panel(a2, a3, j + 8, N, y, bias, act);
  }
  for (; j < N; ++j) {
    float sum = bias ? bias[j] : 0.0f;
    for (int k = 0; k < K; ++k) sum += x[k] * B[idx(k, ldb) + j];
    y[j] = apply_activation_scalar(sum, act);
  }
}

// y[N] = act(x[K] · Bᵀ + bias), B row-major [N,K]: four dot products at once (q · k_j for
// decoding attention), two accumulators each; the four are reduced together by a 4×4 transpose,
// so the epilogue is one vector.
void gemv_transposed_simd128(int N, int K, const float* x, const float* B, int ldb, float* y,
                             const float* bias, Activation act) {
  for (int j = 0; j < N; j += 4) {
    const int rows = std::min(4, N - j);
    v128_t acc[4][2];
    for (auto& a : acc) a[0] = a[1] = wasm_f32x4_splat(0.0f);
    const float* b[4];
    for (int r = 0; r < 4; ++r) b[r] = B + idx(j + std::min(r, rows - 1), ldb);
    int k = 0;
    for (; k + 8 <= K; k += 8) {
      const v128_t x0 = wasm_v128_load(x + k), x1 = wasm_v128_load(x + k + 4);
      for (int r = 0; r < 4; ++r) {
        acc[r][0] = madd_f32x4(x0, wasm_v128_load(b[r] + k), acc[r][0]);
        acc[r][1] = madd_f32x4(x1, wasm_v128_load(b[r] + k + 4), acc[r][1]);
      }
    }
    const v128_t sums =
        hsum4_f32x4(wasm_f32x4_add(acc[0][0], acc[0][1]), wasm_f32x4_add(acc[1][0], acc[1][1]),
                    wasm_f32x4_add(acc[2][0], acc[2][1]), wasm_f32x4_add(acc[3][0], acc[3][1]));
    alignas(16) float out[4];
    wasm_v128_store(out, sums);
    for (int r = 0; r < rows; ++r) {
      for (int kk = k; kk < K; ++kk) out[r] += x[kk] * b[r][kk];
      out[r] += bias ? bias[j + r] : 0.0f;
    }
    if (act != Activation::none) wasm_v128_store(out, activate_f32x4(wasm_v128_load(out), act));
    std::memcpy(y + j, out, sizeof(float) * rows);
  }
}
#endif  // GYRE_SIMD128

// ---------------------------------------------------------------------------------------------
// Validation shared by the entry points: a clear BAD_ARGUMENT, C untouched.

Status check_sizes(const char* fn, int M, int N, int K) {
  if (M < 0 || N < 0 || K < 0)
    return {ErrorCode::kBadArgument, std::string(fn) + ": negative size M=" + std::to_string(M) +
                                         " N=" + std::to_string(N) + " K=" + std::to_string(K)};
  return Status::ok();
}

Status check_stride(const char* fn, const char* name, int stride, int row, int rows) {
  if (rows > 0 && stride < row)
    return {ErrorCode::kBadArgument, std::string(fn) + ": " + name + "=" + std::to_string(stride) +
                                         " is smaller than its row of " + std::to_string(row) +
                                         " floats"};
  return Status::ok();
}

Status check_pointer(const char* fn, const char* name, const void* p, bool needed) {
  if (needed && p == nullptr)
    return {ErrorCode::kBadArgument, std::string(fn) + ": " + name + " is null"};
  return Status::ok();
}

Status check_activation(const char* fn, Activation act) {
  if (static_cast<unsigned>(act) > static_cast<unsigned>(Activation::gelu))
    return {ErrorCode::kBadArgument,
            std::string(fn) + ": unknown activation " + std::to_string(static_cast<unsigned>(act))};
  return Status::ok();
}

// Checks for C = A·B with A [M,K], C [M,N] and B described by (b_rows, b_cols, ldb) or packed.
Status check_gemm(const char* fn, int M, int N, int K, const float* A, int lda, const void* B,
                  int ldb, int b_row, const float* C, int ldc, Activation act) {
  const bool work = M > 0 && N > 0;
  Status s = check_sizes(fn, M, N, K);
  if (s.is_ok()) s = check_activation(fn, act);
  if (s.is_ok()) s = check_pointer(fn, "A", A, work && K > 0);
  if (s.is_ok()) s = check_pointer(fn, "B", B, work && K > 0);
  if (s.is_ok()) s = check_pointer(fn, "C", C, work);
  if (s.is_ok() && work && K > 0) s = check_stride(fn, "lda", lda, K, M);
  if (s.is_ok() && work && K > 0 && b_row > 0) s = check_stride(fn, "ldb", ldb, b_row, 1);
  if (s.is_ok() && work) s = check_stride(fn, "ldc", ldc, N, M);
  return s;
}

}  // namespace

std::size_t gemm_packed_size(int K, int N) {
  if (K <= 0 || N <= 0) return 0;
  return static_cast<std::size_t>((N + kNR - 1) / kNR) * kNR * static_cast<std::size_t>(K);
}

Status gemm_pack_b(const float* B, int K, int N, int ldb, bool transposed, float* packed) {
  const char* fn = "gemm_pack_b";
  Status s = check_sizes(fn, 1, N, K);
  const bool work = K > 0 && N > 0;
  if (s.is_ok()) s = check_pointer(fn, "B", B, work);
  if (s.is_ok()) s = check_pointer(fn, "packed", packed, work);
  if (s.is_ok() && work) s = check_stride(fn, "ldb", ldb, transposed ? K : N, 1);
  if (!s.is_ok() || !work) return s;
  const std::size_t panel_stride = static_cast<std::size_t>(K) * kNR;
  for (int n0 = 0; n0 < N; n0 += kNR) {
    // One panel is exactly a K×8 block in pack_block's layout.
    pack_block(B, ldb, transposed, 0, K, n0, std::min(kNR, N - n0),
               packed + (n0 / kNR) * panel_stride);
  }
  return Status::ok();
}

Status gemm_packed(int M, int N, int K, const float* A, int lda, const float* packed_b, float* C,
                   int ldc, const float* bias, Activation activation) {
  Status s = check_gemm("gemm_packed", M, N, K, A, lda, packed_b, 0, 0, C, ldc, activation);
  if (!s.is_ok()) return s;
#if GYRE_SIMD128
  if (M == 1 && K > 0 && N > 0) {
    gemv_packed_simd128(N, K, A, packed_b, C, bias, activation);
    return Status::ok();
  }
#endif
  gemm_packed_driver<BestTiles>(M, N, K, A, lda, packed_b, C, ldc, bias, activation);
  return Status::ok();
}

Status gemm_packed_scalar(int M, int N, int K, const float* A, int lda, const float* packed_b,
                          float* C, int ldc, const float* bias, Activation activation) {
  Status s = check_gemm("gemm_packed_scalar", M, N, K, A, lda, packed_b, 0, 0, C, ldc, activation);
  if (!s.is_ok()) return s;
  if (M == 1 && K > 0 && N > 0) {
    gemv_packed_scalar(N, K, A, packed_b, C, bias, activation);
    return Status::ok();
  }
  gemm_packed_driver<ScalarTiles>(M, N, K, A, lda, packed_b, C, ldc, bias, activation);
  return Status::ok();
}

Status gemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
            int ldc, const float* bias, Activation activation) {
  Status s = check_gemm("gemm", M, N, K, A, lda, B, ldb, N, C, ldc, activation);
  if (!s.is_ok()) return s;
#if GYRE_SIMD128
  if (M == 1 && K > 0 && N > 0) {
    gemv_rowmajor_simd128(N, K, A, B, ldb, C, bias, activation);
    return Status::ok();
  }
#endif
  gemm_unpacked_driver<BestTiles>(M, N, K, A, lda, B, ldb, false, C, ldc, bias, activation);
  return Status::ok();
}

Status gemm_nt(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
               int ldc, const float* bias, Activation activation) {
  Status s = check_gemm("gemm_nt", M, N, K, A, lda, B, ldb, K, C, ldc, activation);
  if (!s.is_ok()) return s;
#if GYRE_SIMD128
  if (M == 1 && K > 0 && N > 0) {
    gemv_transposed_simd128(N, K, A, B, ldb, C, bias, activation);
    return Status::ok();
  }
#endif
  gemm_unpacked_driver<BestTiles>(M, N, K, A, lda, B, ldb, true, C, ldc, bias, activation);
  return Status::ok();
}

}  // namespace gyre::kernels
