#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "../golden/oracle_rope.inc"
#include "kernels/rope.h"

using gyre::Status;
using gyre::kernels::rope_apply;
using gyre::kernels::rope_apply_scalar;
using gyre::kernels::RopeLayout;
using gyre::kernels::RopeTable;

namespace {

RopeTable make_table(int head_dim, int max_positions, double base = 10000.0) {
  auto table = RopeTable::create(head_dim, max_positions, base);
  REQUIRE(table.is_ok());
  return std::move(table).value();
}

void rotate(const RopeTable& table, float* x, int rows, int row_stride, int num_heads = 1,
            int first_position = 0, RopeLayout layout = RopeLayout::interleaved) {
  REQUIRE(rope_apply(table, x, rows, row_stride, num_heads, first_position, layout).is_ok());
}

std::vector<float> to_float(const double* p, int n) {
  return std::vector<float>(p, p + n);
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

std::vector<float> random_vector(std::mt19937& rng, int n) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

}  // namespace

TEST_CASE("rope: hand-computed 2-D example") {
  // d = 2: one pair, θ_0 = 1, so position m rotates (x0, x1) by m radians.
  RopeTable table = make_table(2, 4);
  float x[2] = {1.0f, 2.0f};
  rotate(table, x, 1, 2, 1, 3);
  CHECK(x[0] == doctest::Approx(std::cos(3.0) - 2 * std::sin(3.0)).epsilon(1e-6));
  CHECK(x[1] == doctest::Approx(std::sin(3.0) + 2 * std::cos(3.0)).epsilon(1e-6));
  // d = 4, base 100: θ_1 = 100^(-1/2) = 0.1, so at position 2 pair 1 turns by 0.2 rad.
  RopeTable table4 = make_table(4, 3, 100.0);
  CHECK(table4.theta(1) == doctest::Approx(0.1));
  float y[4] = {1, 0, 0, 1};
  rotate(table4, y, 1, 4, 1, 2);
  CHECK(y[0] == doctest::Approx(std::cos(2.0)));
  CHECK(y[1] == doctest::Approx(std::sin(2.0)));
  CHECK(y[2] == doctest::Approx(-std::sin(0.2)));
  CHECK(y[3] == doctest::Approx(std::cos(0.2)));
  // position 0 is the identity
  float z[4] = {0.5f, -1.5f, 2.5f, 3.5f};
  rotate(table4, z, 1, 4);
  CHECK(z[0] == 0.5f);
  CHECK(z[3] == 3.5f);
}

TEST_CASE("rope: matches the numpy oracle (rope_check.py)") {
  RopeTable table = make_table(64, 64);
  auto q = to_float(kRopeQ, 64), k = to_float(kRopeK, 64);
  rotate(table, q.data(), 1, 64, 1, 37);
  rotate(table, k.data(), 1, 64, 1, 11);
  for (int i = 0; i < 64; ++i) {
    CHECK(q[i] == doctest::Approx(kRopeQm[i]).epsilon(1e-5).scale(1));
    CHECK(k[i] == doctest::Approx(kRopeKn[i]).epsilon(1e-5).scale(1));
  }
  CHECK(dot(q, k) == doctest::Approx(kRopeScoreMN[0]).epsilon(1e-5));
  CHECK(kRopeScoreMN[0] == doctest::Approx(kRopeScoreOffset[0]).epsilon(1e-12));

  // several rows with base 500, positions 5..9, one row per position, row stride padded to 20
  RopeTable t500 = make_table(16, 10, 500.0);
  std::vector<float> block(5 * 20, 99.0f);
  for (int r = 0; r < 5; ++r)
    for (int i = 0; i < 16; ++i) block[r * 20 + i] = static_cast<float>(kRopeBlock[r * 16 + i]);
  rotate(t500, block.data(), 5, 20, 1, 5);
  for (int r = 0; r < 5; ++r) {
    for (int i = 0; i < 16; ++i)
      CHECK(block[r * 20 + i] == doctest::Approx(kRopeBlockOut[r * 16 + i]).epsilon(1e-5).scale(1));
    for (int i = 16; i < 20; ++i) CHECK(block[r * 20 + i] == 99.0f);  // padding untouched
  }
}

TEST_CASE("rope: scores depend only on the offset m - n") {
  std::mt19937 rng(5);
  for (int d : {2, 6, 8, 64, 128, 256}) {
    RopeTable table = make_table(d, 700);
    const auto q = random_vector(rng, d), k = random_vector(rng, d);
    auto score = [&](int m, int n) {
      auto qm = q, kn = k;
      rotate(table, qm.data(), 1, d, 1, m);
      rotate(table, kn.data(), 1, d, 1, n);
      return dot(qm, kn);
    };
    for (int offset : {0, 1, 7, 100}) {
      const double ref = score(offset, 0);
      for (int n : {1, 13, 250, 599})
        CHECK(score(n + offset, n) == doctest::Approx(ref).epsilon(1e-4).scale(std::sqrt(d)));
    }
  }
}

TEST_CASE("rope: preserves norms, every head of a multi-head row, SIMD equals scalar") {
  std::mt19937 rng(6);
  for (RopeLayout layout : {RopeLayout::interleaved, RopeLayout::half_split}) {
    for (int d : {2, 4, 6, 10, 32, 128}) {
      const int heads = 3, rows = 7, stride = heads * d + 1;
      RopeTable table = make_table(d, 2000);
      const auto x = random_vector(rng, rows * stride);
      auto fast = x, ref = x;
      rotate(table, fast.data(), rows, stride, heads, 1990, layout);
      REQUIRE(rope_apply_scalar(table, ref.data(), rows, stride, heads, 1990, layout).is_ok());
      for (std::size_t i = 0; i < x.size(); ++i)
        CHECK(fast[i] == doctest::Approx(ref[i]).epsilon(1e-6).scale(1));
      for (int r = 0; r < rows; ++r)
        for (int h = 0; h < heads; ++h) {
          double before = 0, after = 0;
          for (int i = 0; i < d; ++i) {
            const std::size_t at = static_cast<std::size_t>(r) * stride + h * d + i;
            before += static_cast<double>(x[at]) * x[at];
            after += static_cast<double>(fast[at]) * fast[at];
          }
          CHECK(after == doctest::Approx(before).epsilon(1e-5));
        }
      // heads of one row share the rotation: identical heads stay identical
      std::vector<float> same(heads * d);
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < d; ++i) same[h * d + i] = x[i];
      rotate(table, same.data(), 1, heads * d, heads, 17, layout);
      for (int h = 1; h < heads; ++h)
        for (int i = 0; i < d; ++i) CHECK(same[h * d + i] == same[i]);
    }
  }
}

