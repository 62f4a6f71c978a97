#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "attention_reference.h"
#include "kernels/attention.h"

using namespace gyre::kernels;
using gyre::ErrorCode;
using gyre::test::naive_attention;
using gyre::test::random_floats;

namespace {

struct Layout {
  int heads, head_dim, value_dim,
      pad;  // pad: extra floats at the end of every row (strided buffers)
};

struct Buffers {
  AttentionShape shape;
  std::vector<float> q, k, v;
};

Buffers make_problem(std::mt19937& rng, int nq, int nk, const Layout& lay, float sigma) {
  Buffers b;
  AttentionShape& s = b.shape;
  s.num_queries = nq;
  s.num_keys = nk;
  s.num_heads = lay.heads;
  s.head_dim = lay.head_dim;
  s.value_dim = lay.value_dim;
  if (lay.pad) {
    s.q_stride = s.k_stride = lay.heads * lay.head_dim + lay.pad;
    s.v_stride = lay.heads * lay.value_dim + lay.pad;
    s.out_stride = lay.heads * lay.value_dim + 2 * lay.pad;
  }
  const int qs = s.q_stride ? s.q_stride : lay.heads * lay.head_dim;
  const int vs = s.v_stride ? s.v_stride : lay.heads * lay.value_dim;
  b.q = random_floats(rng, static_cast<std::size_t>(nq) * qs, sigma);
  b.k = random_floats(rng, static_cast<std::size_t>(nk) * qs, sigma);
  b.v = random_floats(rng, static_cast<std::size_t>(nk) * vs);
  return b;
}

int out_stride(const AttentionShape& s) {
  return s.out_stride ? s.out_stride : s.num_heads * s.value_dim;
}

// Runs the fast kernel and the scalar reference and compares both (and the entropies) with the
// naive double reference. Returns the number of mismatching values.
int check_against_naive(const AttentionConfig& config, const Buffers& b, double tolerance,
                        const std::string& what) {
  const AttentionShape& s = b.shape;
  const int os = out_stride(s), dv = s.value_dim;
  const auto ref = naive_attention(config, s, b.q, b.k, b.v);
  double ref_max = 1e-3;
  for (double x : ref.out) ref_max = std::max(ref_max, std::abs(x));
  std::vector<float> fast(static_cast<std::size_t>(s.num_queries) * os + 1, 12345.0f), slow = fast;
  std::vector<float> entropy_fast(static_cast<std::size_t>(s.num_queries) * s.num_heads, -1.0f),
      entropy_slow = entropy_fast;
  AttentionWorkspace ws;
  std::vector<float> plain = fast;
  REQUIRE(attention(config, s, b.q.data(), b.k.data(), b.v.data(), plain.data(), ws).is_ok());
  REQUIRE(attention(config, s, b.q.data(), b.k.data(), b.v.data(), fast.data(), ws,
                    {entropy_fast.data(), 0})
              .is_ok());
  REQUIRE(attention_scalar(config, s, b.q.data(), b.k.data(), b.v.data(), slow.data(),
                           {entropy_slow.data(), 0})
              .is_ok());
  int bad = 0;
  for (int i = 0; i < s.num_queries; ++i) {
    for (int h = 0; h < s.num_heads; ++h) {
      for (int e = 0; e < dv; ++e) {
        const std::size_t at = static_cast<std::size_t>(i) * os + h * dv + e;
        const double want = ref.out[(static_cast<std::size_t>(i) * s.num_heads + h) * dv + e];
        if (std::abs(fast[at] - want) > tolerance * ref_max ||
            std::abs(slow[at] - want) > tolerance * ref_max || plain[at] != fast[at]) {
          if (bad++ < 3)
            MESSAGE(what << " query " << i << " head " << h << " col " << e << ": fast " << fast[at]
                         << " scalar " << slow[at] << " plain " << plain[at] << " want " << want);
        }
      }
      const std::size_t at = static_cast<std::size_t>(i) * s.num_heads + h;
      const double want = ref.entropy[at];
      if (std::abs(entropy_fast[at] - want) > 2e-3 * (1 + want) ||
          std::abs(entropy_slow[at] - want) > 2e-3 * (1 + want)) {
        if (bad++ < 3)
          MESSAGE(what << " entropy of query " << i << ": fast " << entropy_fast[at] << " scalar "
                       << entropy_slow[at] << " want " << want);
      }
    }
    // padding between rows is never written
    for (int e = s.num_heads * dv; e < os; ++e)
      if (fast[static_cast<std::size_t>(i) * os + e] != 12345.0f) ++bad;
  }
  return bad;
}

std::string describe(const AttentionConfig& c, int nq, int nk, const Layout& lay) {
  static const char* masks[] = {"bidirectional", "causal", "causal_window", "band"};
  static const char* norms[] = {"softmax", "softmax_plus", "relu2"};
  return std::string(masks[static_cast<int>(c.mask)]) + " w=" + std::to_string(c.window) + " " +
         norms[static_cast<int>(c.normaliser)] + " nq=" + std::to_string(nq) +
         " nk=" + std::to_string(nk) + " heads=" + std::to_string(lay.heads) +
         " d=" + std::to_string(lay.head_dim) + " dv=" + std::to_string(lay.value_dim);
}

}  // namespace

