// The activations fused into kernel epilogues (GEMM, the Winograd convolution's output transform):
// one scalar and one SIMD128 form of each, over the shared math of simd_math.h.
#pragma once

#include <cstdint>

#include "kernels/simd_math.h"

namespace gyre::kernels {

enum class Activation : std::uint8_t { none, relu, silu, gelu };

inline float apply_activation_scalar(float x, Activation activation) {
  switch (activation) {
    case Activation::none:
      return x;
    case Activation::relu:
      return x > 0.0f ? x : 0.0f;
    case Activation::silu:
      return silu_scalar(x);
    case Activation::gelu:
      return gelu_scalar(x);
  }
  return x;
}

#if GYRE_SIMD128
inline v128_t activate_f32x4(v128_t x, Activation activation) {
  switch (activation) {
    case Activation::none:
      return x;
    case Activation::relu:
      return wasm_f32x4_pmax(x, wasm_f32x4_splat(0.0f));
    case Activation::silu:
      return silu_f32x4(x);
    case Activation::gelu:
      return gelu_f32x4(x);
  }
  return x;
}
#endif

}  // namespace gyre::kernels
