// FLASH mixed-chunk attention (docs/ALGORITHMS.md §3.4): quadratic relu² attention inside chunks of
// length c plus linear attention across chunks, O(n) in the sequence length.
//
// For chunk g (0-based) with rows t in [g·c, min((g+1)·c, n)):
//   quad_t = (1/(c·s)) Σ_{u in chunk g, visible} relu(Qq_t·Kq_u)² V_u     (causal: u <= t)
//   lin_t  = Ql_t · (Σ_u Kl_uᵀ V_u) / n                       (non-causal: all n tokens)
//   lin_t  = Ql_t · (Σ_{u < g·c} Kl_uᵀ V_u) / (g·c), 0 for g = 0
//                          (causal: earlier chunks only, normalised by the number of summed
//                           tokens; the post's "(g−1)n/c" is a typo, see 3.4)
//   out_t  = quad_t + lin_t   (the caller applies the U gate and W_o)
// A last, shorter chunk is the padded chunk with its padding masked: its quadratic part still
// divides by c, and padding never enters the linear sums. This matches docs/reference/gau_ref.py.
//
// Inputs are row-major [n][s] (Qq, Kq, Ql, Kl share qk_stride) and [n][e] (V); out is [n][e].
// Errors are returned as Status (BAD_ARGUMENT, OUT_OF_MEMORY); on error nothing is written.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

#include "core/status.h"
#include "kernels/attention.h"

namespace gyre::kernels {

struct FlashShape {
  int length = 0;     // n
  int chunk = 256;    // c (the paper's 256)
  int qk_dim = 0;     // s
  int value_dim = 0;  // e
  bool causal = false;
  int qk_stride = 0, v_stride = 0, out_stride = 0;  // 0 = dense rows
};

Status flash_mixed_chunk(const FlashShape& shape, const float* q_quad, const float* k_quad,
                         const float* q_lin, const float* k_lin, const float* v, float* out,
                         AttentionWorkspace& workspace);

// Scalar reference with the same contract.
Status flash_mixed_chunk_scalar(const FlashShape& shape, const float* q_quad, const float* k_quad,
                                const float* q_lin, const float* k_lin, const float* v, float* out);

// Incremental causal FLASH: one token per step, each output equal to that token's row of the causal
// flash_mixed_chunk() over all tokens so far. The state is the current chunk's Kq and V rows, the
// current chunk's Σ Klᵀ V and the earlier chunks' Σ Klᵀ V: O(c·(s + e) + s·e) floats however long
// the generation runs.
class FlashDecoder {
 public:
  // BAD_ARGUMENT for non-positive sizes, TOO_LARGE past 2^26 floats of state, OUT_OF_MEMORY.
  static Result<FlashDecoder> create(int chunk, int qk_dim, int value_dim);

  // Appends the token at position length() (its q/k rows of qk_dim floats, v of value_dim) and
  // writes its output (quadratic + linear part, value_dim floats) to out.
  Status step(const float* q_quad, const float* k_quad, const float* q_lin, const float* k_lin,
              const float* v, float* out, AttentionWorkspace& workspace);
  // Scalar reference with the same contract and state.
  Status step_scalar(const float* q_quad, const float* k_quad, const float* q_lin,
                     const float* k_lin, const float* v, float* out);

  void clear();
  int length() const { return length_; }
  int chunk() const { return chunk_; }
  std::size_t bytes() const { return floats_ * sizeof(float); }

 private:
  struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
  };
  FlashDecoder(int chunk, int qk_dim, int value_dim, std::size_t floats, float* state);
  Status begin_step(const float* q_quad, const float* k_quad, const float* q_lin,
                    const float* k_lin, const float* v, const float* out);
  template <bool kSimd>
  Status step_impl(const float* q_quad, const float* k_quad, const float* q_lin, const float* k_lin,
                   const float* v, float* out, AttentionWorkspace* workspace);

  int chunk_, qk_dim_, value_dim_;
  int length_ = 0;
  std::size_t floats_;
  std::unique_ptr<float[], FreeDeleter> state_;
  float *chunk_keys_, *chunk_values_, *kv_done_, *kv_chunk_, *zeros_, *discard_, *q_scaled_;
};

}  // namespace gyre::kernels