TEST_CASE(
    "attention: every mask and normaliser matches the double-precision reference, n = 1 … 300") {
  std::mt19937 rng(42);
  const Layout layouts[] = {{1, 16, 16, 0}, {1, 36, 70, 0}, {3, 8, 12, 5}};
  const int lengths[] = {1, 2, 3, 4, 5, 8, 13, 31, 64, 65, 127, 130, 300};
  for (const Layout& lay : layouts) {
    for (int n : lengths) {
      struct MaskCase {
        AttentionMask mask;
        int window;
      };
      std::vector<MaskCase> masks = {{AttentionMask::bidirectional, 0},
                                     {AttentionMask::causal, 0},
                                     {AttentionMask::causal_window, 1},
                                     {AttentionMask::causal_window, 5},
                                     {AttentionMask::causal_window, 70},
                                     {AttentionMask::causal_window, n},
                                     {AttentionMask::causal_window, n + 9},
                                     {AttentionMask::band, 0},
                                     {AttentionMask::band, 3},
                                     {AttentionMask::band, 40},
                                     {AttentionMask::band, n}};
      for (const MaskCase& m : masks) {
        for (auto norm : {AttentionNormaliser::softmax, AttentionNormaliser::softmax_plus,
                          AttentionNormaliser::relu2}) {
          AttentionConfig c;
          c.mask = m.mask;
          c.window = m.window;
          c.normaliser = norm;
          const Buffers b =
              make_problem(rng, n, n, lay, norm == AttentionNormaliser::relu2 ? 1.0f : 1.5f);
          const std::string what = describe(c, n, n, lay);
          CHECK_MESSAGE(check_against_naive(c, b, 2e-5, what) == 0, what);
        }
      }
    }
  }
}

TEST_CASE("attention: the factor options (scale, train_len, min_len, logn†, fixed relu2 n)") {
  std::mt19937 rng(43);
  const Layout lay{2, 24, 20, 0};
  for (int n : {7, 33, 150}) {
    AttentionConfig c;
    c.normaliser = AttentionNormaliser::softmax_plus;
    c.train_len = 64;
    c.min_len = 4;
    c.scale = 0.3f;
    const Buffers b = make_problem(rng, n, n, lay, 1.0f);
    CHECK(check_against_naive(c, b, 2e-5, "softmax_plus train_len 64 min_len 4") == 0);
    c.min_len = 1;
    c.log_at_least_one = true;
    c.log_count_positions = true;
    c.mask = AttentionMask::causal_window;
    c.window = 10;  // logn† counts positions even when the window hides most of them
    CHECK(check_against_naive(c, b, 2e-5, "logn dagger with a window") == 0);
    AttentionConfig r;
    r.normaliser = AttentionNormaliser::relu2;
    r.relu2_fixed_len = 512;
    r.mask = AttentionMask::bidirectional;
    CHECK(check_against_naive(r, b, 2e-5, "relu2 fixed n") == 0);
  }
}

