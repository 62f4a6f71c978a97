// GEMM against the double-accumulating reference: every entry point, every epilogue, every edge
// (M, N, K from 1 to 70 around the 4×8 tile, K and N across the cache blocks), padded strides.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/gemm.h"

using gyre::ErrorCode;
using gyre::Status;
using gyre::kernels::Activation;
using gyre::kernels::gemm;
using gyre::kernels::gemm_nt;
using gyre::kernels::gemm_pack_b;
using gyre::kernels::gemm_packed;
using gyre::kernels::gemm_packed_scalar;
using gyre::kernels::gemm_packed_size;

namespace {

std::size_t at(int row, int stride, int column) {
  return static_cast<std::size_t>(row) * stride + column;
}

// The oracle: a naive triple loop accumulating in double. B is [K,N] (ldb >= N) or, when
// b_transposed, [N,K] (ldb >= K).
void gemm_reference(int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                    bool b_transposed, float* C, int ldc, const float* bias,
                    Activation activation) {
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      double sum = bias ? bias[j] : 0.0;
      for (int k = 0; k < K; ++k) {
        const float b = b_transposed ? B[at(j, ldb, k)] : B[at(k, ldb, j)];
        sum += static_cast<double>(A[at(i, lda, k)]) * b;
      }
      C[at(i, ldc, j)] =
          gyre::kernels::apply_activation_scalar(static_cast<float>(sum), activation);
    }
  }
}

constexpr Activation kActivations[] = {Activation::none, Activation::relu, Activation::silu,
                                       Activation::gelu};

const char* name_of(Activation a) {
  switch (a) {
    case Activation::none:
      return "none";
    case Activation::relu:
      return "relu";
    case Activation::silu:
      return "silu";
    case Activation::gelu:
      return "gelu";
  }
  return "?";
}

enum class Path { packed, packed_scalar, unpacked, transposed };
const char* name_of(Path p) {
  switch (p) {
    case Path::packed:
      return "gemm_packed";
    case Path::packed_scalar:
      return "gemm_packed_scalar";
    case Path::unpacked:
      return "gemm";
    case Path::transposed:
      return "gemm_nt";
  }
  return "?";
}

std::vector<float> random_vector(std::mt19937& rng, std::size_t n) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = uniform(rng);
  return v;
}

// Runs one path on one shape and compares with the reference. Strides get padding so a kernel
// that ignores them fails; C's padding must survive untouched.
void check_shape(std::mt19937& rng, Path path, int M, int N, int K, bool with_bias,
                 Activation act) {
  CAPTURE(name_of(path));
  CAPTURE(M);
  CAPTURE(N);
  CAPTURE(K);
  CAPTURE(with_bias);
  CAPTURE(name_of(act));
  const bool transposed = path == Path::transposed;
  const int lda = K + 3, ldc = N + 5;
  const int ldb = transposed ? K + 2 : N + 1;
  const auto A = random_vector(rng, static_cast<std::size_t>(M) * lda + 1);
  const auto B = random_vector(rng, static_cast<std::size_t>(transposed ? N : K) * ldb + 1);
  const auto bias = random_vector(rng, N + 1);
  const float* bias_ptr = with_bias ? bias.data() : nullptr;
  const float sentinel = 12345.0f;
  std::vector<float> C(static_cast<std::size_t>(M) * ldc, sentinel), want(C);
  gemm_reference(M, N, K, A.data(), lda, B.data(), ldb, transposed, want.data(), ldc, bias_ptr,
                 act);

  Status s;
  std::vector<float> packed;
  switch (path) {
    case Path::packed:
    case Path::packed_scalar:
      packed.assign(gemm_packed_size(K, N), -7.0f);
      REQUIRE(gemm_pack_b(B.data(), K, N, ldb, false, packed.data()).is_ok());
      s = path == Path::packed
              ? gemm_packed(M, N, K, A.data(), lda, packed.data(), C.data(), ldc, bias_ptr, act)
              : gemm_packed_scalar(M, N, K, A.data(), lda, packed.data(), C.data(), ldc, bias_ptr,
                                   act);
      break;
    case Path::unpacked:
      s = gemm(M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, bias_ptr, act);
      break;
    case Path::transposed:
      s = gemm_nt(M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, bias_ptr, act);
      break;
  }
  REQUIRE(s.is_ok());
  int bad = 0;
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < ldc; ++j) {
      const float got = C[static_cast<std::size_t>(i) * ldc + j];
      const float ref = want[static_cast<std::size_t>(i) * ldc + j];
      if (j >= N) {
        if (got != sentinel) ++bad;  // padding of C written
        continue;
      }
      // Inputs are in [-1, 1]: the sum's rounding error grows with K at most like K·eps.
      const float tolerance = 2e-6f * static_cast<float>(K + 2) + 1e-6f * std::fabs(ref);
      if (!(std::fabs(got - ref) <= tolerance)) {
        if (bad < 3) MESSAGE("C[" << i << "," << j << "] = " << got << ", want " << ref);
        ++bad;
      }
    }
  }
  CHECK(bad == 0);
}

const int kEdgeSizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 23, 31, 33, 64, 65, 70};

}  // namespace

TEST_CASE("gemm: every path matches the reference on edge shapes around the 4x8 tile") {
  std::mt19937 rng(1234);
  for (Path path : {Path::packed, Path::packed_scalar, Path::unpacked, Path::transposed})
    for (int M : kEdgeSizes)
      for (int N : {1, 3, 7, 8, 9, 16, 17, 70})
        for (int K : {1, 2, 5, 8, 17, 70})
          check_shape(rng, path, M, N, K, (M + N + K) % 2 == 0, Activation::none);
}

