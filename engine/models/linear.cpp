#include "models/linear.h"

namespace gyre::models {

Result<Linear> Linear::create(const float* weight, int out, int in, std::string_view what, bool transposed) {
  if (out <= 0 || in <= 0) return Result<Linear>(ErrorCode::kBadArgument, std::string(what) + ": empty weight");
  Linear layer;
  layer.in_ = in;
  layer.out_ = out;
  Result<FloatBuffer> packed = FloatBuffer::allocate(kernels::gemm_packed_size(in, out), what);
  if (!packed) return packed.status();
  layer.packed_ = std::move(packed).value();
  if (Status s = kernels::gemm_pack_b(weight, in, out, transposed ? in : out, transposed, layer.packed_.data());
      !s.is_ok()) {
    return s;
  }
  return layer;
}

void Linear::apply(const float* x, int rows, float* y, Activation activation, int x_stride, int y_stride) const {
  // Sizes and strides are fixed by the model at load, so the GEMM cannot reject them.
  (void)kernels::gemm_packed(rows, out_, in_, x, x_stride ? x_stride : in_, packed_.data(), y,
                             y_stride ? y_stride : out_, nullptr, activation);
}

Status ensure_capacity(FloatBuffer& buffer, std::uint64_t count, std::string_view what) {
  if (buffer.size() >= count) return Status::ok();
  Result<FloatBuffer> grown = FloatBuffer::allocate(count, what);
  if (!grown) return grown.status();
  buffer = std::move(grown).value();
  return Status::ok();
}

}  // namespace gyre::models
