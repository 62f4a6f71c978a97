// Owning f32 buffers and tensors. Sizes are checked before allocating and failures come
// back as TOO_LARGE (more than the engine can address) or OUT_OF_MEMORY (the allocation failed),
// never as std::bad_alloc: the wasm build cannot catch exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gyre {

using Shape = std::vector<std::int64_t>;

// Product of the dimensions, or nullopt when a dimension is negative or the product overflows.
std::optional<std::uint64_t> checked_element_count(std::span<const std::int64_t> shape);

// "[2, 3, 4]" for messages.
std::string shape_to_string(std::span<const std::int64_t> shape);

// BAD_MODEL naming `what` and the first offending index when `values` holds a NaN or an infinity:
// weights are checked once at load, so corrupted data fails there and not as NaN logits later.
Status require_finite(std::span<const float> values, std::string_view what);

// The largest single allocation the engine attempts: the wasm heap limit in wasm, and what a
// pointer difference can hold natively.
std::uint64_t max_allocation_bytes();

// Alignment of every engine buffer: a cache line, which also suits 16-byte SIMD128 loads.
inline constexpr std::size_t kBufferAlignment = 64;

// An aligned, uninitialized float buffer. `what` names the buffer in error messages.
class FloatBuffer {
 public:
  FloatBuffer() = default;
  static Result<FloatBuffer> allocate(std::uint64_t count, std::string_view what);

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(float* pointer) const;
  };
  std::unique_ptr<float, Free> data_;
  std::size_t size_ = 0;
};

// Scratch that grows to the largest call seen: replaces `buffer` by an uninitialized one of `count`
// floats when it holds fewer (its contents are not kept).
Status ensure_capacity(FloatBuffer& buffer, std::uint64_t count, std::string_view what);

// A dense row-major f32 tensor that owns its data.
class Tensor {
 public:
  Tensor() = default;
  // All elements zero. `what` names the tensor in error messages.
  static Result<Tensor> zeros(Shape shape, std::string_view what = "tensor");

  const Shape& shape() const { return shape_; }
  std::size_t rank() const { return shape_.size(); }
  std::int64_t dim(std::size_t axis) const { return shape_[axis]; }
  std::size_t size() const { return buffer_.size(); }
  float* data() { return buffer_.data(); }
  const float* data() const { return buffer_.data(); }
  std::span<float> values() { return {buffer_.data(), buffer_.size()}; }
  std::span<const float> values() const { return {buffer_.data(), buffer_.size()}; }

 private:
  Shape shape_;
  FloatBuffer buffer_;
};

}  // namespace gyre