TEST_CASE("rope: half-split equals interleaved after the permutation") {
  std::mt19937 rng(7);
  for (int d : {2, 8, 18, 64}) {
    RopeTable table = make_table(d, 100);
    const auto q = random_vector(rng, d);
    std::vector<float> permuted(d);  // interleaved index 2i -> i, 2i+1 -> i + d/2
    for (int i = 0; i < d / 2; ++i) {
      permuted[i] = q[2 * i];
      permuted[i + d / 2] = q[2 * i + 1];
    }
    auto inter = q;
    rotate(table, inter.data(), 1, d, 1, 37);
    rotate(table, permuted.data(), 1, d, 1, 37, RopeLayout::half_split);
    for (int i = 0; i < d / 2; ++i) {
      CHECK(permuted[i] == doctest::Approx(inter[2 * i]).epsilon(1e-6).scale(1));
      CHECK(permuted[i + d / 2] == doctest::Approx(inter[2 * i + 1]).epsilon(1e-6).scale(1));
    }
  }
  // the oracle's own half-split vector
  RopeTable table = make_table(64, 64);
  std::vector<float> q(64);
  for (int i = 0; i < 32; ++i) {
    q[i] = static_cast<float>(kRopeQ[2 * i]);
    q[i + 32] = static_cast<float>(kRopeQ[2 * i + 1]);
  }
  rotate(table, q.data(), 1, 64, 1, 37, RopeLayout::half_split);
  for (int i = 0; i < 64; ++i)
    CHECK(q[i] == doctest::Approx(kRopeHalfQm[i]).epsilon(1e-5).scale(1));
}

TEST_CASE(
    "rope: bad arguments give BAD_ARGUMENT and leave the data alone; the table grows on demand") {
  using gyre::ErrorCode;
  CHECK(RopeTable::create(3, 10).status().code() == ErrorCode::kBadArgument);
  CHECK(RopeTable::create(0, 10).status().code() == ErrorCode::kBadArgument);
  CHECK(RopeTable::create(4, 10, 1.0).status().code() == ErrorCode::kBadArgument);
  CHECK(RopeTable::create(4, 10, 1.0 / 0.0).status().code() == ErrorCode::kBadArgument);
  CHECK(RopeTable::create(4, -1).status().code() == ErrorCode::kBadArgument);
  CHECK(RopeTable::create(1 << 20, 1 << 20).status().code() == ErrorCode::kTooLarge);
  RopeTable table = make_table(4, 10);
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(rope_apply(table, x, 1, 4, 1, 10).code() == ErrorCode::kBadArgument);
  CHECK(rope_apply(table, x, 2, 4, 1, 9).code() == ErrorCode::kBadArgument);
  CHECK(rope_apply(table, x, 1, 4, 1, -1).code() == ErrorCode::kBadArgument);
  CHECK(rope_apply(table, x, 1, 3).code() == ErrorCode::kBadArgument);
  CHECK(rope_apply(table, x, 1, 4, 2).code() == ErrorCode::kBadArgument);
  CHECK(rope_apply(table, x, -1, 4).code() == ErrorCode::kBadArgument);
  CHECK(rope_apply(table, nullptr, 1, 4).code() == ErrorCode::kBadArgument);
  const Status message = rope_apply(table, x, 1, 4, 1, 10);
  CHECK(message.message().find("extend") != std::string::npos);
  for (int i = 0; i < 8; ++i) CHECK(x[i] == static_cast<float>(i + 1));
  CHECK(rope_apply(table, nullptr, 0, 4).is_ok());  // zero rows is a no-op
  const float c9 = table.cos_at(9)[1];
  CHECK(table.extend(20).is_ok());
  CHECK(table.extend(5).is_ok());  // never shrinks
  CHECK(table.max_positions() == 20);
  CHECK(table.cos_at(9)[1] == c9);
  x[0] = 1;
  x[1] = 0;
  rotate(table, x, 2, 4, 1, 18);
  CHECK(x[0] == doctest::Approx(std::cos(18.0)));
}
