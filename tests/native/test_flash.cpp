// GAU (quadratic, through the fused attention kernel) and FLASH mixed-chunk attention against the
// numpy oracle docs/reference/gau_ref.py (embedded by tests/golden/gen_oracles.py) and against a
// double-precision naive FLASH for lengths that are not multiples of the chunk.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "../golden/oracle_gau_flash.inc"
#include "attention_reference.h"
#include "kernels/attention.h"
#include "kernels/flash.h"
#include "kernels/rope.h"

using namespace gyre::kernels;
using gyre::ErrorCode;
using gyre::test::random_floats;

namespace {

constexpr int n = kGauN, d = kGauD, e = kGauE, s = kGauS;

double silu(double x) {
  return x / (1 + std::exp(-x));
}

// H = silu(X Wi) split into U [n×e], V [n×e], Z [n×s] (double, as the oracle).
struct Projections {
  std::vector<double> u, v, z;
};

Projections project() {
  Projections p;
  p.u.resize(n * e);
  p.v.resize(n * e);
  p.z.resize(n * s);
  const int width = 2 * e + s;
  for (int t = 0; t < n; ++t)
    for (int c = 0; c < width; ++c) {
      double h = 0;
      for (int i = 0; i < d; ++i) h += kGauX[t * d + i] * kGauWi[i * width + c];
      h = silu(h);
      if (c < e)
        p.u[t * e + c] = h;
      else if (c < 2 * e)
        p.v[t * e + c - e] = h;
      else
        p.z[t * s + c - 2 * e] = h;
    }
  return p;
}

// (U ⊙ AV) Wo, compared with the oracle's output.
void check_output(const Projections& p, const std::vector<float>& av, const double* expected,
                  const std::string& what) {
  double worst = 0, scale = 1e-3;
  for (int t = 0; t < n; ++t)
    for (int j = 0; j < d; ++j) {
      double o = 0;
      for (int c = 0; c < e; ++c) o += p.u[t * e + c] * av[t * e + c] * kGauWo[c * d + j];
      worst = std::max(worst, std::abs(o - expected[t * d + j]));
      scale = std::max(scale, std::abs(expected[t * d + j]));
    }
  CHECK_MESSAGE(worst <= 2e-5 * scale,
                what << ": max error " << worst << " (output scale " << scale << ")");
}

std::vector<float> affine(const Projections& p, const double* gamma, const double* beta) {
  std::vector<float> x(n * s);
  for (int t = 0; t < n; ++t)
    for (int a = 0; a < s; ++a)
      x[t * s + a] = static_cast<float>(p.z[t * s + a] * gamma[a] + beta[a]);
  return x;
}

// Double-precision FLASH straight from docs/ALGORITHMS.md §3.4, with a padded (masked) last chunk.
std::vector<double> naive_flash(const FlashShape& sh, const std::vector<float>& qq,
                                const std::vector<float>& kq, const std::vector<float>& ql,
                                const std::vector<float>& kl, const std::vector<float>& v) {
  const int N = sh.length, c = sh.chunk, S = sh.qk_dim, E = sh.value_dim;
  std::vector<double> out(static_cast<std::size_t>(N) * E, 0.0);
  for (int t = 0; t < N; ++t) {
    const int g = t / c;
    for (int u = g * c; u < std::min(N, (g + 1) * c); ++u) {
      if (sh.causal && u > t) continue;
      double dot = 0;
      for (int a = 0; a < S; ++a) dot += static_cast<double>(qq[t * S + a]) * kq[u * S + a];
      const double w = dot > 0 ? dot * dot / (static_cast<double>(c) * S) : 0.0;
      for (int x = 0; x < E; ++x) out[t * E + x] += w * v[u * E + x];
    }
    const int last = sh.causal ? g * c : N;  // linear part over tokens [0, last)
    if (last == 0) continue;
    for (int u = 0; u < last; ++u) {
      double dot = 0;
      for (int a = 0; a < S; ++a) dot += static_cast<double>(ql[t * S + a]) * kl[u * S + a];
      for (int x = 0; x < E; ++x) out[t * E + x] += dot / last * v[u * E + x];
    }
  }
  return out;
}

FlashShape flash_shape(int length, int chunk, int qk_dim, int value_dim, bool causal) {
  return FlashShape{
      .length = length, .chunk = chunk, .qk_dim = qk_dim, .value_dim = value_dim, .causal = causal};
}

struct FlashInputs {
  std::vector<float> qq, kq, ql, kl, v;
};

FlashInputs random_flash_inputs(std::mt19937& rng, int length, int qk_dim, int value_dim) {
  FlashInputs in;
  in.qq = random_floats(rng, length * qk_dim);
  in.kq = random_floats(rng, length * qk_dim);
  in.ql = random_floats(rng, length * qk_dim, 0.5f);
  in.kl = random_floats(rng, length * qk_dim, 0.5f);
  in.v = random_floats(rng, length * value_dim);
  return in;
}

}  // namespace

