#include "kernels/parallel.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"

namespace gyre::parallel {
namespace {

// The first failure of any chunk, kept for the caller (chunks run on several threads).
class FirstFailure {
 public:
  void record(Status status) {
    if (status.is_ok() || claimed_.exchange(true, std::memory_order_acq_rel)) return;
    status_ = std::move(status);
  }
  Status take() { return std::move(status_); }

 private:
  std::atomic<bool> claimed_{false};
  Status status_;
};

// Queries that share one pass over the keys in kernels::attention (kBlockQueries there).
constexpr std::size_t kAttentionRowBlock = 64;

// Scratch for the workers, allocated by the caller before a job (a worker never allocates: a
// failed allocation there could not be reported).
std::vector<kernels::AttentionWorkspace> worker_attention;
std::vector<FloatBuffer> worker_conv_scratch;

}  // namespace

// Splits rows [0, M) of a GEMM into chunks of whole 4-row tiles (each row then goes through the
// same microkernel as in one call) and runs gemm_rows(first_row, rows) on each.
template <typename GemmRows>
Status split_gemm_rows(int M, int N, int K, GemmRows gemm_rows) {
  const double macs = static_cast<double>(M) * N * K;
  if (core::thread_count() == 1 || M < 8 || N <= 0 || K <= 0 || macs < kGemmMinMacs) {
    return gemm_rows(0, M);
  }
  const std::size_t chunk = core::chunk_size_for(static_cast<std::size_t>(M), 16, 4);
  FirstFailure failure;
  core::parallel_for(static_cast<std::size_t>(M), chunk, [&](std::size_t begin, std::size_t end) {
    failure.record(gemm_rows(static_cast<int>(begin), static_cast<int>(end - begin)));
  });
  return failure.take();
}

Status gemm_packed(int M, int N, int K, const float* A, int lda, const float* packed_b, float* C,
                   int ldc, const float* bias, kernels::Activation activation) {
  return split_gemm_rows(M, N, K, [&](int first, int rows) {
    return kernels::gemm_packed(rows, N, K, A + static_cast<std::ptrdiff_t>(first) * lda, lda,
                                packed_b, C + static_cast<std::ptrdiff_t>(first) * ldc, ldc, bias,
                                activation);
  });
}

Status gemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
            int ldc, const float* bias, kernels::Activation activation) {
  return split_gemm_rows(M, N, K, [&](int first, int rows) {
    return kernels::gemm(rows, N, K, A + static_cast<std::ptrdiff_t>(first) * lda, lda, B, ldb,
                         C + static_cast<std::ptrdiff_t>(first) * ldc, ldc, bias, activation);
  });
}

Status gemm_nt(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
               int ldc, const float* bias, kernels::Activation activation) {
  return split_gemm_rows(M, N, K, [&](int first, int rows) {
    return kernels::gemm_nt(rows, N, K, A + static_cast<std::ptrdiff_t>(first) * lda, lda, B, ldb,
                            C + static_cast<std::ptrdiff_t>(first) * ldc, ldc, bias, activation);
  });
}