TEST_CASE("gemm: random shapes with M, N, K in 1..70, bias and every activation") {
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> size(1, 70);
  for (Path path : {Path::packed, Path::packed_scalar, Path::unpacked, Path::transposed})
    for (Activation act : kActivations)
      for (int trial = 0; trial < 12; ++trial)
        check_shape(rng, path, size(rng), size(rng), size(rng), trial % 3 != 0, act);
}

TEST_CASE("gemm: N and K across the cache blocks (K-block accumulation, activation once)") {
  std::mt19937 rng(7);
  for (Path path : {Path::packed, Path::packed_scalar, Path::unpacked, Path::transposed}) {
    check_shape(rng, path, 9, 300, 600, true, Activation::gelu);
    check_shape(rng, path, 5, 515, 257, true, Activation::silu);
    check_shape(rng, path, 1, 263, 513, true, Activation::relu);  // GEMV with blocks
  }
}

TEST_CASE("gemm: M = 1 (the GEMV paths) on every panel count and edge") {
  std::mt19937 rng(5);
  for (int N : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 63, 64, 65})
    for (int K : {1, 2, 3, 7, 8, 9, 17, 64, 65})
      for (Activation act : kActivations) {
        check_shape(rng, Path::packed, 1, N, K, true, act);
        check_shape(rng, Path::packed_scalar, 1, N, K, false, act);
        check_shape(rng, Path::unpacked, 1, N, K, K % 2 == 0, act);
        check_shape(rng, Path::transposed, 1, N, K, K % 2 == 1, act);
      }
}

TEST_CASE("gemm: K = 0 gives act(bias); empty M or N writes nothing") {
  std::mt19937 rng(3);
  for (Path path : {Path::packed, Path::packed_scalar, Path::unpacked, Path::transposed}) {
    check_shape(rng, path, 3, 10, 0, true, Activation::gelu);
    check_shape(rng, path, 3, 10, 0, false, Activation::none);
  }
  std::vector<float> C(4, 1.0f);
  CHECK(gemm_packed(0, 4, 3, nullptr, 3, nullptr, C.data(), 4).is_ok());
  CHECK(gemm_packed(1, 0, 3, nullptr, 3, nullptr, C.data(), 4).is_ok());
  CHECK(C == std::vector<float>(4, 1.0f));
}

TEST_CASE("gemm: the transposed pack (nn.Linear weight [out,in]) equals packing the transpose") {
  std::mt19937 rng(11);
  const int K = 37, N = 29;
  const auto B = random_vector(rng, static_cast<std::size_t>(K) * N);
  std::vector<float> Bt(B.size());
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n)
      Bt[static_cast<std::size_t>(n) * K + k] = B[static_cast<std::size_t>(k) * N + n];
  std::vector<float> p1(gemm_packed_size(K, N)), p2(p1.size());
  REQUIRE(gemm_pack_b(B.data(), K, N, N, false, p1.data()).is_ok());
  REQUIRE(gemm_pack_b(Bt.data(), K, N, K, true, p2.data()).is_ok());
  CHECK(p1 == p2);
  CHECK(gemm_packed_size(K, N) == static_cast<std::size_t>(32 * K));
}

TEST_CASE("gemm: bad arguments give BAD_ARGUMENT and leave C untouched") {
  std::vector<float> A(16, 1.0f), B(16, 1.0f), C(16, 5.0f), packed(gemm_packed_size(4, 4));
  REQUIRE(gemm_pack_b(B.data(), 4, 4, 4, false, packed.data()).is_ok());
  auto expect_bad = [&](Status s, const char* needle) {
    CHECK(s.code() == ErrorCode::kBadArgument);
    CHECK(s.message().find(needle) != std::string::npos);
    CHECK(C == std::vector<float>(16, 5.0f));
  };
  expect_bad(gemm_packed(-1, 4, 4, A.data(), 4, packed.data(), C.data(), 4), "negative size");
  expect_bad(gemm_packed(4, 4, 4, nullptr, 4, packed.data(), C.data(), 4), "A is null");
  expect_bad(gemm_packed(4, 4, 4, A.data(), 4, nullptr, C.data(), 4), "B is null");
  expect_bad(gemm_packed(4, 4, 4, A.data(), 3, packed.data(), C.data(), 4), "lda=3");
  expect_bad(gemm_packed(4, 4, 4, A.data(), 4, packed.data(), C.data(), 2), "ldc=2");
  expect_bad(gemm(4, 4, 4, A.data(), 4, B.data(), 3, C.data(), 4), "ldb=3");
  expect_bad(gemm_nt(4, 4, 4, A.data(), 4, B.data(), 2, C.data(), 4), "ldb=2");
  expect_bad(
      gemm(4, 4, 4, A.data(), 4, B.data(), 4, C.data(), 4, nullptr, static_cast<Activation>(9)),
      "unknown activation");
  CHECK(gemm_pack_b(B.data(), 4, 4, 3, false, packed.data()).code() == ErrorCode::kBadArgument);
  CHECK(gemm_pack_b(B.data(), -4, 4, 4, false, packed.data()).code() == ErrorCode::kBadArgument);
  // Still usable afterwards.
  CHECK(gemm_packed(4, 4, 4, A.data(), 4, packed.data(), C.data(), 4).is_ok());
  CHECK(C[0] == 4.0f);
}