TEST_CASE("attention: query and key position offsets (chunked prefill, cross-attention shapes)") {
  std::mt19937 rng(44);
  const Layout lay{2, 16, 16, 0};
  for (auto mask : {AttentionMask::causal, AttentionMask::causal_window, AttentionMask::band,
                    AttentionMask::bidirectional}) {
    AttentionConfig c;
    c.mask = mask;
    c.window = 9;
    Buffers b = make_problem(rng, 50, 50, lay, 1.0f);
    std::vector<float> full(50 * 32);
    AttentionWorkspace ws;
    REQUIRE(attention(c, b.shape, b.q.data(), b.k.data(), b.v.data(), full.data(), ws).is_ok());
    // the last 7 queries alone, at positions 43..49, against all 50 keys
    AttentionShape tail = b.shape;
    tail.num_queries = 7;
    tail.query_position = 43;
    std::vector<float> part(7 * 32);
    REQUIRE(
        attention(c, tail, b.q.data() + 43 * 32, b.k.data(), b.v.data(), part.data(), ws).is_ok());
    for (int i = 0; i < 7 * 32; ++i)
      CHECK(part[i] == doctest::Approx(full[43 * 32 + i]).epsilon(1e-5).scale(1));
    // different query and key counts and a key offset, against the naive reference
    Buffers cross = make_problem(rng, 23, 41, lay, 1.0f);
    cross.shape.query_position = 30;
    cross.shape.key_position = 5;
    CHECK(check_against_naive(c, cross, 2e-5, "offset positions") == 0);
  }
}

TEST_CASE("attention: causality and locality hold exactly") {
  std::mt19937 rng(45);
  const Layout lay{1, 32, 32, 0};
  const int n = 97;
  for (auto mask : {AttentionMask::causal, AttentionMask::causal_window}) {
    for (auto norm : {AttentionNormaliser::softmax, AttentionNormaliser::softmax_plus,
                      AttentionNormaliser::relu2}) {
      AttentionConfig c;
      c.mask = mask;
      c.window = 13;
      c.normaliser = norm;
      Buffers b = make_problem(rng, n, n, lay, 1.0f);
      AttentionWorkspace ws;
      std::vector<float> before(n * 32), after(n * 32);
      REQUIRE(attention(c, b.shape, b.q.data(), b.k.data(), b.v.data(), before.data(), ws).is_ok());
      for (int j : {0, 1, 5, 40, 63, 64, 96}) {
        Buffers changed = b;
        for (int t = 0; t < 32; ++t) {
          changed.q[j * 32 + t] += 3.0f;
          changed.k[j * 32 + t] -= 2.0f;
          changed.v[j * 32 + t] *= -7.0f;
        }
        REQUIRE(attention(c, changed.shape, changed.q.data(), changed.k.data(), changed.v.data(),
                          after.data(), ws)
                    .is_ok());
        int leaks = 0, changes = 0;
        for (int i = 0; i < n; ++i) {
          const bool may_change = i >= j && (mask == AttentionMask::causal || i < j + c.window);
          for (int e = 0; e < 32; ++e) {
            const bool differs = after[i * 32 + e] != before[i * 32 + e];
            if (differs && !may_change) ++leaks;
            if (differs && may_change) ++changes;
          }
        }
        CHECK_MESSAGE(leaks == 0, "token " << j << " leaked");
        CHECK(changes > 0);
      }
    }
  }
}

