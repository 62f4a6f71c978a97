#include "kernels/rope.h"

#include <cmath>
#include <string>

#include "kernels/simd_math.h"

namespace gyre::kernels {

Result<RopeTable> RopeTable::create(int head_dim, int max_positions, double base) {
  if (head_dim <= 0 || head_dim % 2 != 0)
    return Status(ErrorCode::kBadArgument,
                  "RoPE: head_dim must be even and positive, got " + std::to_string(head_dim));
  if (!(base > 1.0) || !std::isfinite(base))
    return Status(ErrorCode::kBadArgument,
                  "RoPE: base must be finite and > 1, got " + std::to_string(base));
  RopeTable table(head_dim, base);
  if (Status s = table.extend(max_positions); !s.is_ok()) return s;
  return table;
}

double RopeTable::theta(int i) const {
  return std::pow(base_, -2.0 * i / head_dim_);
}

Status RopeTable::extend(int max_positions) {
  if (max_positions < 0)
    return Status(ErrorCode::kBadArgument,
                  "RoPE: max_positions must be >= 0, got " + std::to_string(max_positions));
  if (max_positions <= max_positions_) return Status::ok();
  const std::size_t h = half();
  if (static_cast<std::uint64_t>(max_positions) * h > (1u << 31))
    return Status(ErrorCode::kTooLarge, "RoPE: a table of " + std::to_string(max_positions) +
                                            " positions x " + std::to_string(h) +
                                            " frequencies is too large");
  cos_.resize(static_cast<std::size_t>(max_positions - first_) * h);
  sin_.resize(cos_.size());
  std::vector<double> thetas(h);
  for (std::size_t i = 0; i < h; ++i) thetas[i] = theta(static_cast<int>(i));
  for (int m = max_positions_; m < max_positions; ++m) {
    const std::size_t row = static_cast<std::size_t>(m - first_) * h;
    for (std::size_t i = 0; i < h; ++i) {
      // The angle in double: m·θ_0 reaches 65536 rad for long contexts, beyond f32's useful
      // precision.
      const double angle = static_cast<double>(m) * thetas[i];
      cos_[row + i] = static_cast<float>(std::cos(angle));
      sin_[row + i] = static_cast<float>(std::sin(angle));
    }
  }
  max_positions_ = max_positions;
  return Status::ok();
}

Status RopeTable::slide(int first_position, int count) {
  if (first_position < 0 || count < 0 || first_position > (1 << 30) - count)
    return Status(ErrorCode::kBadArgument, "RoPE: cannot slide the table to positions " +
                                               std::to_string(first_position) + " + " +
                                               std::to_string(count));
  first_ = first_position;
  max_positions_ = first_position;
  cos_.clear();
  sin_.clear();
  return extend(first_position + count);
}

namespace {

Status check_args(const RopeTable& table, const float* x, int rows, int row_stride, int num_heads,
                  int first_position) {
  auto bad = [](std::string message) {
    return Status(ErrorCode::kBadArgument, "rope_apply: " + std::move(message));
  };
  if (rows < 0 || num_heads < 1) return bad("rows must be >= 0 and num_heads >= 1");
  if (rows == 0) return Status::ok();
  if (x == nullptr) return bad("x is null");
  if (row_stride < static_cast<long long>(num_heads) * table.head_dim())
    return bad("row_stride " + std::to_string(row_stride) +
               " is smaller than num_heads*head_dim = " +
               std::to_string(static_cast<long long>(num_heads) * table.head_dim()));
  if (first_position < table.first_position() || first_position > table.max_positions() - rows)
    return bad("positions " + std::to_string(first_position) + ".." +
               std::to_string(static_cast<long long>(first_position) + rows - 1) +
               " exceed the RoPE table (" + std::to_string(table.max_positions()) +
               " positions); extend() it");
  return Status::ok();
}

void rotate_head_scalar(float* x, const float* c, const float* s, int half, RopeLayout layout) {
  if (layout == RopeLayout::interleaved) {
    for (int i = 0; i < half; ++i) {
      const float a = x[2 * i], b = x[2 * i + 1];
      x[2 * i] = a * c[i] - b * s[i];
      x[2 * i + 1] = a * s[i] + b * c[i];
    }
  } else {
    for (int i = 0; i < half; ++i) {
      const float a = x[i], b = x[i + half];
      x[i] = a * c[i] - b * s[i];
      x[i + half] = a * s[i] + b * c[i];
    }
  }
}

#if GYRE_SIMD128
void rotate_head_simd(float* x, const float* c, const float* s, int half, RopeLayout layout) {
  int i = 0;
  if (layout == RopeLayout::interleaved) {
    // Two pairs per vector: y = x ⊙ [c0 c0 c1 c1] + [x1 x0 x3 x2] ⊙ [−s0 s0 −s1 s1].
    const v128_t sign = wasm_f32x4_make(-1.f, 1.f, -1.f, 1.f);
    for (; i + 2 <= half; i += 2) {
      const v128_t cc = wasm_v128_load64_zero(c + i);
      const v128_t ss = wasm_v128_load64_zero(s + i);
      const v128_t cos2 = wasm_i32x4_shuffle(cc, cc, 0, 0, 1, 1);
      const v128_t sin2 = wasm_f32x4_mul(wasm_i32x4_shuffle(ss, ss, 0, 0, 1, 1), sign);
      const v128_t v = wasm_v128_load(x + 2 * i);
      const v128_t swapped = wasm_i32x4_shuffle(v, v, 1, 0, 3, 2);
      wasm_v128_store(x + 2 * i,
                      wasm_f32x4_add(wasm_f32x4_mul(v, cos2), wasm_f32x4_mul(swapped, sin2)));
    }
    if (i < half) rotate_head_scalar(x + 2 * i, c + i, s + i, half - i, layout);
  } else {
    for (; i + 4 <= half; i += 4) {
      const v128_t a = wasm_v128_load(x + i), b = wasm_v128_load(x + i + half);
      const v128_t cv = wasm_v128_load(c + i), sv = wasm_v128_load(s + i);
      wasm_v128_store(x + i, wasm_f32x4_sub(wasm_f32x4_mul(a, cv), wasm_f32x4_mul(b, sv)));
      wasm_v128_store(x + i + half, wasm_f32x4_add(wasm_f32x4_mul(a, sv), wasm_f32x4_mul(b, cv)));
    }
    for (; i < half; ++i) {
      const float a = x[i], b = x[i + half];
      x[i] = a * c[i] - b * s[i];
      x[i + half] = a * s[i] + b * c[i];
    }
  }
}
#endif

template <typename RotateHead>
Status apply_rows(const RopeTable& table, float* x, int rows, int row_stride, int num_heads,
                  int first_position, RopeLayout layout, RotateHead rotate) {
  if (Status s = check_args(table, x, rows, row_stride, num_heads, first_position); !s.is_ok())
    return s;
  const int d = table.head_dim();
  for (int r = 0; r < rows; ++r) {
    const float* c = table.cos_at(first_position + r);
    const float* s = table.sin_at(first_position + r);
    float* row = x + static_cast<std::size_t>(r) * row_stride;
    for (int h = 0; h < num_heads; ++h) rotate(row + h * d, c, s, d / 2, layout);
  }
  return Status::ok();
}

}  // namespace

Status rope_apply_scalar(const RopeTable& table, float* x, int rows, int row_stride, int num_heads,
                         int first_position, RopeLayout layout) {
  return apply_rows(table, x, rows, row_stride, num_heads, first_position, layout,
                    rotate_head_scalar);
}

Status rope_apply(const RopeTable& table, float* x, int rows, int row_stride, int num_heads,
                  int first_position, RopeLayout layout) {
#if GYRE_SIMD128
  return apply_rows(table, x, rows, row_stride, num_heads, first_position, layout,
                    rotate_head_simd);
#else
  return apply_rows(table, x, rows, row_stride, num_heads, first_position, layout,
                    rotate_head_scalar);
#endif
}

}  // namespace gyre::kernels
