// Inline SIMD128 math shared by every kernel: exp, sigmoid, SiLU, GELU, horizontal sum and max.
// Each SIMD helper has a scalar twin that runs the same algorithm, so the scalar wasm build and the
// SIMD build agree to within float rounding, and tests can compare them element by element.
//
// SIMD selection: GYRE_SIMD128 is 1 when wasm SIMD128 intrinsics are available: in the wasm SIMD
// build (__wasm_simd128__), or natively when GYRE_NATIVE_SIMDE is defined, through SIMDe's
// implementation of <wasm_simd128.h> (Debian libsimde-dev), so native tests exercise the SIMD code.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#define GYRE_SIMD128 1
#elif defined(GYRE_NATIVE_SIMDE)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/wasm/simd128.h>
#define GYRE_SIMD128 1
#else
#define GYRE_SIMD128 0
#endif

// GYRE_NO_UNROLL before a loop keeps clang from unrolling it, where an unrolled body would hold
// more live vectors than V8 has registers for (see the GEMV in gemm.cpp).
#if defined(__clang__)
#define GYRE_NO_UNROLL _Pragma("clang loop unroll(disable)")
#else
#define GYRE_NO_UNROLL
#endif

// GYRE_MICROKERNEL keeps a register-blocked inner kernel a function of its own. V8 allocates
// registers function by function: inlined into the tiled attention driver, whose loops keep many
// other values live, the 4×8 Q·Kᵀ kernel of the relaxed-SIMD build had all eight accumulators
// spilled (each f32x4.relaxed_madd reloaded and stored its accumulator, read off
// --print-wasm-code), which made relaxed attention 1.3–1.5× slower than SIMD128; on its own the
// same loop keeps them in xmm registers.
#define GYRE_MICROKERNEL [[gnu::noinline]]

