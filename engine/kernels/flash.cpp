#include "kernels/flash.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/attention_row.h"

namespace gyre::kernels {

namespace {

struct Dims {
  int n, c, s, e, qk_stride, v_stride, out_stride;
};

Dims dims_of(const FlashShape& shape) {
  return Dims{shape.length,
              shape.chunk,
              shape.qk_dim,
              shape.value_dim,
              shape.qk_stride ? shape.qk_stride : shape.qk_dim,
              shape.v_stride ? shape.v_stride : shape.value_dim,
              shape.out_stride ? shape.out_stride : shape.value_dim};
}

Status validate(const FlashShape& shape, const float* q_quad, const float* k_quad,
                const float* q_lin, const float* k_lin, const float* v, const float* out) {
  auto bad = [](const std::string& message) {
    return Status(ErrorCode::kBadArgument, "flash_mixed_chunk: " + message);
  };
  if (shape.length < 0) return bad("length must be >= 0");
  if (shape.chunk < 1) return bad("chunk must be >= 1, got " + std::to_string(shape.chunk));
  if (shape.qk_dim < 1 || shape.value_dim < 1) return bad("qk_dim and value_dim must be >= 1");
  if (shape.qk_stride < 0 || shape.v_stride < 0 || shape.out_stride < 0)
    return bad("strides must be >= 0");
  const Dims d = dims_of(shape);
  if (d.qk_stride < d.s || d.v_stride < d.e || d.out_stride < d.e)
    return bad("a stride is smaller than its row");
  if (static_cast<unsigned long long>(d.s) * d.e > (1ULL << 26) ||
      static_cast<unsigned long long>(std::min(d.c, std::max(d.n, 1))) * (d.s + d.e) > (1ULL << 26))
    return Status(ErrorCode::kTooLarge,
                  "flash_mixed_chunk: qk_dim x value_dim or the chunk is too large");
  if (shape.length > 0 && (!q_quad || !k_quad || !q_lin || !k_lin || !v || !out))
    return bad("a buffer is null");
  return Status::ok();
}

AttentionConfig quad_config(const FlashShape& shape) {
  AttentionConfig config;
  config.mask = shape.causal ? AttentionMask::causal : AttentionMask::bidirectional;
  config.normaliser = AttentionNormaliser::relu2;
  config.relu2_fixed_len = shape.chunk;  // 1/(c·s) = (1/c)·(1/√s)², with scale 1/√s
  return config;
}

AttentionShape chunk_shape(const Dims& d, int rows) {
  AttentionShape s;
  s.num_queries = s.num_keys = rows;
  s.head_dim = d.s;
  s.value_dim = d.e;
  s.q_stride = s.k_stride = d.qk_stride;
  s.v_stride = d.v_stride;
  s.out_stride = d.out_stride;
  return s;
}

std::size_t linear_scratch_floats(const Dims& d) {
  const std::size_t c = static_cast<std::size_t>(std::min(d.c, std::max(d.n, 1)));
  // kv (s × e), Klᵀ of a chunk (s × c), 4 scaled Ql rows, a zero row and a discard row.
  return static_cast<std::size_t>(d.s) * d.e + static_cast<std::size_t>(d.s) * c +
         4 * static_cast<std::size_t>(d.s) + std::max(c, static_cast<std::size_t>(d.s)) + d.e + 16;
}

// kv += Klᵀ V over rows [row0, row0 + rows), four kv rows at a time through the P·V core.
void add_kv(const Dims& d, const float* k_lin, const float* v, int row0, int rows, float* kv,
            float* kl_t, const float* zeros, float* discard) {
  for (int a = 0; a < d.s; ++a)
    for (int x = 0; x < rows; ++x)
      kl_t[static_cast<std::size_t>(a) * rows + x] =
          k_lin[static_cast<std::size_t>(row0 + x) * d.qk_stride + a];
  const float ones[4] = {1, 1, 1, 1};
  for (int a = 0; a < d.s; a += 4) {
    const float* p[4];
    float* o[4];
    for (int r = 0; r < 4; ++r) {
      const bool live = a + r < d.s;
      p[r] = live ? kl_t + static_cast<std::size_t>(a + r) * rows : zeros;
      o[r] = live ? kv + static_cast<std::size_t>(a + r) * d.e : discard;
    }
    detail::accumulate4(p, rows, v + static_cast<std::size_t>(row0) * d.v_stride, d.v_stride, d.e,
                        ones, o);
  }
}

// out[t] += (Ql[t] / norm) · kv for rows [row0, row0 + rows).
void add_linear(const Dims& d, const float* q_lin, int row0, int rows, const float* kv, float norm,
                float* out, float* q_rows, const float* zeros, float* discard) {
  const float ones[4] = {1, 1, 1, 1};
  const float inv = 1.0f / norm;
  for (int t = 0; t < rows; t += 4) {
    const float* p[4];
    float* o[4];
    for (int r = 0; r < 4; ++r) {
      if (t + r < rows) {
        const float* src = q_lin + static_cast<std::size_t>(row0 + t + r) * d.qk_stride;
        for (int a = 0; a < d.s; ++a) q_rows[r * d.s + a] = src[a] * inv;
        p[r] = q_rows + r * d.s;
        o[r] = out + static_cast<std::size_t>(row0 + t + r) * d.out_stride;
      } else {
        p[r] = zeros;
        o[r] = discard;
      }
    }
    detail::accumulate4(p, d.s, kv, d.e, d.e, ones, o);
  }
}

}  // namespace

Status flash_mixed_chunk(const FlashShape& shape, const float* q_quad, const float* k_quad,
                         const float* q_lin, const float* k_lin, const float* v, float* out,
                         AttentionWorkspace& workspace) {
  if (Status s = validate(shape, q_quad, k_quad, q_lin, k_lin, v, out); !s.is_ok()) return s;
  const Dims d = dims_of(shape);
  if (d.n == 0) return Status::ok();
  const int c = std::min(d.c, d.n);
  const std::size_t attention_floats = detail::attention_scratch_floats(chunk_shape(d, c));
  float* scratch = workspace.floats(attention_floats + linear_scratch_floats(d));
  if (scratch == nullptr)
    return Status(ErrorCode::kOutOfMemory, "flash_mixed_chunk: no memory for the workspace");
  float* kv = scratch + attention_floats;
  float* kl_t = kv + static_cast<std::size_t>(d.s) * d.e;
  float* q_rows = kl_t + static_cast<std::size_t>(d.s) * c;
  float* zeros = q_rows + 4 * static_cast<std::size_t>(d.s);
  float* discard = zeros + std::max(c, d.s);
  std::memset(zeros, 0, sizeof(float) * std::max(c, d.s));
  std::memset(kv, 0, sizeof(float) * d.s * d.e);

  const AttentionConfig config = quad_config(shape);
  const int chunks = (d.n + d.c - 1) / d.c;
  for (int g = 0; g < chunks; ++g) {
    const int row0 = g * d.c, rows = std::min(d.c, d.n - row0);
    detail::attention_unchecked(config, chunk_shape(d, rows),
                                q_quad + static_cast<std::size_t>(row0) * d.qk_stride,
                                k_quad + static_cast<std::size_t>(row0) * d.qk_stride,
                                v + static_cast<std::size_t>(row0) * d.v_stride,
                                out + static_cast<std::size_t>(row0) * d.out_stride, scratch, {});
  }
  if (shape.causal) {
    for (int g = 0; g < chunks; ++g) {
      const int row0 = g * d.c, rows = std::min(d.c, d.n - row0);
      if (g > 0)
        add_linear(d, q_lin, row0, rows, kv, static_cast<float>(row0), out, q_rows, zeros, discard);
      if (g + 1 < chunks) add_kv(d, k_lin, v, row0, rows, kv, kl_t, zeros, discard);
    }
  } else {
    for (int g = 0; g < chunks; ++g) {
      const int row0 = g * d.c;
      add_kv(d, k_lin, v, row0, std::min(d.c, d.n - row0), kv, kl_t, zeros, discard);
    }
    for (int g = 0; g < chunks; ++g) {
      const int row0 = g * d.c;
      add_linear(d, q_lin, row0, std::min(d.c, d.n - row0), kv, static_cast<float>(d.n), out,
                 q_rows, zeros, discard);
    }
  }
  return Status::ok();
}

Status flash_mixed_chunk_scalar(const FlashShape& shape, const float* q_quad, const float* k_quad,
                                const float* q_lin, const float* k_lin, const float* v,
                                float* out) {
  if (Status s = validate(shape, q_quad, k_quad, q_lin, k_lin, v, out); !s.is_ok()) return s;
  const Dims d = dims_of(shape);
  const AttentionConfig config = quad_config(shape);
  const int chunks = (d.n + d.c - 1) / d.c;
  for (int g = 0; g < chunks; ++g) {
    const int row0 = g * d.c, rows = std::min(d.c, d.n - row0);
    if (Status s = attention_scalar(config, chunk_shape(d, rows),
                                    q_quad + static_cast<std::size_t>(row0) * d.qk_stride,
                                    k_quad + static_cast<std::size_t>(row0) * d.qk_stride,
                                    v + static_cast<std::size_t>(row0) * d.v_stride,
                                    out + static_cast<std::size_t>(row0) * d.out_stride);
        !s.is_ok())
      return s;
  }
  std::vector<float> kv(static_cast<std::size_t>(d.s) * d.e, 0.0f);
  auto add_kv_rows = [&](int row0, int rows) {
    for (int t = row0; t < row0 + rows; ++t)
      for (int a = 0; a < d.s; ++a) {
        const float w = k_lin[static_cast<std::size_t>(t) * d.qk_stride + a];
        for (int x = 0; x < d.e; ++x)
          kv[static_cast<std::size_t>(a) * d.e + x] +=
              w * v[static_cast<std::size_t>(t) * d.v_stride + x];
      }
  };
  auto add_out_rows = [&](int row0, int rows, float norm) {
    for (int t = row0; t < row0 + rows; ++t)
      for (int a = 0; a < d.s; ++a) {
        const float w = q_lin[static_cast<std::size_t>(t) * d.qk_stride + a] / norm;
        for (int x = 0; x < d.e; ++x)
          out[static_cast<std::size_t>(t) * d.out_stride + x] +=
              w * kv[static_cast<std::size_t>(a) * d.e + x];
      }
  };
  if (shape.causal) {
    for (int g = 0; g < chunks; ++g) {
      const int row0 = g * d.c, rows = std::min(d.c, d.n - row0);
      if (g > 0) add_out_rows(row0, rows, static_cast<float>(row0));
      add_kv_rows(row0, rows);
    }
  } else {
    add_kv_rows(0, d.n);
    add_out_rows(0, d.n, static_cast<float>(d.n));
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// FlashDecoder

FlashDecoder::FlashDecoder(int chunk, int qk_dim, int value_dim, std::size_t floats, float* state)
    : chunk_(chunk), qk_dim_(qk_dim), value_dim_(value_dim), floats_(floats), state_(state) {
  const std::size_t c = static_cast<std::size_t>(chunk), s = static_cast<std::size_t>(qk_dim),
                    e = static_cast<std::size_t>(value_dim);
  chunk_keys_ = state;
  chunk_values_ = chunk_keys_ + c * s;
  kv_done_ = chunk_values_ + c * e;
  kv_chunk_ = kv_done_ + s * e;
  zeros_ = kv_chunk_ + s * e;
  discard_ = zeros_ + std::max(s, e);
  q_scaled_ = discard_ + e;
}

Result<FlashDecoder> FlashDecoder::create(int chunk, int qk_dim, int value_dim) {
  if (chunk < 1 || qk_dim < 1 || value_dim < 1)
    return Status(ErrorCode::kBadArgument,
                  "FlashDecoder: chunk, qk_dim and value_dim must be >= 1");
  const unsigned long long c = chunk, s = qk_dim, e = value_dim;
  // chunk keys and values, the two Σ Klᵀ V, a zero row, a discard row, a scaled Ql row.
  const unsigned long long floats = c * (s + e) + 2 * s * e + std::max(s, e) + e + s;
  if (floats > (1ULL << 26))
    return Status(ErrorCode::kTooLarge,
                  "FlashDecoder: the state needs " + format_bytes(floats * sizeof(float)));
  // calloc, not new: a failed allocation becomes OUT_OF_MEMORY (no exceptions in wasm).
  float* state = static_cast<float*>(std::calloc(static_cast<std::size_t>(floats), sizeof(float)));
  if (state == nullptr)
    return Status(ErrorCode::kOutOfMemory,
                  "FlashDecoder: could not allocate " + format_bytes(floats * sizeof(float)));
  return FlashDecoder(chunk, qk_dim, value_dim, static_cast<std::size_t>(floats), state);
}

void FlashDecoder::clear() {
  length_ = 0;
  std::memset(state_.get(), 0, floats_ * sizeof(float));
}

Status FlashDecoder::begin_step(const float* q_quad, const float* k_quad, const float* q_lin,
                                const float* k_lin, const float* v, const float* out) {
  if (!q_quad || !k_quad || !q_lin || !k_lin || !v || !out)
    return Status(ErrorCode::kBadArgument, "FlashDecoder::step: a buffer is null");
  if (length_ == (1 << 30))
    return Status(ErrorCode::kTooLarge, "FlashDecoder::step: positions beyond 2^30");
  // A new chunk starts: the finished chunk's Σ Klᵀ V joins the earlier chunks'.
  if (length_ > 0 && length_ % chunk_ == 0) {
    const std::size_t se = static_cast<std::size_t>(qk_dim_) * value_dim_;
    for (std::size_t i = 0; i < se; ++i) kv_done_[i] += kv_chunk_[i];
    std::memset(kv_chunk_, 0, se * sizeof(float));
  }
  const std::size_t slot = static_cast<std::size_t>(length_ % chunk_);
  std::memcpy(chunk_keys_ + slot * qk_dim_, k_quad, sizeof(float) * qk_dim_);
  std::memcpy(chunk_values_ + slot * value_dim_, v, sizeof(float) * value_dim_);
  return Status::ok();
}

template <bool kSimd>
Status FlashDecoder::step_impl(const float* q_quad, const float* k_quad, const float* q_lin,
                               const float* k_lin, const float* v, float* out,
                               AttentionWorkspace* workspace) {
  if (Status s = begin_step(q_quad, k_quad, q_lin, k_lin, v, out); !s.is_ok()) return s;
  const int visible = length_ % chunk_ + 1;  // this chunk's keys up to and including this token
  FlashShape flash;
  flash.chunk = chunk_;
  const AttentionConfig config = quad_config(flash);  // bidirectional over the visible keys
  const Dims d{visible, chunk_, qk_dim_, value_dim_, qk_dim_, value_dim_, value_dim_};
  const AttentionShape quad = chunk_shape(d, visible);
  AttentionShape one_query = quad;
  one_query.num_queries = 1;
  if constexpr (kSimd) {
    float* scratch = workspace->floats(detail::attention_scratch_floats(one_query));
    if (scratch == nullptr)
      return Status(ErrorCode::kOutOfMemory, "FlashDecoder::step: no memory for the workspace");
    detail::attention_unchecked(config, one_query, q_quad, chunk_keys_, chunk_values_, out, scratch,
                                {});
  } else if (Status s =
                 attention_scalar(config, one_query, q_quad, chunk_keys_, chunk_values_, out);
             !s.is_ok()) {
    return s;
  }
  const auto accumulate = kSimd ? detail::accumulate4 : detail::accumulate4_scalar;
  const float ones[4] = {1, 1, 1, 1};
  // out += (Ql / (g·c)) · Σ_{u < g·c} Klᵀ V for chunk g > 0.
  const int done = length_ - (visible - 1);
  if (done > 0) {
    for (int a = 0; a < qk_dim_; ++a) q_scaled_[a] = q_lin[a] / static_cast<float>(done);
    const float* p[4] = {q_scaled_, zeros_, zeros_, zeros_};
    float* o[4] = {out, discard_, discard_, discard_};
    accumulate(p, qk_dim_, kv_done_, value_dim_, value_dim_, ones, o);
  }
  // Σ Klᵀ V of this chunk += Kl_tᵀ V_t, four rows of the s × e sum at a time.
  for (int a = 0; a < qk_dim_; a += 4) {
    const float* p[4];
    float* o[4];
    for (int r = 0; r < 4; ++r) {
      const bool live = a + r < qk_dim_;
      p[r] = live ? k_lin + a + r : zeros_;
      o[r] = live ? kv_chunk_ + static_cast<std::size_t>(a + r) * value_dim_ : discard_;
    }
    accumulate(p, 1, v, value_dim_, value_dim_, ones, o);
  }
  ++length_;
  return Status::ok();
}

Status FlashDecoder::step(const float* q_quad, const float* k_quad, const float* q_lin,
                          const float* k_lin, const float* v, float* out,
                          AttentionWorkspace& workspace) {
  return step_impl<true>(q_quad, k_quad, q_lin, k_lin, v, out, &workspace);
}

Status FlashDecoder::step_scalar(const float* q_quad, const float* k_quad, const float* q_lin,
                                 const float* k_lin, const float* v, float* out) {
  return step_impl<false>(q_quad, k_quad, q_lin, k_lin, v, out, nullptr);
}

}  // namespace gyre::kernels
