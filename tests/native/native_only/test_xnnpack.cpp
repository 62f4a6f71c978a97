// XNNPACK (Debian libxnnpack-dev) is linked into the native build as the kernels' oracle and
// baseline. This checks that it initializes and computes a small fully-connected layer correctly.
#include <doctest/doctest.h>
#include <xnnpack.h>

#include <cmath>
#include <limits>
#include <vector>

TEST_CASE("XNNPACK computes a fully-connected layer like the naive loop") {
  REQUIRE(xnn_initialize(nullptr) == xnn_status_success);

  constexpr size_t kBatch = 3, kIn = 5, kOut = 4;
  std::vector<float> input(kBatch * kIn), weights(kOut * kIn), bias(kOut), output(kBatch * kOut);
  for (size_t i = 0; i < input.size(); ++i) input[i] = 0.25f * static_cast<float>(i) - 1.0f;
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = std::sin(static_cast<float>(i));
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = 0.5f * static_cast<float>(i);

  xnn_operator_t op = nullptr;
  REQUIRE(xnn_create_fully_connected_nc_f32(kIn, kOut, kIn, kOut, weights.data(), bias.data(),
                                            -std::numeric_limits<float>::infinity(),
                                            std::numeric_limits<float>::infinity(), 0,
                                            &op) == xnn_status_success);
  REQUIRE(xnn_setup_fully_connected_nc_f32(op, kBatch, input.data(), output.data(), nullptr) ==
          xnn_status_success);
  REQUIRE(xnn_run_operator(op, nullptr) == xnn_status_success);
  xnn_delete_operator(op);

  for (size_t b = 0; b < kBatch; ++b) {
    for (size_t o = 0; o < kOut; ++o) {
      float expected = bias[o];
      for (size_t i = 0; i < kIn; ++i) expected += input[b * kIn + i] * weights[o * kIn + i];
      CHECK(output[b * kOut + o] == doctest::Approx(expected).epsilon(1e-5));
    }
  }
}