TEST_CASE(
    "GAU through RoPE + fused attention matches gau_ref.py for every normaliser, causal and not") {
  const Projections p = project();
  auto table = RopeTable::create(s, n);
  REQUIRE(table.is_ok());
  std::vector<float> q = affine(p, kGauGq, kGauBq), k = affine(p, kGauGk, kGauBk);
  REQUIRE(rope_apply(table.value(), q.data(), n, s).is_ok());
  REQUIRE(rope_apply(table.value(), k.data(), n, s).is_ok());
  const std::vector<float> v(p.v.begin(), p.v.end());
  struct Case {
    AttentionNormaliser norm;
    bool causal;
    const double* expected;
    const char* name;
  };
  const Case cases[] = {
      {AttentionNormaliser::relu2, false, kGauOut_relu2_bidirectional, "relu2"},
      {AttentionNormaliser::relu2, true, kGauOut_relu2_causal, "relu2 causal"},
      {AttentionNormaliser::softmax, false, kGauOut_softmax_bidirectional, "softmax"},
      {AttentionNormaliser::softmax, true, kGauOut_softmax_causal, "softmax causal"},
      {AttentionNormaliser::softmax_plus, false, kGauOut_softmax_plus_bidirectional,
       "softmax_plus"},
      {AttentionNormaliser::softmax_plus, true, kGauOut_softmax_plus_causal, "softmax_plus causal"},
  };
  AttentionWorkspace ws;
  for (const Case& c : cases) {
    AttentionConfig config;
    config.normaliser = c.norm;
    config.mask = c.causal ? AttentionMask::causal : AttentionMask::bidirectional;
    AttentionShape shape;
    shape.num_queries = shape.num_keys = n;
    shape.head_dim = s;
    shape.value_dim = e;
    std::vector<float> av(n * e), av_scalar(n * e);
    REQUIRE(attention(config, shape, q.data(), k.data(), v.data(), av.data(), ws).is_ok());
    REQUIRE(
        attention_scalar(config, shape, q.data(), k.data(), v.data(), av_scalar.data()).is_ok());
    check_output(p, av, c.expected, c.name);
    check_output(p, av_scalar, c.expected, std::string(c.name) + " (scalar)");
  }
}

TEST_CASE("FLASH mixed-chunk attention matches gau_ref.py (causal and not)") {
  const Projections p = project();
  const std::vector<float> qq = affine(p, kFlashG, kFlashB),
                           kq = affine(p, kFlashG + s, kFlashB + s);
  const std::vector<float> ql = affine(p, kFlashG + 2 * s, kFlashB + 2 * s),
                           kl = affine(p, kFlashG + 3 * s, kFlashB + 3 * s);
  const std::vector<float> v(p.v.begin(), p.v.end());
  AttentionWorkspace ws;
  for (bool causal : {false, true}) {
    const FlashShape shape = flash_shape(n, kFlashC, s, e, causal);
    std::vector<float> out(n * e), out_scalar(n * e);
    REQUIRE(flash_mixed_chunk(shape, qq.data(), kq.data(), ql.data(), kl.data(), v.data(),
                              out.data(), ws)
                .is_ok());
    REQUIRE(flash_mixed_chunk_scalar(shape, qq.data(), kq.data(), ql.data(), kl.data(), v.data(),
                                     out_scalar.data())
                .is_ok());
    check_output(p, out, causal ? kFlashOut_causal : kFlashOut_bidirectional,
                 causal ? "FLASH causal" : "FLASH");
    check_output(p, out_scalar, causal ? kFlashOut_causal : kFlashOut_bidirectional,
                 "FLASH (scalar)");
  }
}

