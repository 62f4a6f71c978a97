// The thread pool and the kernels split over it: every index runs exactly once whatever the thread
// and chunk counts, nested calls run serially, and the split GEMM, attention (by heads and by
// query blocks), convolution and GroupNorm give the same bits as one call of the kernel. The
// threaded wasm flavours have the same check in tests/js/threads.test.mjs.
#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <vector>

#include "attention_reference.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"

using namespace gyre;
using gyre::test::random_floats;

namespace {

// Restores one thread at the end of a test case, whatever happened in it.
struct Threads {
  explicit Threads(int count) { REQUIRE(core::set_thread_count(count).is_ok()); }
  ~Threads() { core::stop_threads(); }
};

// The single-thread builds (wasm-simd, wasm-relaxed, wasm-scalar) run this suite too: there the
// pool can only refuse more than one thread, which the last case checks.
const bool kSingleThreadBuild = !core::threads_available();

}  // namespace

TEST_CASE("thread pool: every index once, for any thread and chunk count" *
          doctest::skip(kSingleThreadBuild)) {
  for (int threads : {1, 2, 3, 4}) {
    Threads pool(threads);
    CHECK(core::thread_count() == threads);
    for (std::size_t count : {1u, 7u, 64u, 1000u}) {
      for (std::size_t chunk : {1u, 3u, 64u, 5000u}) {
        std::vector<std::atomic<int>> hits(count);
        for (int repeat = 0; repeat < 20; ++repeat) {
          core::parallel_for(count, chunk, [&](std::size_t begin, std::size_t end) {
            for (std::size_t i = begin; i < end; ++i) hits[i].fetch_add(1);
          });
        }
        int wrong = 0;
        for (auto& h : hits) wrong += h.load() != 20;
        CHECK_MESSAGE(wrong == 0, threads << " threads, count " << count << ", chunk " << chunk);
      }
    }
  }
}

TEST_CASE("thread pool: nested calls run serially, workers see their index, bad counts refused" *
          doctest::skip(kSingleThreadBuild)) {
  Threads pool(3);
  std::atomic<int> inner{0};
  std::atomic<int> bad_index{0};
  core::parallel_for(12, 1, [&](std::size_t, std::size_t) {
    const int index = core::thread_index();
    if (index < 0 || index >= 3) bad_index.fetch_add(1);
    core::parallel_for(10, 1, [&](std::size_t begin, std::size_t end) {
      if (core::thread_index() != index) bad_index.fetch_add(1);
      inner.fetch_add(static_cast<int>(end - begin));
    });
  });
  CHECK(inner.load() == 120);
  CHECK(bad_index.load() == 0);
  CHECK(core::set_thread_count(0).code() == ErrorCode::kBadArgument);
  CHECK(core::set_thread_count(core::kMaxThreads + 1).code() == ErrorCode::kBadArgument);
}

TEST_CASE("parallel GEMM equals one call bit for bit" * doctest::skip(kSingleThreadBuild)) {
  std::mt19937 rng(13);
  struct Shape {
    int M, N, K;
  };
  for (Shape s : {Shape{37, 70, 300}, Shape{128, 256, 256}, Shape{250, 40, 513}}) {
    const auto a = random_floats(rng, static_cast<std::size_t>(s.M) * s.K);
    const auto b = random_floats(rng, static_cast<std::size_t>(s.K) * s.N);
    const auto bias = random_floats(rng, static_cast<std::size_t>(s.N));
    std::vector<float> packed(kernels::gemm_packed_size(s.K, s.N));
    REQUIRE(kernels::gemm_pack_b(b.data(), s.K, s.N, s.N, false, packed.data()).is_ok());
    std::vector<float> want(static_cast<std::size_t>(s.M) * s.N);
    REQUIRE(kernels::gemm_packed(s.M, s.N, s.K, a.data(), s.K, packed.data(), want.data(), s.N,
                                 bias.data(), kernels::Activation::silu)
                .is_ok());
    for (int threads : {2, 3}) {
      Threads pool(threads);
      std::vector<float> got(want.size());
      REQUIRE(parallel::gemm_packed(s.M, s.N, s.K, a.data(), s.K, packed.data(), got.data(), s.N,
                                    bias.data(), kernels::Activation::silu)
                  .is_ok());
      CHECK_MESSAGE(got == want, s.M << "x" << s.N << "x" << s.K << ", " << threads << " threads");
    }
  }
}

