#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "attention_reference.h"
#include "kernels/kv_cache.h"

using namespace gyre::kernels;
using gyre::ErrorCode;
using gyre::test::random_floats;

namespace {

constexpr int kHeads = 2, kDim = 16, kValueDim = 24;

KvCache make_cache(int capacity, int window) {
  auto cache = KvCache::create(kHeads, kDim, kValueDim, capacity, window);
  REQUIRE(cache.is_ok());
  return std::move(cache).value();
}

struct Sequence {
  int n;
  std::vector<float> q, k, v;
};

Sequence make_sequence(std::mt19937& rng, int n) {
  return {n, random_floats(rng, static_cast<std::size_t>(n) * kHeads * kDim, 1.3f),
          random_floats(rng, static_cast<std::size_t>(n) * kHeads * kDim, 1.3f),
          random_floats(rng, static_cast<std::size_t>(n) * kHeads * kValueDim)};
}

AttentionShape full_shape(int n) {
  AttentionShape s;
  s.num_queries = s.num_keys = n;
  s.num_heads = kHeads;
  s.head_dim = kDim;
  s.value_dim = kValueDim;
  return s;
}

// Decodes the sequence token by token (prefill_rows appended as one block first) and compares every
// step with the matching row of one full pass, and the SIMD decode with the scalar decode.
void check_decoding_matches_full_pass(const AttentionConfig& config, const Sequence& seq,
                                      KvCache& cache, int prefill_rows, const std::string& what) {
  const int width = kHeads * kValueDim;
  std::vector<float> full(static_cast<std::size_t>(seq.n) * width),
      entropy_full(static_cast<std::size_t>(seq.n) * kHeads);
  AttentionWorkspace ws;
  REQUIRE(attention(config, full_shape(seq.n), seq.q.data(), seq.k.data(), seq.v.data(),
                    full.data(), ws, {entropy_full.data(), 0})
              .is_ok());
  REQUIRE(cache.append(seq.k.data(), seq.v.data(), prefill_rows).is_ok());
  std::vector<float> out(width), out_scalar(width), entropy(kHeads), entropy_scalar(kHeads);
  int mismatches = 0;
  for (int t = prefill_rows; t < seq.n; ++t) {
    REQUIRE(cache
                .append(seq.k.data() + static_cast<std::size_t>(t) * kHeads * kDim,
                        seq.v.data() + static_cast<std::size_t>(t) * width)
                .is_ok());
    CHECK(cache.length() == t + 1);
    const float* q = seq.q.data() + static_cast<std::size_t>(t) * kHeads * kDim;
    REQUIRE(attention_decode(config, cache, q, out.data(), ws, {entropy.data(), 0}).is_ok());
    REQUIRE(attention_decode_scalar(config, cache, q, out_scalar.data(), {entropy_scalar.data(), 0})
                .is_ok());
    for (int e = 0; e < width; ++e) {
      const float want = full[static_cast<std::size_t>(t) * width + e];
      if (std::abs(out[e] - want) > 2e-5f * (1 + std::abs(want)) ||
          std::abs(out_scalar[e] - want) > 2e-5f * (1 + std::abs(want))) {
        if (mismatches++ < 3)
          MESSAGE(what << " step " << t << " col " << e << ": " << out[e] << " / " << out_scalar[e]
                       << " want " << want);
      }
    }
    for (int h = 0; h < kHeads; ++h)
      if (std::abs(entropy[h] - entropy_full[static_cast<std::size_t>(t) * kHeads + h]) > 1e-4f ||
          std::abs(entropy_scalar[h] - entropy[h]) > 1e-4f)
        ++mismatches;
  }
  CHECK_MESSAGE(mismatches == 0, what);
}

}  // namespace

TEST_CASE("kv cache: decoding token by token equals the last row of the full pass") {
  std::mt19937 rng(71);
  const Sequence seq = make_sequence(rng, 150);
  for (auto norm : {AttentionNormaliser::softmax, AttentionNormaliser::softmax_plus,
                    AttentionNormaliser::relu2}) {
    AttentionConfig c;
    c.normaliser = norm;
    const std::string name = "normaliser " + std::to_string(static_cast<int>(norm));
    {
      KvCache cache = make_cache(150, 0);
      check_decoding_matches_full_pass(c, seq, cache, 0, name + " causal, linear cache");
    }
    {
      KvCache cache = make_cache(200, 0);
      check_decoding_matches_full_pass(c, seq, cache, 77,
                                       name + " causal, linear cache after a 77-token prefill");
    }
    for (int w : {1, 5, 64, 149, 200}) {
      AttentionConfig cw = c;
      cw.mask = AttentionMask::causal_window;
      cw.window = w;
      KvCache ring = make_cache(0, w);
      check_decoding_matches_full_pass(cw, seq, ring, 0,
                                       name + " window " + std::to_string(w) + ", ring of w");
      KvCache wide_ring = make_cache(0, w + 13);
      check_decoding_matches_full_pass(cw, seq, wide_ring, 0,
                                       name + " window " + std::to_string(w) + ", ring of w + 13");
      KvCache prefilled = make_cache(0, w);
      check_decoding_matches_full_pass(
          cw, seq, prefilled, 100, name + " window " + std::to_string(w) + ", ring after prefill");
      KvCache linear = make_cache(150, 0);
      check_decoding_matches_full_pass(cw, seq, linear, 0,
                                       name + " window " + std::to_string(w) + ", linear cache");
    }
    AttentionConfig band = c;
    band.mask = AttentionMask::band;
    band.window = 4;  // the band's past half: the same as a causal window of 5
    AttentionConfig as_window = c;
    as_window.mask = AttentionMask::causal_window;
    as_window.window = 5;
    KvCache ring = make_cache(0, 5), ring2 = make_cache(0, 5);
    std::vector<float> a(kHeads * kValueDim), b(kHeads * kValueDim);
    AttentionWorkspace ws;
    for (int t = 0; t < 20; ++t) {
      REQUIRE(ring.append(seq.k.data() + t * kHeads * kDim, seq.v.data() + t * kHeads * kValueDim)
                  .is_ok());
      REQUIRE(ring2.append(seq.k.data() + t * kHeads * kDim, seq.v.data() + t * kHeads * kValueDim)
                  .is_ok());
      REQUIRE(attention_decode(band, ring, seq.q.data() + t * kHeads * kDim, a.data(), ws).is_ok());
      REQUIRE(attention_decode(as_window, ring2, seq.q.data() + t * kHeads * kDim, b.data(), ws)
                  .is_ok());
      CHECK(a == b);
    }
  }
}