TEST_CASE("FLASH: any length and chunk against the double reference; causal leaks nothing") {
  std::mt19937 rng(91);
  AttentionWorkspace ws;
  for (int S : {4, 16, 33}) {
    for (int E : {3, 8, 20}) {
      for (int N : {1, 2, 7, 8, 9, 31, 64, 100}) {
        for (int c : {1, 3, 8, 16, 256}) {
          for (bool causal : {false, true}) {
            const FlashShape sh = flash_shape(N, c, S, E, causal);
            const FlashInputs in = random_flash_inputs(rng, N, S, E);
            const auto &qq = in.qq, &kq = in.kq, &ql = in.ql, &kl = in.kl, &v = in.v;
            const auto want = naive_flash(sh, qq, kq, ql, kl, v);
            std::vector<float> out(N * E), out_scalar(N * E);
            REQUIRE(flash_mixed_chunk(sh, qq.data(), kq.data(), ql.data(), kl.data(), v.data(),
                                      out.data(), ws)
                        .is_ok());
            REQUIRE(flash_mixed_chunk_scalar(sh, qq.data(), kq.data(), ql.data(), kl.data(),
                                             v.data(), out_scalar.data())
                        .is_ok());
            double scale = 0.1;  // a floor: one-token cases can cancel to tiny outputs
            for (double x : want) scale = std::max(scale, std::abs(x));
            int bad = 0;
            for (int i = 0; i < N * E; ++i)
              if (std::abs(out[i] - want[i]) > 2e-5 * scale ||
                  std::abs(out_scalar[i] - want[i]) > 2e-5 * scale) {
                if (bad++ < 2)
                  MESSAGE("out " << out[i] << " scalar " << out_scalar[i] << " want " << want[i]);
              }
            CHECK_MESSAGE(bad == 0, "S=" << S << " E=" << E << " N=" << N << " c=" << c
                                         << " causal=" << causal);
            if (causal && N > 2) {
              // changing the last token never changes an earlier output
              auto qq2 = qq, kq2 = kq, ql2 = ql, kl2 = kl, v2 = v;
              for (int a = 0; a < S; ++a) {
                qq2[(N - 1) * S + a] += 1;
                kq2[(N - 1) * S + a] -= 2;
                kl2[(N - 1) * S + a] += 3;
              }
              for (int x = 0; x < E; ++x) v2[(N - 1) * E + x] *= -4;
              std::vector<float> out2(N * E);
              REQUIRE(flash_mixed_chunk(sh, qq2.data(), kq2.data(), ql2.data(), kl2.data(),
                                        v2.data(), out2.data(), ws)
                          .is_ok());
              int leaks = 0;
              for (int i = 0; i < (N - 1) * E; ++i) leaks += out2[i] != out[i];
              CHECK(leaks == 0);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("FLASH: bad arguments") {
  AttentionWorkspace ws;
  std::vector<float> x(64, 1.0f), out(64, 3.0f);
  FlashShape sh;
  sh.length = 4;
  sh.chunk = 0;
  sh.qk_dim = 4;
  sh.value_dim = 4;
  CHECK(flash_mixed_chunk(sh, x.data(), x.data(), x.data(), x.data(), x.data(), out.data(), ws)
            .code() == ErrorCode::kBadArgument);
  sh.chunk = 2;
  sh.qk_stride = 3;
  CHECK(flash_mixed_chunk(sh, x.data(), x.data(), x.data(), x.data(), x.data(), out.data(), ws)
            .code() == ErrorCode::kBadArgument);
  sh.qk_stride = 0;
  CHECK(flash_mixed_chunk(sh, x.data(), nullptr, x.data(), x.data(), x.data(), out.data(), ws)
            .code() == ErrorCode::kBadArgument);
  CHECK(flash_mixed_chunk_scalar(sh, x.data(), x.data(), x.data(), x.data(), x.data(), nullptr)
            .code() == ErrorCode::kBadArgument);
  for (float o : out) CHECK(o == 3.0f);
  CHECK(flash_mixed_chunk(sh, x.data(), x.data(), x.data(), x.data(), x.data(), out.data(), ws)
            .is_ok());
}

TEST_CASE("FLASH decoding: token by token equals each row of the causal full pass") {
  std::mt19937 rng(17);
  AttentionWorkspace ws;
  for (int S : {4, 33}) {
    for (int E : {3, 20}) {
      for (int c : {1, 3, 8, 64}) {
        const int N = 150;
        const FlashShape sh = flash_shape(N, c, S, E, true);
        const FlashInputs in = random_flash_inputs(rng, N, S, E);
        const auto &qq = in.qq, &kq = in.kq, &ql = in.ql, &kl = in.kl, &v = in.v;
        std::vector<float> full(N * E);
        REQUIRE(flash_mixed_chunk(sh, qq.data(), kq.data(), ql.data(), kl.data(), v.data(),
                                  full.data(), ws)
                    .is_ok());
        auto decoder = FlashDecoder::create(c, S, E);
        auto reference = FlashDecoder::create(c, S, E);
        REQUIRE(decoder.is_ok());
        REQUIRE(reference.is_ok());
        const std::size_t bytes = decoder.value().bytes();
        double worst = 0, scale = 0.1;
        for (float x : full) scale = std::max(scale, static_cast<double>(std::abs(x)));
        std::vector<float> row(E), row_scalar(E);
        for (int t = 0; t < N; ++t) {
          const std::size_t qk = static_cast<std::size_t>(t) * S,
                            vo = static_cast<std::size_t>(t) * E;
          REQUIRE(decoder.value()
                      .step(&qq[qk], &kq[qk], &ql[qk], &kl[qk], &v[vo], row.data(), ws)
                      .is_ok());
          REQUIRE(reference.value()
                      .step_scalar(&qq[qk], &kq[qk], &ql[qk], &kl[qk], &v[vo], row_scalar.data())
                      .is_ok());
          for (int x = 0; x < E; ++x) {
            worst = std::max(worst, static_cast<double>(std::abs(row[x] - full[vo + x])));
            worst = std::max(worst, static_cast<double>(std::abs(row_scalar[x] - full[vo + x])));
          }
        }
        CHECK_MESSAGE(worst <= 2e-5 * scale,
                      "S=" << S << " E=" << E << " c=" << c << " worst " << worst);
        CHECK(decoder.value().length() == N);
        CHECK(decoder.value().bytes() == bytes);  // the state never grows with the length
        decoder.value().clear();
        CHECK(decoder.value().length() == 0);
        REQUIRE(
            decoder.value().step(&qq[0], &kq[0], &ql[0], &kl[0], &v[0], row.data(), ws).is_ok());
        for (int x = 0; x < E; ++x) CHECK(row[x] == doctest::Approx(full[x]).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("FLASH decoding: bad arguments leave the decoder usable") {
  CHECK(FlashDecoder::create(0, 4, 4).status().code() == ErrorCode::kBadArgument);
  CHECK(FlashDecoder::create(4, 4, -1).status().code() == ErrorCode::kBadArgument);
  CHECK(FlashDecoder::create(1 << 20, 4096, 4096).status().code() == ErrorCode::kTooLarge);
  auto decoder = FlashDecoder::create(4, 4, 4);
  REQUIRE(decoder.is_ok());
  AttentionWorkspace ws;
  std::vector<float> x(4, 0.5f), out(4, 3.0f);
  CHECK(decoder.value()
            .step(x.data(), nullptr, x.data(), x.data(), x.data(), out.data(), ws)
            .code() == ErrorCode::kBadArgument);
  CHECK(decoder.value().length() == 0);
  for (float o : out) CHECK(o == 3.0f);
  CHECK(decoder.value()
            .step(x.data(), x.data(), x.data(), x.data(), x.data(), out.data(), ws)
            .is_ok());
  CHECK(decoder.value().length() == 1);
}
