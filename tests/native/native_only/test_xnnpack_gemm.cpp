// Differential test: Gyre's GEMM against XNNPACK's fully-connected operator (Debian libxnnpack-dev,
// 2022 API: xnn_create_fully_connected_nc_f32(in, out, in_stride, out_stride, kernel[out][in],
// bias, min, max, flags, &op)). Same shapes as the reference tests, M, N, K in 1..70 plus blocked
// sizes; XNNPACK's ReLU is its output clamp [0, +inf).
#include <doctest/doctest.h>
#include <xnnpack.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/gemm.h"

namespace k = gyre::kernels;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct XnnOutput {
  bool ok = false;
  std::vector<float> y;
};

// y[M,N] = x[M,K] · Wᵀ + bias with W [N,K] (nn.Linear layout), clamped to [lo, hi].
XnnOutput xnnpack_fully_connected(int M, int N, int K, const std::vector<float>& x,
                                  const std::vector<float>& w, const std::vector<float>& bias,
                                  float lo, float hi) {
  XnnOutput out;
  out.y.assign(static_cast<std::size_t>(M) * N, 0.0f);
  xnn_operator_t op = nullptr;
  if (xnn_create_fully_connected_nc_f32(K, N, K, N, w.data(), bias.data(), lo, hi, 0, &op) !=
      xnn_status_success)
    return out;
  out.ok = xnn_setup_fully_connected_nc_f32(op, M, x.data(), out.y.data(), nullptr) ==
               xnn_status_success &&
           xnn_run_operator(op, nullptr) == xnn_status_success;
  xnn_delete_operator(op);
  return out;
}

void compare(std::mt19937& rng, int M, int N, int K, k::Activation act) {
  CAPTURE(M);
  CAPTURE(N);
  CAPTURE(K);
  CAPTURE(static_cast<int>(act));
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(M) * K), w(static_cast<std::size_t>(N) * K),
      bias(N);
  for (float& v : x) v = uniform(rng);
  for (float& v : w) v = uniform(rng);
  for (float& v : bias) v = uniform(rng);
  const XnnOutput want =
      xnnpack_fully_connected(M, N, K, x, w, bias, act == k::Activation::relu ? 0.0f : -kInf, kInf);
  REQUIRE(want.ok);

  // Ours, from the same [out, in] weight: packed with transposed = true, and gemm_nt unpacked.
  std::vector<float> packed(k::gemm_packed_size(K, N));
  REQUIRE(k::gemm_pack_b(w.data(), K, N, K, true, packed.data()).is_ok());
  std::vector<float> y(static_cast<std::size_t>(M) * N), y_nt(y.size());
  REQUIRE(
      k::gemm_packed(M, N, K, x.data(), K, packed.data(), y.data(), N, bias.data(), act).is_ok());
  REQUIRE(k::gemm_nt(M, N, K, x.data(), K, w.data(), K, y_nt.data(), N, bias.data(), act).is_ok());
  int bad = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const float tolerance = 3e-6f * static_cast<float>(K + 2);
    if (!(std::fabs(y[i] - want.y[i]) <= tolerance) ||
        !(std::fabs(y_nt[i] - want.y[i]) <= tolerance)) {
      if (bad < 3)
        MESSAGE("i=" << i << " ours " << y[i] << " / " << y_nt[i] << ", XNNPACK " << want.y[i]);
      ++bad;
    }
  }
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("gemm vs XNNPACK fully-connected: random shapes 1..70, edges and cache blocks") {
  REQUIRE(xnn_initialize(nullptr) == xnn_status_success);
  std::mt19937 rng(2024);
  for (int M : {1, 2, 3, 4, 5, 8, 13, 64, 70})
    for (int N : {1, 7, 8, 9, 33, 70})
      for (int K : {1, 3, 16, 65})
        compare(rng, M, N, K, (M + N + K) % 2 ? k::Activation::relu : k::Activation::none);
  std::uniform_int_distribution<int> size(1, 70);
  for (int trial = 0; trial < 40; ++trial)
    compare(rng, size(rng), size(rng), size(rng), k::Activation::none);
  compare(rng, 37, 300, 600, k::Activation::relu);
  compare(rng, 1, 515, 257, k::Activation::none);
}
