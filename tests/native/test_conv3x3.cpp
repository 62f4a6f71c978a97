// Winograd F(2×2, 3×3) convolution against the direct sum in double precision: odd and even image
// sizes (partial tiles), 1×1 images, channel counts off the SIMD width, every activation, batches
// that span several tile chunks; the scalar twin alike; bad arguments.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "attention_reference.h"
#include "kernels/conv3x3.h"

using namespace gyre::kernels;
using gyre::ErrorCode;
using gyre::test::random_floats;

namespace {

struct ConvCase {
  Conv3x3Shape shape;
  Activation activation;
};

double max_error(const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(got[i] - want[i])));
  return worst;
}

}  // namespace

TEST_CASE("conv3x3 Winograd equals the direct 3x3 convolution") {
  std::mt19937 rng(5);
  std::vector<ConvCase> cases;
  for (int side : {1, 2, 3, 7, 14}) {
    for (int c_in : {1, 3, 4, 9}) {
      for (int c_out : {1, 5, 8, 12}) {
        cases.push_back({{2, side, side, c_in, c_out}, Activation::none});
      }
    }
  }
  cases.push_back({{1, 5, 9, 6, 7}, Activation::silu});  // not square
  cases.push_back(
      {{3, 28, 28, 32, 32}, Activation::silu});  // the U-Net's top level, several chunks
  cases.push_back({{16, 7, 7, 64, 64}, Activation::relu});
  cases.push_back({{1, 28, 28, 32, 1}, Activation::gelu});  // the head
  for (const ConvCase& test : cases) {
    const Conv3x3Shape& s = test.shape;
    const auto x =
        random_floats(rng, static_cast<std::size_t>(s.batch) * s.height * s.width * s.in_channels);
    const auto w = random_floats(rng, static_cast<std::size_t>(s.out_channels) * s.in_channels * 9,
                                 1.0f / std::sqrt(9.0f * s.in_channels));
    std::vector<float> packed(conv3x3_winograd_packed_size(s.in_channels, s.out_channels));
    REQUIRE(conv3x3_winograd_pack(w.data(), s.in_channels, s.out_channels, packed.data()).is_ok());
    const std::size_t out_count =
        static_cast<std::size_t>(s.batch) * s.height * s.width * s.out_channels;
    std::vector<float> want(out_count), got(out_count, NAN), got_scalar(out_count, NAN);
    std::vector<float> scratch(conv3x3_winograd_scratch_floats(s));
    conv3x3_reference(s, x.data(), w.data(), want.data(), test.activation);
    REQUIRE(
        conv3x3_winograd(s, x.data(), packed.data(), got.data(), test.activation, scratch.data())
            .is_ok());
    REQUIRE(conv3x3_winograd_scalar(s, x.data(), packed.data(), got_scalar.data(), test.activation,
                                    scratch.data())
                .is_ok());
    double scale = 1;
    for (float v : want) scale = std::max(scale, static_cast<double>(std::abs(v)));
    const double error = std::max(max_error(got, want), max_error(got_scalar, want));
    CHECK_MESSAGE(error <= 2e-6 * scale * std::sqrt(9.0 * s.in_channels),
                  "batch " << s.batch << " " << s.height << "x" << s.width << " " << s.in_channels
                           << "->" << s.out_channels << " error " << error);
  }
}

TEST_CASE("conv3x3 Winograd: bad arguments write nothing") {
  std::vector<float> x(64, 1.0f), w(9 * 4, 0.5f), y(64, 3.0f), scratch(4096);
  std::vector<float> packed(conv3x3_winograd_packed_size(2, 2));
  CHECK(conv3x3_winograd_pack(w.data(), 0, 2, packed.data()).code() == ErrorCode::kBadArgument);
  CHECK(conv3x3_winograd_pack(nullptr, 2, 2, packed.data()).code() == ErrorCode::kBadArgument);
  REQUIRE(conv3x3_winograd_pack(w.data(), 2, 2, packed.data()).is_ok());
  Conv3x3Shape s{1, 4, 4, 2, 2};
  CHECK(conv3x3_winograd(s, x.data(), packed.data(), nullptr, Activation::none, scratch.data())
            .code() == ErrorCode::kBadArgument);
  s.height = 0;
  CHECK(conv3x3_winograd(s, x.data(), packed.data(), y.data(), Activation::none, scratch.data())
            .code() == ErrorCode::kBadArgument);
  s.height = 1 << 20;
  s.width = 1 << 20;
  CHECK(conv3x3_winograd(s, x.data(), packed.data(), y.data(), Activation::none, scratch.data())
            .code() == ErrorCode::kTooLarge);
  for (float v : y) CHECK(v == 3.0f);
  s.height = s.width = 4;
  CHECK(conv3x3_winograd(s, x.data(), packed.data(), y.data(), Activation::none, scratch.data())
            .is_ok());
  CHECK(y[0] == doctest::Approx(4 * 2 * 0.5));  // a corner sees 2×2 taps of 2 channels of ones
}