namespace gyre::kernels {

// exp(x) = 2^n · p(r), n = round(x / ln 2), r = x − n·ln 2 in [−ln2/2, ln2/2] (Cody–Waite split),
// p a degree-5 minimax polynomial fitted for relative error (max 1.8e-7 over the whole range).
// x is clamped to [−88, 88.7228] so that n stays in [−127, 128], where 2^n built from bits is
// exactly 0 at n = −127 and +inf at n = 128: no compare/select is needed for the limits.
// Limits: x > 88.376 gives +inf (true overflow starts at 88.72); x < −87.68 gives 0 and
// (−87.68, −87.34) gives subnormals; NaN stays NaN.
namespace exp_constants {
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693145751953125f;  // few mantissa bits: n·kLn2Hi is exact
inline constexpr float kLn2Lo = 1.428606765330187e-06f;
inline constexpr float kLn2 = 0.693147182464599609375f;  // the float nearest ln 2
// Adding kMagicBias rounds x·log2e to an integer n held in the low mantissa bits, already offset by
// the exponent bias 127, so shifting the bits left by 23 yields the float 2^n.
inline constexpr float kMagicBias = 12583039.0f;  // 1.5·2^23 + 127
inline constexpr float kC1 = 0.9999997019767761f;
inline constexpr float kC2 = 0.49999144673347473f;
inline constexpr float kC3 = 0.16667640209197998f;
inline constexpr float kC4 = 0.041898392140865326f;
inline constexpr float kC5 = 0.008290229365229607f;
inline constexpr float kClampHigh = 88.7228391117f;  // ln(FLT_MAX): n <= 128
inline constexpr float kClampLow = -88.0f;           // n >= -127 (exponent field 0: the float 0)
}  // namespace exp_constants

inline float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline uint32_t float_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

inline float exp_scalar(float x) {
  using namespace exp_constants;
  x = x < kClampLow ? kClampLow : x;  // NaN passes both clamps unchanged
  x = x > kClampHigh ? kClampHigh : x;
  const float biased = x * kLog2e + kMagicBias;
  const float n = biased - kMagicBias;
  const float scale = bits_to_float(float_to_bits(biased) << 23);
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = kC5;
  p = p * r + kC4;
  p = p * r + kC3;
  p = p * r + kC2;
  p = p * r + kC1;
  p = p * r + 1.0f;
  return p * scale;
}

// exp for x <= 0 (softmax after subtracting the row max): the same result as exp_scalar there,
// without the upper clamp. A positive x is out of contract.
inline float exp_nonpositive_scalar(float x) {
  return exp_scalar(x);
}

inline float sigmoid_scalar(float x) {
  return 1.0f / (1.0f + exp_scalar(-x));
}
inline float silu_scalar(float x) {
  return x / (1.0f + exp_scalar(-x));
}

// erf by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7), through the shared exp.
namespace erf_constants {
inline constexpr float kP = 0.3275911f;
inline constexpr float kA1 = 0.254829592f;
inline constexpr float kA2 = -0.284496736f;
inline constexpr float kA3 = 1.421413741f;
inline constexpr float kA4 = -1.453152027f;
inline constexpr float kA5 = 1.061405429f;
inline constexpr float kInvSqrt2 = 0.70710678118654752f;
}  // namespace erf_constants

inline float erf_scalar(float x) {
  using namespace erf_constants;
  const float z = x < 0.0f ? -x : x;
  const float t = 1.0f / (1.0f + kP * z);
  float poly = kA5;
  poly = poly * t + kA4;
  poly = poly * t + kA3;
  poly = poly * t + kA2;
  poly = poly * t + kA1;
  const float erf_abs = 1.0f - poly * t * exp_scalar(-z * z);
  return x < 0.0f ? -erf_abs : erf_abs;
}

// Exact (erf) GELU, as PyTorch's nn.GELU() default: x · Φ(x).
inline float gelu_scalar(float x) {
  return 0.5f * x * (1.0f + erf_scalar(x * erf_constants::kInvSqrt2));
}

#if GYRE_SIMD128

// a·b + c. The relaxed-SIMD build (-mrelaxed-simd, the wasm-relaxed flavour) emits one
// f32x4.relaxed_madd, which the loader takes only where it runs fused (elsewhere it would be a
// multiply then an add, no faster than the SIMD128 build). Clang 14 still encodes the instruction
// with its pre-standard opcode, which scripts/relaxed-opcodes.mjs rewrites after linking (its
// operands are already in the standard a, b, c order).
inline v128_t madd_f32x4(v128_t a, v128_t b, v128_t c) {
#if defined(__wasm_relaxed_simd__)
  return __builtin_wasm_fma_f32x4(a, b, c);
#else
  return wasm_f32x4_add(wasm_f32x4_mul(a, b), c);
#endif
}

// exp on x already clamped to [kClampLow, kClampHigh].
inline v128_t exp_clamped_f32x4(v128_t xc) {
  using namespace exp_constants;
  const v128_t magic = wasm_f32x4_splat(kMagicBias);
  const v128_t biased = madd_f32x4(xc, wasm_f32x4_splat(kLog2e), magic);
  const v128_t n = wasm_f32x4_sub(biased, magic);
  const v128_t scale = wasm_i32x4_shl(biased, 23);
#if defined(__wasm_relaxed_simd__)
  // The loader runs the relaxed build only where relaxed_madd is fused (it probes for it): the
  // product n·ln2 is then exact inside the one rounding, and the float ln2's own error, |n|·1.9e-9
  // <= 2.4e-7, keeps exp within its 1e-6 bound in one step instead of two.
  const v128_t r = madd_f32x4(n, wasm_f32x4_splat(-kLn2), xc);
#else
  // Cody–Waite in two multiply-adds with negated constants: x − n·ln2 exactly as the scalar twin
  // rounds it.
  v128_t r = madd_f32x4(n, wasm_f32x4_splat(-kLn2Hi), xc);
  r = madd_f32x4(n, wasm_f32x4_splat(-kLn2Lo), r);
#endif
  v128_t p = madd_f32x4(wasm_f32x4_splat(kC5), r, wasm_f32x4_splat(kC4));
  p = madd_f32x4(p, r, wasm_f32x4_splat(kC3));
  p = madd_f32x4(p, r, wasm_f32x4_splat(kC2));
  p = madd_f32x4(p, r, wasm_f32x4_splat(kC1));
  p = madd_f32x4(p, r, wasm_f32x4_splat(1.0f));
  return wasm_f32x4_mul(p, scale);
}

inline v128_t exp_f32x4(v128_t x) {
  using namespace exp_constants;
  // pmax/pmin are single instructions under V8 and keep a NaN in x (x is the first operand).
  return exp_clamped_f32x4(wasm_f32x4_pmin(wasm_f32x4_pmax(x, wasm_f32x4_splat(kClampLow)),
                                           wasm_f32x4_splat(kClampHigh)));
}

// exp_f32x4 for lanes <= 0 (or NaN) only: skips the upper clamp (about 10% faster in softmax).
inline v128_t exp_nonpositive_f32x4(v128_t x) {
  return exp_clamped_f32x4(wasm_f32x4_pmax(x, wasm_f32x4_splat(exp_constants::kClampLow)));
}

inline v128_t sigmoid_f32x4(v128_t x) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  return wasm_f32x4_div(one, wasm_f32x4_add(one, exp_f32x4(wasm_f32x4_neg(x))));
}

