// Vector math: the public (SIMD in SIMD builds) functions and their scalar twins against double
// precision references, on every length around the 4- and 8-wide bodies, with special values.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/simd_math.h"
#include "kernels/vecmath.h"

namespace k = gyre::kernels;
using gyre::ErrorCode;
using gyre::Status;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> random_vector(std::mt19937& rng, std::size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> uniform(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = uniform(rng);
  return v;
}

using Unary = Status (*)(const float*, float*, int);

double gelu_ref(double x) {
  return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}
double sigmoid_ref(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

struct UnaryCase {
  const char* name;
  Unary simd;
  Unary scalar;
  std::function<double(double)> ref;
  double rel_tol;
  double abs_tol;
  float lo, hi;
};

}  // namespace

TEST_CASE("vecmath: elementwise functions against double references on every length 0..37") {
#if defined(__wasm_relaxed_simd__)
  // The relaxed build reduces x in one fused step with the float ln 2 (simd_math.h): up to 2.4e-7
  // more at |x| near 88.
  constexpr double kExpTol = 4e-7;
#else
  constexpr double kExpTol = 3e-7;
#endif
  const UnaryCase cases[] = {
      {"exp", k::vec_exp, k::vec_exp_scalar, [](double x) { return std::exp(x); }, kExpTol, 0,
       -87.0f, 88.0f},
      {"sigmoid", k::vec_sigmoid, k::vec_sigmoid_scalar, sigmoid_ref, 5e-7, 1e-30, -30.0f, 30.0f},
      {"silu", k::vec_silu, k::vec_silu_scalar, [](double x) { return x * sigmoid_ref(x); }, 5e-7,
       1e-30, -30.0f, 30.0f},
      {"gelu", k::vec_gelu, k::vec_gelu_scalar, gelu_ref, 2e-6, 6e-7, -8.0f, 8.0f},
      {"relu", k::vec_relu, k::vec_relu_scalar, [](double x) { return x > 0 ? x : 0.0; }, 0, 0,
       -5.0f, 5.0f},
  };
  std::mt19937 rng(42);
  for (const UnaryCase& c : cases) {
    CAPTURE(c.name);
    for (int n = 0; n <= 37; ++n) {
      CAPTURE(n);
      const auto x = random_vector(rng, n + 1, c.lo, c.hi);
      std::vector<float> y(n + 1, -3.0f), ys(n + 1, -3.0f);
      REQUIRE(c.simd(x.data(), y.data(), n).is_ok());
      REQUIRE(c.scalar(x.data(), ys.data(), n).is_ok());
      CHECK(y[n] == -3.0f);  // nothing written past n
      for (int i = 0; i < n; ++i) {
        const double want = c.ref(x[i]);
        CHECK(std::fabs(y[i] - want) <= c.rel_tol * std::fabs(want) + c.abs_tol);
        CHECK(std::fabs(ys[i] - want) <= c.rel_tol * std::fabs(want) + c.abs_tol);
      }
    }
  }
}

TEST_CASE("vecmath: exp relative error <= 1e-6 over the whole softmax range, SIMD = scalar twin") {
  std::vector<float> x;
  for (float v = -87.0f; v <= 0.0f; v += 0.0037f) x.push_back(v);
  for (float v = 0.0f; v <= 88.3f; v += 0.0041f) x.push_back(v);
  std::vector<float> y(x.size()), ys(x.size());
  REQUIRE(k::vec_exp(x.data(), y.data(), static_cast<int>(x.size())).is_ok());
  REQUIRE(k::vec_exp_scalar(x.data(), ys.data(), static_cast<int>(x.size())).is_ok());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(static_cast<double>(x[i]));
    worst = std::max(worst, std::fabs(y[i] - want) / want);
#if defined(__wasm_relaxed_simd__)
    // Fused multiply-adds round once where the scalar twin rounds twice: equal to a few ulp.
    CHECK(std::fabs(y[i] - ys[i]) <= 4e-7 * std::fabs(ys[i]));
#else
    CHECK(y[i] == ys[i]);
#endif
  }
  MESSAGE("exp max relative error " << worst);
  CHECK(worst <= 1e-6);
}

