// 2×2 average pooling and nearest 2× upsampling of NHWC images (kernels/resample.h) against their
// definitions, on channel counts around the 4-wide SIMD body; the SIMD body and its scalar twin
// give the same bits.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/resample.h"

namespace k = gyre::kernels;
using gyre::ErrorCode;

namespace {

std::vector<float> random_images(int batch, int side, int channels, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-3.0f, 3.0f);
  std::vector<float> x(static_cast<std::size_t>(batch) * side * side * channels);
  for (float& v : x) v = uniform(rng);
  return x;
}

std::size_t at(int b, int i, int j, int c, int side, int channels) {
  return ((static_cast<std::size_t>(b) * side + i) * side + j) * channels + c;
}

}  // namespace

TEST_CASE("avg_pool_2x2: the mean of each 2x2 block, SIMD and scalar bit for bit") {
  for (int channels : {1, 3, 4, 5, 8, 9, 32}) {
    for (int side : {2, 4, 14}) {
      CAPTURE(channels);
      CAPTURE(side);
      const int batch = 2, half = side / 2;
      const std::vector<float> x = random_images(batch, side, channels, channels * 100 + side);
      std::vector<float> y(static_cast<std::size_t>(batch) * half * half * channels, -1.0f);
      std::vector<float> y_scalar(y);
      REQUIRE(k::avg_pool_2x2(x.data(), y.data(), batch, side, channels).is_ok());
      REQUIRE(k::avg_pool_2x2_scalar(x.data(), y_scalar.data(), batch, side, channels).is_ok());
      CHECK(y == y_scalar);
      int mismatches = 0;
      for (int b = 0; b < batch; ++b)
        for (int i = 0; i < half; ++i)
          for (int j = 0; j < half; ++j)
            for (int c = 0; c < channels; ++c) {
              const float want = (x[at(b, 2 * i, 2 * j, c, side, channels)] +
                                  x[at(b, 2 * i, 2 * j + 1, c, side, channels)] +
                                  x[at(b, 2 * i + 1, 2 * j, c, side, channels)] +
                                  x[at(b, 2 * i + 1, 2 * j + 1, c, side, channels)]) *
                                 0.25f;
              mismatches += y[at(b, i, j, c, half, channels)] != want;
            }
      CHECK(mismatches == 0);
    }
  }
}

TEST_CASE("upsample_nearest_2x: every output pixel copies its source pixel") {
  for (int channels : {1, 3, 8}) {
    for (int side : {1, 3, 7}) {
      CAPTURE(channels);
      CAPTURE(side);
      const int batch = 3, twice = 2 * side;
      const std::vector<float> x = random_images(batch, side, channels, channels * 10 + side);
      std::vector<float> y(static_cast<std::size_t>(batch) * twice * twice * channels, -1.0f);
      REQUIRE(k::upsample_nearest_2x(x.data(), y.data(), batch, side, channels).is_ok());
      int mismatches = 0;
      for (int b = 0; b < batch; ++b)
        for (int i = 0; i < twice; ++i)
          for (int j = 0; j < twice; ++j)
            for (int c = 0; c < channels; ++c)
              mismatches +=
                  y[at(b, i, j, c, twice, channels)] != x[at(b, i / 2, j / 2, c, side, channels)];
      CHECK(mismatches == 0);
    }
  }
}

TEST_CASE("resample: bad sizes and buffers are BAD_ARGUMENT and write nothing") {
  std::vector<float> x(64, 1.0f), y(64, -1.0f);
  CHECK(k::avg_pool_2x2(x.data(), y.data(), 1, 3, 1).code() == ErrorCode::kBadArgument);
  CHECK(k::avg_pool_2x2_scalar(x.data(), y.data(), 1, 3, 1).code() == ErrorCode::kBadArgument);
  CHECK(k::avg_pool_2x2(x.data(), y.data(), -1, 2, 1).code() == ErrorCode::kBadArgument);
  CHECK(k::avg_pool_2x2(nullptr, y.data(), 1, 2, 1).code() == ErrorCode::kBadArgument);
  CHECK(k::upsample_nearest_2x(x.data(), nullptr, 1, 2, 1).code() == ErrorCode::kBadArgument);
  CHECK(k::upsample_nearest_2x(x.data(), y.data(), 1, 2, -4).code() == ErrorCode::kBadArgument);
  CHECK(k::upsample_nearest_2x(x.data(), y.data(), 1, 1 << 30, 1).code() ==
        ErrorCode::kBadArgument);
  CHECK(y == std::vector<float>(64, -1.0f));
  // Nothing to do is fine, null buffers included.
  CHECK(k::avg_pool_2x2(nullptr, nullptr, 0, 4, 4).is_ok());
  CHECK(k::upsample_nearest_2x(nullptr, nullptr, 2, 0, 4).is_ok());
}