TEST_CASE("attention: the band reaches exactly half-width keys on both sides") {
  std::mt19937 rng(46);
  const Layout lay{1, 8, 8, 0};
  const int n = 40, hw = 6;
  AttentionConfig c;
  c.mask = AttentionMask::band;
  c.window = hw;
  Buffers b = make_problem(rng, n, n, lay, 1.0f);
  AttentionWorkspace ws;
  std::vector<float> before(n * 8), after(n * 8);
  REQUIRE(attention(c, b.shape, b.q.data(), b.k.data(), b.v.data(), before.data(), ws).is_ok());
  const int j = 20;
  for (int t = 0; t < 8; ++t) b.v[j * 8 + t] += 1.0f;
  REQUIRE(attention(c, b.shape, b.q.data(), b.k.data(), b.v.data(), after.data(), ws).is_ok());
  for (int i = 0; i < n; ++i) CHECK((after[i * 8] != before[i * 8]) == (std::abs(i - j) <= hw));
}

TEST_CASE("attention: weights of a query range equal the reference matrix and sum to 1 (softmax)") {
  std::mt19937 rng(47);
  const Layout lay{2, 16, 16, 0};
  for (auto norm : {AttentionNormaliser::softmax, AttentionNormaliser::softmax_plus,
                    AttentionNormaliser::relu2}) {
    AttentionConfig c;
    c.mask = AttentionMask::causal_window;
    c.window = 20;
    c.normaliser = norm;
    const int n = 70;
    Buffers b = make_problem(rng, n, n, lay, 1.0f);
    const auto ref = naive_attention(c, b.shape, b.q, b.k, b.v);
    std::vector<float> w(10 * n, -1.0f);
    REQUIRE(attention_weights(c, b.shape, b.q.data(), b.k.data(), 1, 55, 65, w.data()).is_ok());
    for (int r = 0; r < 10; ++r) {
      double sum = 0;
      for (int j = 0; j < n; ++j) {
        const double want = ref.weights[(static_cast<std::size_t>(1) * n + 55 + r) * n + j];
        CHECK(w[r * n + j] == doctest::Approx(want).epsilon(1e-5).scale(1e-3));
        sum += w[r * n + j];
      }
      if (norm != AttentionNormaliser::relu2) CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
    }
  }
}

TEST_CASE(
    "attention: entropy grows like log n for uniform attention and is 0 for one visible key") {
  const int n = 64, d = 4;
  std::vector<float> q(n * d, 0.0f), k(n * d, 0.0f), v(n * d, 1.0f), out(n * d), entropy(n);
  AttentionShape s;
  s.num_queries = s.num_keys = n;
  s.head_dim = d;
  AttentionConfig c;  // causal softmax; zero logits: uniform over i + 1 keys
  AttentionWorkspace ws;
  REQUIRE(
      attention(c, s, q.data(), k.data(), v.data(), out.data(), ws, {entropy.data(), 1}).is_ok());
  for (int i = 0; i < n; ++i) {
    CHECK(entropy[i] == doctest::Approx(std::log(i + 1.0)).epsilon(1e-5).scale(1));
    CHECK(out[i * d] == doctest::Approx(1.0));
  }
}

TEST_CASE("attention: empty and degenerate shapes") {
  AttentionWorkspace ws;
  AttentionConfig c;
  AttentionShape s;
  s.head_dim = 8;
  CHECK(attention(c, s, nullptr, nullptr, nullptr, nullptr, ws).is_ok());  // nothing to do
  s.num_queries = 3;  // queries but no keys: zeros
  std::vector<float> q(24, 1.0f), out(24, 5.0f);
  CHECK(attention(c, s, q.data(), nullptr, nullptr, out.data(), ws).is_ok());
  for (float x : out) CHECK(x == 0.0f);
  // keys all in the future of every query (key offset): zeros as well
  s.num_keys = 2;
  s.key_position = 10;
  std::vector<float> k(16, 1.0f), v(16, 1.0f);
  out.assign(24, 5.0f);
  CHECK(attention(c, s, q.data(), k.data(), v.data(), out.data(), ws).is_ok());
  for (float x : out) CHECK(x == 0.0f);
}