TEST_CASE("vecmath: exp and the activations at special values") {
  const float x[] = {-kInf, kInf, std::nanf(""), -100.0f, 100.0f, 0.0f, -0.0f, 88.0f};
  float y[8], ys[8];
  REQUIRE(k::vec_exp(x, y, 8).is_ok());
  REQUIRE(k::vec_exp_scalar(x, ys, 8).is_ok());
  for (const float* out : {y, ys}) {
    CHECK(out[0] == 0.0f);
    CHECK(out[1] == kInf);
    CHECK(std::isnan(out[2]));
    CHECK(out[3] == 0.0f);
    CHECK(out[4] == kInf);
    CHECK(out[5] == 1.0f);
    CHECK(out[6] == 1.0f);
    CHECK(std::fabs(out[7] / std::exp(88.0) - 1) < 1e-6);
  }
  const float big[] = {-kInf, kInf, -200.0f, 200.0f};
  float s[4];
  REQUIRE(k::vec_sigmoid(big, s, 4).is_ok());
  CHECK(s[0] == 0.0f);
  CHECK(s[1] == 1.0f);
  CHECK(s[2] == 0.0f);
  CHECK(s[3] == 1.0f);
  REQUIRE(k::vec_silu(big + 2, s, 2).is_ok());
  CHECK(s[0] == doctest::Approx(0.0));
  CHECK(s[1] == 200.0f);
  REQUIRE(k::vec_gelu(big + 2, s, 2).is_ok());
  CHECK(s[0] == doctest::Approx(0.0));
  CHECK(s[1] == 200.0f);
}

TEST_CASE("vecmath: add and mul, in place allowed") {
  std::mt19937 rng(1);
  for (int n : {0, 1, 3, 4, 5, 17}) {
    auto a = random_vector(rng, n, -2, 2), b = random_vector(rng, n, -2, 2);
    std::vector<float> sum(n), prod(n), sum_s(n), prod_s(n);
    REQUIRE(k::vec_add(a.data(), b.data(), sum.data(), n).is_ok());
    REQUIRE(k::vec_mul(a.data(), b.data(), prod.data(), n).is_ok());
    REQUIRE(k::vec_add_scalar(a.data(), b.data(), sum_s.data(), n).is_ok());
    REQUIRE(k::vec_mul_scalar(a.data(), b.data(), prod_s.data(), n).is_ok());
    for (int i = 0; i < n; ++i) {
      CHECK(sum[i] == a[i] + b[i]);
      CHECK(prod[i] == a[i] * b[i]);
      CHECK(sum_s[i] == sum[i]);
      CHECK(prod_s[i] == prod[i]);
    }
    REQUIRE(k::vec_add(a.data(), b.data(), a.data(), n).is_ok());
    CHECK(a == sum);
  }
}

namespace {

void softmax_ref(const float* x, double* y, int n) {
  double m = -INFINITY, s = 0;
  for (int i = 0; i < n; ++i) m = std::max(m, static_cast<double>(x[i]));
  for (int i = 0; i < n; ++i) s += std::exp(x[i] - m);
  for (int i = 0; i < n; ++i) y[i] = std::exp(x[i] - m) / s;
}

}  // namespace

TEST_CASE("softmax_rows: against double reference, strided, in place, -inf masks") {
  std::mt19937 rng(8);
  for (auto fn : {k::softmax_rows, k::softmax_rows_scalar}) {
    // The SIMD build pipelines rows (row r's exp with row r + 1's max and row r − 1's scaling):
    // one, two and several rows take each of its first, middle and last steps.
    for (int rows : {1, 2, 3, 5})
      for (int cols : {1, 2, 3, 4, 7, 8, 9, 16, 33, 100}) {
        CAPTURE(rows);
        CAPTURE(cols);
        const int stride = cols + 3;
        auto x = random_vector(rng, static_cast<std::size_t>(rows) * stride, -20, 20);
        // A masked entry in row 0 (for cols == 1, x[1] is padding; a fully masked row is below).
        x[1] = cols > 1 ? -kInf : 0.5f;
        std::vector<float> y(x.size(), 9.0f);
        REQUIRE(fn(x.data(), y.data(), rows, cols, stride).is_ok());
        std::vector<double> want(cols);
        for (int r = 0; r < rows; ++r) {
          softmax_ref(x.data() + r * stride, want.data(), cols);
          double total = 0;
          for (int c = 0; c < cols; ++c) {
            const float got = y[r * stride + c];
            CHECK(std::fabs(got - want[c]) <= 1e-6 * want[c] + 1e-7);
            total += got;
          }
          CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
          for (int c = cols; c < stride; ++c) CHECK(y[r * stride + c] == 9.0f);
        }
        if (cols > 1) CHECK(y[1] == 0.0f);
        // In place gives the same.
        auto inplace = x;
        REQUIRE(fn(inplace.data(), inplace.data(), rows, cols, stride).is_ok());
        for (int r = 0; r < rows; ++r)
          for (int c = 0; c < cols; ++c) CHECK(inplace[r * stride + c] == y[r * stride + c]);
      }
    // Large values do not overflow (max subtraction).
    const float big[] = {1000.0f, 1000.0f};
    float out[2];
    REQUIRE(fn(big, out, 1, 2, 2).is_ok());
    CHECK(out[0] == doctest::Approx(0.5));
    // A fully masked row is NaN, like PyTorch.
    const float masked[] = {-kInf, -kInf};
    REQUIRE(fn(masked, out, 1, 2, 2).is_ok());
    CHECK(std::isnan(out[0]));
  }
}