TEST_CASE("kv cache: a ring stays O(w) however long the generation runs") {
  std::mt19937 rng(72);
  KvCache ring = make_cache(0, 8);
  const std::size_t bytes = ring.bytes();
  CHECK(bytes == 8u * kHeads * (kDim + kValueDim) * sizeof(float));
  const auto k = random_floats(rng, kHeads * kDim), v = random_floats(rng, kHeads * kValueDim);
  AttentionConfig c;
  c.mask = AttentionMask::causal_window;
  c.window = 8;
  AttentionWorkspace ws;
  std::vector<float> out(kHeads * kValueDim);
  for (int t = 0; t < 5000; ++t) REQUIRE(ring.append(k.data(), v.data()).is_ok());
  CHECK(ring.length() == 5000);
  CHECK(ring.size() == 8);
  CHECK(ring.first_position() == 4992);
  CHECK(ring.bytes() == bytes);
  REQUIRE(attention_decode(c, ring, k.data(), out.data(), ws).is_ok());
  for (int e = 0; e < kValueDim; ++e)
    CHECK(out[e] == doctest::Approx(v[e]));  // all keys equal: mean of equal values
  ring.clear();
  CHECK(ring.length() == 0);
  CHECK(attention_decode(c, ring, k.data(), out.data(), ws).code() == ErrorCode::kBadArgument);
}

TEST_CASE("kv cache: misuse is BAD_ARGUMENT or TOO_LARGE and leaves the cache usable") {
  std::mt19937 rng(73);
  CHECK(KvCache::create(0, 16, 16, 10).status().code() == ErrorCode::kBadArgument);
  CHECK(KvCache::create(1, 16, 16, 0).status().code() == ErrorCode::kBadArgument);
  CHECK(KvCache::create(1, 16, 16, 10, -1).status().code() == ErrorCode::kBadArgument);
  CHECK(KvCache::create(64, 128, 128, 1 << 20).status().code() == ErrorCode::kTooLarge);
  const auto k = random_floats(rng, 4 * kHeads * kDim),
             v = random_floats(rng, 4 * kHeads * kValueDim);
  KvCache linear = make_cache(3, 0);
  CHECK(linear.append(k.data(), v.data(), 4).code() == ErrorCode::kBadArgument);  // does not fit
  CHECK(linear.length() == 0);
  CHECK(linear.append(nullptr, v.data()).code() == ErrorCode::kBadArgument);
  CHECK(linear.append(k.data(), v.data(), 1, 3).code() ==
        ErrorCode::kBadArgument);  // stride too small
  REQUIRE(linear.append(k.data(), v.data(), 3).is_ok());
  CHECK(linear.append(k.data(), v.data()).code() == ErrorCode::kBadArgument);  // full
  AttentionConfig c;
  AttentionWorkspace ws;
  std::vector<float> out(kHeads * kValueDim);
  CHECK(attention_decode(c, linear, k.data(), out.data(), ws).is_ok());

  KvCache ring = make_cache(0, 2);
  REQUIRE(ring.append(k.data(), v.data(), 3).is_ok());
  CHECK(attention_decode(c, ring, k.data(), out.data(), ws).code() ==
        ErrorCode::kBadArgument);  // causal needs all 3
  AttentionConfig wide = c;
  wide.mask = AttentionMask::causal_window;
  wide.window = 3;
  CHECK(attention_decode(wide, ring, k.data(), out.data(), ws).code() == ErrorCode::kBadArgument);
  wide.window = 2;
  CHECK(attention_decode(wide, ring, k.data(), out.data(), ws).is_ok());
  wide.window = 0;
  CHECK(attention_decode(wide, ring, k.data(), out.data(), ws).code() == ErrorCode::kBadArgument);
  CHECK(attention_decode(c, linear, nullptr, out.data(), ws).code() == ErrorCode::kBadArgument);
}
