#include "models/linear.h"

#include "kernels/parallel.h"

namespace gyre::models {

Result<Linear> Linear::create(const float* weight, int out, int in, std::string_view what,
                              bool transposed) {
  if (out <= 0 || in <= 0)
    return Result<Linear>(ErrorCode::kBadArgument, std::string(what) + ": empty weight");
  Linear layer;
  layer.in_ = in;
  layer.out_ = out;
  if (out == 1) {
    // One output (the U-Net head on 1-channel images): a panel of 8 would waste 7/8 of the work, so
    // keep the weight row and run y = X·w as C = wᵀ·Xᵀ (gemm_nt), one long row of results.
    Result<FloatBuffer> row = FloatBuffer::allocate(in, what);
    if (!row) return row.status();
    layer.packed_ = std::move(row).value();
    for (int i = 0; i < in; ++i)
      layer.packed_.data()[i] = weight[i];  // [1, in] and [in, 1] coincide
    return layer;
  }
  Result<FloatBuffer> packed = FloatBuffer::allocate(kernels::gemm_packed_size(in, out), what);
  if (!packed) return packed.status();
  layer.packed_ = std::move(packed).value();
  if (Status s = kernels::gemm_pack_b(weight, in, out, transposed ? in : out, transposed,
                                      layer.packed_.data());
      !s.is_ok()) {
    return s;
  }
  return layer;
}

void Linear::apply(const float* x, int rows, float* y, Activation activation, int x_stride,
                   int y_stride) const {
  // Sizes and strides are fixed by the model at load, so the GEMM cannot reject them.
  if (out_ == 1 && (y_stride == 0 || y_stride == 1)) {
    (void)kernels::gemm_nt(1, rows, in_, packed_.data(), in_, x, x_stride ? x_stride : in_, y, rows,
                           nullptr, activation);
    return;
  }
  if (out_ == 1) {
    for (int r = 0; r < rows; ++r) {
      (void)kernels::gemm_nt(1, 1, in_, packed_.data(), in_,
                             x + static_cast<std::size_t>(r) * (x_stride ? x_stride : in_), in_,
                             y + static_cast<std::size_t>(r) * y_stride, 1, nullptr, activation);
    }
    return;
  }
  (void)parallel::gemm_packed(rows, out_, in_, x, x_stride ? x_stride : in_, packed_.data(), y,
                              y_stride ? y_stride : out_, nullptr, activation);
}

}  // namespace gyre::models