TEST_CASE("rms_norm and layer_norm: against double references, with and without gain/bias") {
  std::mt19937 rng(21);
  for (int cols : {1, 3, 4, 8, 13, 64, 129}) {
    const int rows = 4, stride = cols + 2;
    const auto x = random_vector(rng, static_cast<std::size_t>(rows) * stride, -3, 5);
    const auto gain = random_vector(rng, cols, 0.5f, 2), beta = random_vector(rng, cols, -1, 1);
    for (bool with_gain : {false, true}) {
      std::vector<float> y(x.size()), ys(x.size()), ln(x.size()), lns(x.size());
      const float* g = with_gain ? gain.data() : nullptr;
      const float* b = with_gain ? beta.data() : nullptr;
      REQUIRE(k::rms_norm(x.data(), y.data(), rows, cols, stride, g, 1e-6f).is_ok());
      REQUIRE(k::rms_norm_scalar(x.data(), ys.data(), rows, cols, stride, g, 1e-6f).is_ok());
      REQUIRE(k::layer_norm(x.data(), ln.data(), rows, cols, stride, g, b, 1e-5f).is_ok());
      REQUIRE(k::layer_norm_scalar(x.data(), lns.data(), rows, cols, stride, g, b, 1e-5f).is_ok());
      for (int r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * stride;
        double ms = 0, mean = 0, var = 0;
        for (int c = 0; c < cols; ++c) ms += static_cast<double>(xr[c]) * xr[c], mean += xr[c];
        ms /= cols;
        mean /= cols;
        for (int c = 0; c < cols; ++c) var += (xr[c] - mean) * (xr[c] - mean);
        var /= cols;
        for (int c = 0; c < cols; ++c) {
          const double rms_want = xr[c] / std::sqrt(ms + 1e-6) * (g ? g[c] : 1.0);
          const double ln_want =
              (xr[c] - mean) / std::sqrt(var + 1e-5) * (g ? g[c] : 1.0) + (b ? b[c] : 0.0);
          CHECK(std::fabs(y[r * stride + c] - rms_want) <= 2e-6 * (1 + std::fabs(rms_want)));
          CHECK(std::fabs(ys[r * stride + c] - rms_want) <= 2e-6 * (1 + std::fabs(rms_want)));
          CHECK(std::fabs(ln[r * stride + c] - ln_want) <= 5e-6 * (1 + std::fabs(ln_want)));
          CHECK(std::fabs(lns[r * stride + c] - ln_want) <= 5e-6 * (1 + std::fabs(ln_want)));
        }
      }
    }
  }
}

