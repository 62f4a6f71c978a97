// IEEE binary16 and bfloat16 to f32, exact for every input (subnormals, infinities, NaN payloads).
#pragma once

#include <cstdint>
#include <cstring>

namespace gyre::io {

// std::bit_cast is missing from Emscripten 3.1.6's libc++.
inline float f32_from_bits(std::uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

inline float f16_to_f32(std::uint16_t half) {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1fu;
  std::uint32_t mantissa = half & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf, NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // ±0
  } else {
    // Subnormal half: normalize; every one is a normal f32.
    std::uint32_t shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | ((127 - 15 + 1 - shift) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return f32_from_bits(bits);
}

// bfloat16 is the top half of an f32.
inline float bf16_to_f32(std::uint16_t value) {
  return f32_from_bits(static_cast<std::uint32_t>(value) << 16);
}

}  // namespace gyre::io