TEST_CASE("attention: bad arguments are BAD_ARGUMENT and write nothing") {
  AttentionWorkspace ws;
  std::vector<float> q(64, 1.0f), out(64, 7.0f);
  AttentionShape s;
  s.num_queries = s.num_keys = 4;
  s.head_dim = 16;
  auto code = [&](const AttentionConfig& c, const AttentionShape& sh) {
    return attention(c, sh, q.data(), q.data(), q.data(), out.data(), ws).code();
  };
  AttentionConfig c;
  CHECK(code(c, s) == ErrorCode::kOk);
  out.assign(64, 7.0f);
  AttentionConfig w = c;
  w.mask = AttentionMask::causal_window;
  CHECK(code(w, s) == ErrorCode::kBadArgument);  // window 0
  w.mask = AttentionMask::band;
  w.window = -1;
  CHECK(code(w, s) == ErrorCode::kBadArgument);
  AttentionConfig p = c;
  p.normaliser = AttentionNormaliser::softmax_plus;
  p.train_len = 1.0f;
  CHECK(code(p, s) == ErrorCode::kBadArgument);
  p.train_len = 512;
  p.min_len = 0.5f;
  CHECK(code(p, s) == ErrorCode::kBadArgument);
  AttentionConfig sc = c;
  sc.scale = std::nanf("");
  CHECK(code(sc, s) == ErrorCode::kBadArgument);
  AttentionShape bad = s;
  bad.head_dim = 0;
  CHECK(code(c, bad) == ErrorCode::kBadArgument);
  bad = s;
  bad.q_stride = 8;
  CHECK(code(c, bad) == ErrorCode::kBadArgument);
  bad = s;
  bad.num_keys = -1;
  CHECK(code(c, bad) == ErrorCode::kBadArgument);
  bad = s;
  bad.query_position = 2147483647;
  CHECK(code(c, bad) == ErrorCode::kBadArgument);
  bad = s;
  bad.num_keys = 1 << 28;
  bad.head_dim = 64;
  CHECK(attention(c, bad, q.data(), q.data(), q.data(), out.data(), ws).code() ==
        ErrorCode::kTooLarge);
  CHECK(attention(c, s, nullptr, q.data(), q.data(), out.data(), ws).code() ==
        ErrorCode::kBadArgument);
  CHECK(attention_scalar(c, s, q.data(), nullptr, q.data(), out.data()).code() ==
        ErrorCode::kBadArgument);
  for (float x : out) CHECK(x == 7.0f);
  std::vector<float> weights(16);
  CHECK(attention_weights(c, s, q.data(), q.data(), 1, 0, 1, weights.data()).code() ==
        ErrorCode::kBadArgument);
  CHECK(attention_weights(c, s, q.data(), q.data(), 0, 3, 5, weights.data()).code() ==
        ErrorCode::kBadArgument);
  CHECK(attention_weights(c, s, q.data(), q.data(), 0, 0, 1, nullptr).code() ==
        ErrorCode::kBadArgument);
  // still usable afterwards
  CHECK(code(c, s) == ErrorCode::kOk);
}

TEST_CASE("attention: GAU-sized heads (s = 256, e = 512) and many heads") {
  std::mt19937 rng(48);
  for (const Layout& lay : {Layout{1, 256, 512, 0}, Layout{12, 8, 8, 3}}) {
    for (int n : {1, 6, 129}) {
      for (auto mask :
           {AttentionMask::causal, AttentionMask::causal_window, AttentionMask::bidirectional}) {
        for (auto norm : {AttentionNormaliser::softmax_plus, AttentionNormaliser::relu2}) {
          AttentionConfig c;
          c.mask = mask;
          c.window = 50;
          c.normaliser = norm;
          const Buffers b = make_problem(rng, n, n, lay, 0.4f);
          const std::string what = describe(c, n, n, lay);
          CHECK_MESSAGE(check_against_naive(c, b, 2e-5, what) == 0, what);
        }
      }
    }
  }
}