TEST_CASE(
    "group_norm: both layouts against a double reference; groups == channels is InstanceNorm") {
  std::mt19937 rng(77);
  struct Shape {
    int channels, pixels, groups;
  };
  for (Shape sh :
       {Shape{4, 9, 2}, Shape{8, 16, 4}, Shape{6, 5, 6}, Shape{64, 49, 32}, Shape{3, 1, 1},
        Shape{32, 784, 8}, Shape{2048, 3, 4} /* past the stack sweep: the per-group path */}) {
    CAPTURE(sh.channels);
    CAPTURE(sh.pixels);
    CAPTURE(sh.groups);
    const std::size_t n = static_cast<std::size_t>(sh.channels) * sh.pixels;
    const auto x = random_vector(rng, n, -2, 3);
    const auto gamma = random_vector(rng, sh.channels, 0.5f, 1.5f),
               beta = random_vector(rng, sh.channels, -1, 1);
    // Reference in channels_first layout.
    std::vector<double> want(n);
    const int per = sh.channels / sh.groups;
    for (int g = 0; g < sh.groups; ++g) {
      double mean = 0, var = 0;
      for (int c = g * per; c < (g + 1) * per; ++c)
        for (int p = 0; p < sh.pixels; ++p) mean += x[c * sh.pixels + p];
      mean /= per * sh.pixels;
      for (int c = g * per; c < (g + 1) * per; ++c)
        for (int p = 0; p < sh.pixels; ++p)
          var += (x[c * sh.pixels + p] - mean) * (x[c * sh.pixels + p] - mean);
      var /= per * sh.pixels;
      for (int c = g * per; c < (g + 1) * per; ++c)
        for (int p = 0; p < sh.pixels; ++p)
          want[c * sh.pixels + p] =
              (x[c * sh.pixels + p] - mean) / std::sqrt(var + 1e-6) * gamma[c] + beta[c];
    }
    std::vector<float> xt(n);  // channels_last copy
    for (int c = 0; c < sh.channels; ++c)
      for (int p = 0; p < sh.pixels; ++p) xt[p * sh.channels + c] = x[c * sh.pixels + p];
    for (auto fn : {k::group_norm, k::group_norm_scalar}) {
      std::vector<float> y(n), yt(n);
      REQUIRE(fn(x.data(), y.data(), sh.channels, sh.pixels, sh.groups, gamma.data(), beta.data(),
                 1e-6f, k::GroupNormLayout::channels_first)
                  .is_ok());
      REQUIRE(fn(xt.data(), yt.data(), sh.channels, sh.pixels, sh.groups, gamma.data(), beta.data(),
                 1e-6f, k::GroupNormLayout::channels_last)
                  .is_ok());
      for (int c = 0; c < sh.channels; ++c)
        for (int p = 0; p < sh.pixels; ++p) {
          const double w = want[c * sh.pixels + p];
          CHECK(std::fabs(y[c * sh.pixels + p] - w) <= 1e-5 * (1 + std::fabs(w)));
          CHECK(std::fabs(yt[p * sh.channels + c] - w) <= 1e-5 * (1 + std::fabs(w)));
        }
    }
  }
}

TEST_CASE("vecmath: bad arguments give BAD_ARGUMENT and write nothing") {
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8] = {};
  CHECK(k::vec_exp(x, y, -1).code() == ErrorCode::kBadArgument);
  CHECK(k::vec_exp(nullptr, y, 4).code() == ErrorCode::kBadArgument);
  CHECK(k::vec_exp(nullptr, nullptr, 0).is_ok());
  CHECK(k::vec_add(x, nullptr, y, 4).code() == ErrorCode::kBadArgument);
  Status s = k::softmax_rows(x, y, 2, 4, 3);
  CHECK(s.code() == ErrorCode::kBadArgument);
  CHECK(s.message().find("stride=3") != std::string::npos);
  CHECK(k::rms_norm(x, y, 1, 8, 8, nullptr, -1.0f).code() == ErrorCode::kBadArgument);
  CHECK(k::layer_norm(x, y, 1, 8, 8, nullptr, nullptr, std::nanf("")).code() ==
        ErrorCode::kBadArgument);
  s = k::group_norm(x, y, 8, 1, 3, nullptr, nullptr, 1e-5f);
  CHECK(s.code() == ErrorCode::kBadArgument);
  CHECK(s.message().find("divide") != std::string::npos);
  CHECK(k::group_norm(x, y, 8, 1, 0, nullptr, nullptr, 1e-5f).code() == ErrorCode::kBadArgument);
  for (float v : y) CHECK(v == 0.0f);
}

TEST_CASE("simd_math: exp_nonpositive matches exp on x <= 0, including -inf and NaN") {
  std::vector<float> x;
  for (float v = -100.0f; v <= 0.0f; v += 0.0173f) x.push_back(v);
  x.push_back(-kInf);
  x.push_back(0.0f);
  x.push_back(std::nanf(""));
  while (x.size() % 4) x.push_back(-1.0f);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float want = k::exp_scalar(x[i]);
    const float got = k::exp_nonpositive_scalar(x[i]);
    CHECK((got == want || (std::isnan(got) && std::isnan(want))));
  }
#if GYRE_SIMD128
  for (std::size_t i = 0; i < x.size(); i += 4) {
    float a[4], b[4];
    wasm_v128_store(a, k::exp_f32x4(wasm_v128_load(x.data() + i)));
    wasm_v128_store(b, k::exp_nonpositive_f32x4(wasm_v128_load(x.data() + i)));
    for (int l = 0; l < 4; ++l) CHECK((a[l] == b[l] || (std::isnan(a[l]) && std::isnan(b[l]))));
  }
#endif
}
