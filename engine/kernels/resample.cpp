#include "kernels/resample.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/simd_math.h"

namespace gyre::kernels {
namespace {

Status check(const char* fn, const float* x, const float* y, int batch, int side, int channels,
             std::int64_t output_side) {
  auto bad = [fn](const std::string& why) {
    return Status(ErrorCode::kBadArgument, std::string(fn) + ": " + why);
  };
  if (batch < 0 || side < 0 || channels < 0)
    return bad("negative size batch=" + std::to_string(batch) + " side=" + std::to_string(side) +
               " channels=" + std::to_string(channels));
  if (output_side > (1 << 24)) return bad("side " + std::to_string(side) + " is too large");
  const std::uint64_t floats = static_cast<std::uint64_t>(batch) * output_side * output_side *
                               static_cast<std::uint64_t>(channels);
  if (floats > (std::uint64_t{1} << 40)) return bad("the output is too large to index");
  if (floats > 0 && (!x || !y)) return bad("null buffer");
  return Status::ok();
}

Status check_pool(const char* fn, const float* x, const float* y, int batch, int side,
                  int channels) {
  if (side % 2 != 0)
    return Status(ErrorCode::kBadArgument,
                  std::string(fn) + ": side " + std::to_string(side) + " is odd");
  return check(fn, x, y, batch, side, channels, side / 2);
}

// One output pixel from the four input pixels p00, p01 (right), p10 (below), p11.
template <bool kSimd>
void average_four(const float* p00, const float* p01, const float* p10, const float* p11, float* y,
                  int channels) {
  int c = 0;
#if GYRE_SIMD128
  if constexpr (kSimd) {
    const v128_t quarter = wasm_f32x4_splat(0.25f);
    for (; c + 4 <= channels; c += 4) {
      v128_t sum = wasm_f32x4_add(wasm_v128_load(p00 + c), wasm_v128_load(p01 + c));
      sum = wasm_f32x4_add(sum, wasm_v128_load(p10 + c));
      sum = wasm_f32x4_add(sum, wasm_v128_load(p11 + c));
      wasm_v128_store(y + c, wasm_f32x4_mul(sum, quarter));
    }
  }
#endif
  for (; c < channels; ++c) y[c] = (p00[c] + p01[c] + p10[c] + p11[c]) * 0.25f;
}

template <bool kSimd>
void avg_pool_2x2_impl(const float* x, float* y, int batch, int side, int channels) {
  const int half = side / 2;
  const std::size_t pixel = static_cast<std::size_t>(channels);
  const std::size_t row = static_cast<std::size_t>(side) * pixel;
  for (int b = 0; b < batch; ++b)
    for (int i = 0; i < half; ++i)
      for (int j = 0; j < half; ++j) {
        const float* p00 =
            x + ((static_cast<std::size_t>(b) * side + 2 * i) * side + 2 * j) * pixel;
        float* out = y + ((static_cast<std::size_t>(b) * half + i) * half + j) * pixel;
        average_four<kSimd>(p00, p00 + pixel, p00 + row, p00 + row + pixel, out, channels);
      }
}

}  // namespace

Status avg_pool_2x2(const float* x, float* y, int batch, int side, int channels) {
  Status s = check_pool("avg_pool_2x2", x, y, batch, side, channels);
  if (s.is_ok()) avg_pool_2x2_impl<GYRE_SIMD128 != 0>(x, y, batch, side, channels);
  return s;
}

Status avg_pool_2x2_scalar(const float* x, float* y, int batch, int side, int channels) {
  Status s = check_pool("avg_pool_2x2_scalar", x, y, batch, side, channels);
  if (s.is_ok()) avg_pool_2x2_impl<false>(x, y, batch, side, channels);
  return s;
}

Status upsample_nearest_2x(const float* x, float* y, int batch, int side, int channels) {
  if (Status s = check("upsample_nearest_2x", x, y, batch, side, channels, 2 * std::int64_t{side});
      !s.is_ok())
    return s;
  const int twice = 2 * side;
  const std::size_t pixel_bytes = sizeof(float) * static_cast<std::size_t>(channels);
  for (int b = 0; b < batch; ++b)
    for (int i = 0; i < twice; ++i)
      for (int j = 0; j < twice; ++j) {
        std::memcpy(y + ((static_cast<std::size_t>(b) * twice + i) * twice + j) * channels,
                    x + ((static_cast<std::size_t>(b) * side + i / 2) * side + j / 2) * channels,
                    pixel_bytes);
      }
  return Status::ok();
}

}  // namespace gyre::kernels