Status attention(const kernels::AttentionConfig& config, const kernels::AttentionShape& shape,
                 const float* q, const float* k, const float* v, float* out,
                 kernels::AttentionWorkspace& workspace, const kernels::AttentionOutputs& extra) {
  const int threads = core::thread_count();
  const double work = static_cast<double>(shape.num_queries) * shape.num_keys * shape.num_heads *
                      (shape.head_dim + std::max(shape.value_dim, shape.head_dim));
  if (threads == 1 || shape.num_queries < 2 || work < (1 << 21)) {
    return kernels::attention(config, shape, q, k, v, out, workspace, extra);
  }
  if (Status s = kernels::attention_validate(config, shape, q, k, v, out); !s.is_ok()) return s;
  const int heads = shape.num_heads;
  const int value_dim = shape.value_dim ? shape.value_dim : shape.head_dim;
  // Every chunk's call gets explicit strides: the defaults depend on num_heads, which a head split
  // changes.
  kernels::AttentionShape whole = shape;
  whole.q_stride = shape.q_stride ? shape.q_stride : heads * shape.head_dim;
  whole.k_stride = shape.k_stride ? shape.k_stride : heads * shape.head_dim;
  whole.v_stride = shape.v_stride ? shape.v_stride : heads * value_dim;
  whole.out_stride = shape.out_stride ? shape.out_stride : heads * value_dim;
  const int entropy_stride = extra.entropy_stride ? extra.entropy_stride : heads;

  if (worker_attention.size() < static_cast<std::size_t>(threads)) worker_attention.resize(threads);
  kernels::AttentionShape one_head = whole;
  one_head.num_heads = 1;
  for (int t = 1; t < threads; ++t) {
    if (Status s = worker_attention[t].reserve(one_head); !s.is_ok()) return s;
  }
  if (Status s = workspace.reserve(one_head); !s.is_ok()) return s;
  auto workspace_here = [&]() -> kernels::AttentionWorkspace& {
    const int index = core::thread_index();
    return index == 0 ? workspace : worker_attention[index];
  };

  FirstFailure failure;
  if (heads >= threads) {
    core::parallel_for(heads, 1, [&](std::size_t begin, std::size_t end) {
      kernels::AttentionShape part = whole;
      part.num_heads = static_cast<int>(end - begin);
      kernels::AttentionOutputs part_extra = extra;
      if (extra.entropy) {
        part_extra.entropy = extra.entropy + begin;
        part_extra.entropy_stride = entropy_stride;
      }
      const std::size_t qk_offset = begin * shape.head_dim;
      const std::size_t v_offset = begin * value_dim;
      failure.record(kernels::attention(config, part, q + qk_offset, k + qk_offset, v + v_offset,
                                        out + v_offset, workspace_here(), part_extra));
    });
    return failure.take();
  }
  // Blocks of queries. The kernel walks the keys once per block of kAttentionRowBlock queries
  // counted from the call's first query, starting at the block's first visible key: chunks made of
  // whole blocks keep every row's sums (windowed and banded masks too) as in one call. Causal rows
  // grow with the position, so about eight chunks per thread keep the threads evenly loaded.
  const std::size_t queries = static_cast<std::size_t>(shape.num_queries);
  const std::size_t per_thread = queries / (8 * static_cast<std::size_t>(threads));
  const std::size_t chunk =
      std::max<std::size_t>(2, (per_thread + kAttentionRowBlock - 1) / kAttentionRowBlock) *
      kAttentionRowBlock;
  // The last chunk takes the rows past the last whole chunk: a chunk of fewer than 4 rows would
  // take the kernel's one-row path, whose sums are grouped differently.
  const std::size_t chunks = std::max<std::size_t>(1, queries / chunk);
  core::parallel_for(chunks, 1, [&](std::size_t first_chunk, std::size_t end_chunk) {
    const std::size_t begin = first_chunk * chunk;
    const std::size_t end = end_chunk == chunks ? queries : end_chunk * chunk;
    kernels::AttentionShape part = whole;
    part.num_queries = static_cast<int>(end - begin);
    part.query_position = shape.query_position + static_cast<int>(begin);
    kernels::AttentionOutputs part_extra = extra;
    if (extra.entropy) {
      part_extra.entropy = extra.entropy + begin * entropy_stride;
      part_extra.entropy_stride = entropy_stride;
    }
    failure.record(kernels::attention(config, part, q + begin * whole.q_stride, k, v,
                                      out + begin * whole.out_stride, workspace_here(),
                                      part_extra));
  });
  return failure.take();
}

Status conv3x3_winograd(const kernels::Conv3x3Shape& shape, const float* x, const float* packed,
                        float* y, kernels::Activation activation, float* scratch) {
  const int threads = core::thread_count();
  if (threads == 1 || shape.batch < 2 || shape.height <= 0 || shape.width <= 0 ||
      shape.in_channels <= 0 || shape.out_channels <= 0) {
    return kernels::conv3x3_winograd(shape, x, packed, y, activation, scratch);
  }
  kernels::Conv3x3Shape image = shape;
  image.batch = 1;
  const std::size_t scratch_floats = kernels::conv3x3_winograd_scratch_floats(image);
  if (worker_conv_scratch.size() < static_cast<std::size_t>(threads))
    worker_conv_scratch.resize(threads);
  for (int t = 1; t < threads; ++t) {
    if (worker_conv_scratch[t].size() >= scratch_floats) continue;
    Result<FloatBuffer> buffer =
        FloatBuffer::allocate(scratch_floats, "a convolution thread's scratch");
    if (!buffer) return buffer.status();
    worker_conv_scratch[t] = std::move(buffer).value();
  }
  const std::size_t in_image =
      static_cast<std::size_t>(shape.height) * shape.width * shape.in_channels;
  const std::size_t out_image =
      static_cast<std::size_t>(shape.height) * shape.width * shape.out_channels;
  FirstFailure failure;
  core::parallel_for(
      static_cast<std::size_t>(shape.batch), 1, [&](std::size_t begin, std::size_t end) {
        const int index = core::thread_index();
        float* own = index == 0 ? scratch : worker_conv_scratch[index].data();
        kernels::Conv3x3Shape part = shape;
        part.batch = static_cast<int>(end - begin);
        failure.record(kernels::conv3x3_winograd(part, x + begin * in_image, packed,
                                                 y + begin * out_image, activation, own));
      });
  return failure.take();
}

Status group_norm_images(const float* x, float* y, int images, int channels, int pixels, int groups,
                         const float* gamma, const float* beta, float eps,
                         kernels::GroupNormLayout layout) {
  const std::size_t per_image =
      static_cast<std::size_t>(std::max(channels, 0)) * std::max(pixels, 0);
  // Small images are normalised faster than the workers wake.
  const std::size_t min_images =
      per_image >= (1 << 14) ? 1 : (1 << 14) / std::max<std::size_t>(per_image, 1);
  FirstFailure failure;
  core::parallel_for(
      static_cast<std::size_t>(std::max(images, 0)), min_images,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t b = begin; b < end; ++b) {
          failure.record(kernels::group_norm(x + b * per_image, y + b * per_image, channels, pixels,
                                             groups, gamma, beta, eps, layout));
        }
      });
  return failure.take();
}

}  // namespace gyre::parallel