TEST_CASE("parallel attention (heads, query blocks) equals one call bit for bit" *
          doctest::skip(kSingleThreadBuild)) {
  std::mt19937 rng(17);
  struct Case {
    int heads, queries, head_dim;
    kernels::AttentionMask mask;
    kernels::AttentionNormaliser normaliser;
  };
  using kernels::AttentionMask;
  using kernels::AttentionNormaliser;
  for (Case c : {Case{1, 700, 64, AttentionMask::causal, AttentionNormaliser::softmax},
                 Case{1, 513, 32, AttentionMask::causal_window, AttentionNormaliser::softmax_plus},
                 Case{4, 300, 32, AttentionMask::causal, AttentionNormaliser::relu2},
                 Case{2, 400, 48, AttentionMask::band, AttentionNormaliser::softmax}}) {
    kernels::AttentionConfig config;
    config.mask = c.mask;
    config.normaliser = c.normaliser;
    config.window = 77;
    config.scale = 0.125f;
    kernels::AttentionShape shape;
    shape.num_queries = shape.num_keys = c.queries;
    shape.num_heads = c.heads;
    shape.head_dim = c.head_dim;
    const std::size_t size = static_cast<std::size_t>(c.queries) * c.heads * c.head_dim;
    const auto q = random_floats(rng, size), k = random_floats(rng, size),
               v = random_floats(rng, size);
    std::vector<float> want(size), want_entropy(static_cast<std::size_t>(c.queries) * c.heads);
    kernels::AttentionWorkspace workspace;
    REQUIRE(kernels::attention(config, shape, q.data(), k.data(), v.data(), want.data(), workspace,
                               {want_entropy.data(), 0})
                .is_ok());
    for (int threads : {2, 3}) {
      Threads pool(threads);
      std::vector<float> got(size), entropy(want_entropy.size());
      REQUIRE(parallel::attention(config, shape, q.data(), k.data(), v.data(), got.data(),
                                  workspace, {entropy.data(), 0})
                  .is_ok());
      CHECK_MESSAGE(got == want,
                    c.heads << " heads, " << c.queries << " queries, " << threads << " threads");
      CHECK(entropy == want_entropy);
    }
  }
}

TEST_CASE("parallel convolution and GroupNorm over a batch equal one call bit for bit" *
          doctest::skip(kSingleThreadBuild)) {
  std::mt19937 rng(19);
  const kernels::Conv3x3Shape shape{5, 14, 14, 8, 16};
  const auto x = random_floats(rng, static_cast<std::size_t>(5) * 14 * 14 * 8);
  const auto weight = random_floats(rng, static_cast<std::size_t>(16) * 8 * 9, 0.2f);
  std::vector<float> packed(kernels::conv3x3_winograd_packed_size(8, 16));
  REQUIRE(kernels::conv3x3_winograd_pack(weight.data(), 8, 16, packed.data()).is_ok());
  std::vector<float> scratch(kernels::conv3x3_winograd_scratch_floats(shape));
  std::vector<float> want(static_cast<std::size_t>(5) * 14 * 14 * 16);
  REQUIRE(kernels::conv3x3_winograd(shape, x.data(), packed.data(), want.data(),
                                    kernels::Activation::silu, scratch.data())
              .is_ok());
  std::vector<float> want_norm(want.size());
  for (int b = 0; b < 5; ++b) {
    const std::size_t at = static_cast<std::size_t>(b) * 14 * 14 * 16;
    REQUIRE(kernels::group_norm(want.data() + at, want_norm.data() + at, 16, 14 * 14, 4, nullptr,
                                nullptr, 1e-5f, kernels::GroupNormLayout::channels_last)
                .is_ok());
  }
  for (int threads : {2, 3}) {
    Threads pool(threads);
    std::vector<float> got(want.size()), got_norm(want.size());
    REQUIRE(parallel::conv3x3_winograd(shape, x.data(), packed.data(), got.data(),
                                       kernels::Activation::silu, scratch.data())
                .is_ok());
    CHECK(got == want);
    REQUIRE(parallel::group_norm_images(got.data(), got_norm.data(), 5, 16, 14 * 14, 4, nullptr,
                                        nullptr, 1e-5f, kernels::GroupNormLayout::channels_last)
                .is_ok());
    CHECK(got_norm == want_norm);
  }
}

TEST_CASE("a single-thread build refuses more than one thread" *
          doctest::skip(!kSingleThreadBuild)) {
  CHECK(core::set_thread_count(1).is_ok());
  CHECK(core::thread_count() == 1);
  CHECK(core::set_thread_count(2).code() == ErrorCode::kBadArgument);
  CHECK(core::thread_count() == 1);
}
