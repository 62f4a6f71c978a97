#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>

#if defined(__EMSCRIPTEN__)
#include <emscripten/heap.h>
#endif

namespace gyre {

std::optional<std::uint64_t> checked_element_count(std::span<const std::int64_t> shape) {
  std::uint64_t count = 1;
  for (std::int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(dim), &count)) return std::nullopt;
  }
  return count;
}

std::string shape_to_string(std::span<const std::int64_t> shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

Status require_finite(std::span<const float> values, std::string_view what) {
  // An exponent of all ones is an infinity or a NaN. The first pass only ORs a flag (it vectorises);
  // the slow search for the index runs only on a bad tensor.
  const auto non_finite = [](float value) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return (bits & 0x7f800000u) == 0x7f800000u;
  };
  bool any = false;
  for (float value : values) any |= non_finite(value);
  if (!any) return Status::ok();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (non_finite(values[i])) {
      return Status(ErrorCode::kBadModel,
                    "tensor '" + std::string(what) + "' holds a non-finite value (" +
                        std::to_string(values[i]) + ") at element " + std::to_string(i) +
                        ": the weights are corrupt");
    }
  }
  return Status::ok();
}

std::uint64_t max_allocation_bytes() {
#if defined(__EMSCRIPTEN__)
  return emscripten_get_heap_max();
#else
  return static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max());
#endif
}

void FloatBuffer::Free::operator()(float* pointer) const {
  std::free(pointer);
}

Result<FloatBuffer> FloatBuffer::allocate(std::uint64_t count, std::string_view what) {
  FloatBuffer buffer;
  if (count == 0) return buffer;
  const std::uint64_t limit = max_allocation_bytes();
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(count, sizeof(float), &bytes) || bytes > limit - kBufferAlignment) {
    return Result<FloatBuffer>(ErrorCode::kTooLarge,
                               std::string(what) + " needs " + std::to_string(count) +
                                   " floats, more than the " + format_bytes(limit) +
                                   " the engine can address");
  }
  // aligned_alloc wants a multiple of the alignment.
  const std::uint64_t rounded =
      (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
  void* memory = std::aligned_alloc(kBufferAlignment, static_cast<std::size_t>(rounded));
  if (memory == nullptr) {
    return Result<FloatBuffer>(
        ErrorCode::kOutOfMemory,
        "could not allocate " + format_bytes(bytes) + " for " + std::string(what));
  }
  buffer.data_.reset(static_cast<float*>(memory));
  buffer.size_ = static_cast<std::size_t>(count);
  return buffer;
}

Result<Tensor> Tensor::zeros(Shape shape, std::string_view what) {
  const std::optional<std::uint64_t> count = checked_element_count(shape);
  if (!count) {
    return Result<Tensor>(ErrorCode::kBadArgument,
                          std::string(what) + " has an invalid shape " + shape_to_string(shape));
  }
  Result<FloatBuffer> buffer = FloatBuffer::allocate(*count, what);
  if (!buffer) return buffer.status();
  Tensor tensor;
  tensor.shape_ = std::move(shape);
  tensor.buffer_ = std::move(buffer).value();
  if (tensor.size() > 0) std::memset(tensor.data(), 0, tensor.size() * sizeof(float));
  return tensor;
}

Status ensure_capacity(FloatBuffer& buffer, std::uint64_t count, std::string_view what) {
  if (buffer.size() >= count) return Status::ok();
  Result<FloatBuffer> grown = FloatBuffer::allocate(count, what);
  if (!grown) return grown.status();
  buffer = std::move(grown).value();
  return Status::ok();
}

}  // namespace gyre