inline v128_t silu_f32x4(v128_t x) {
  return wasm_f32x4_div(x, wasm_f32x4_add(wasm_f32x4_splat(1.0f), exp_f32x4(wasm_f32x4_neg(x))));
}

inline v128_t erf_f32x4(v128_t x) {
  using namespace erf_constants;
  const v128_t sign_mask = wasm_i32x4_splat(static_cast<int32_t>(0x80000000u));
  const v128_t z = wasm_v128_andnot(x, sign_mask);
  const v128_t one = wasm_f32x4_splat(1.0f);
  const v128_t t =
      wasm_f32x4_div(one, wasm_f32x4_add(one, wasm_f32x4_mul(wasm_f32x4_splat(kP), z)));
  v128_t poly = madd_f32x4(wasm_f32x4_splat(kA5), t, wasm_f32x4_splat(kA4));
  poly = madd_f32x4(poly, t, wasm_f32x4_splat(kA3));
  poly = madd_f32x4(poly, t, wasm_f32x4_splat(kA2));
  poly = madd_f32x4(poly, t, wasm_f32x4_splat(kA1));
  const v128_t e = exp_f32x4(wasm_f32x4_neg(wasm_f32x4_mul(z, z)));
  const v128_t erf_abs = wasm_f32x4_sub(one, wasm_f32x4_mul(wasm_f32x4_mul(poly, t), e));
  return wasm_v128_or(erf_abs, wasm_v128_and(x, sign_mask));  // copy the sign of x
}

inline v128_t gelu_f32x4(v128_t x) {
  const v128_t half_x = wasm_f32x4_mul(wasm_f32x4_splat(0.5f), x);
  const v128_t erf = erf_f32x4(wasm_f32x4_mul(x, wasm_f32x4_splat(erf_constants::kInvSqrt2)));
  return wasm_f32x4_add(half_x, wasm_f32x4_mul(half_x, erf));
}

inline float hsum_f32x4(v128_t v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

// (Σ a, Σ b, Σ c, Σ d) of four vectors: a 4×4 transpose folded into the adds.
inline v128_t hsum4_f32x4(v128_t a, v128_t b, v128_t c, v128_t d) {
  const v128_t ab =
      wasm_f32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
  const v128_t cd =
      wasm_f32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
  // ab = (a0+a2, b0+b2, a1+a3, b1+b3): add its halves.
  return wasm_f32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5),
                        wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

inline float hmax_f32x4(v128_t v) {
  v = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

#endif  // GYRE_SIMD128

}  // namespace gyre::kernels
