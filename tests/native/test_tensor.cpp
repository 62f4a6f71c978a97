#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "core/tensor.h"

using gyre::ErrorCode;

TEST_CASE("tensor: zeros has the shape, the size and zeroed, aligned data") {
  auto tensor = gyre::Tensor::zeros({2, 3, 4}, "activations");
  REQUIRE(tensor.is_ok());
  CHECK(tensor->rank() == 3);
  CHECK(tensor->size() == 24);
  CHECK(reinterpret_cast<std::uintptr_t>(tensor->data()) % gyre::kBufferAlignment == 0);
  for (float value : tensor->values()) CHECK(value == 0.0f);
}

TEST_CASE(
    "tensor: sizes beyond what the engine addresses are TOO_LARGE, checked before allocating") {
  auto huge = gyre::Tensor::zeros({1 << 30, 1 << 30, 4}, "logits");  // 2^64 bytes
  REQUIRE_FALSE(huge.is_ok());
  CHECK(huge.status().code() == ErrorCode::kTooLarge);
  CHECK(huge.status().message().find("logits") != std::string::npos);

  auto negative = gyre::Tensor::zeros({-1, 4});
  REQUIRE_FALSE(negative.is_ok());
  CHECK(negative.status().code() == ErrorCode::kBadArgument);

  auto overflowing = gyre::Tensor::zeros({INT64_MAX, INT64_MAX});
  REQUIRE_FALSE(overflowing.is_ok());
  CHECK(overflowing.status().code() == ErrorCode::kBadArgument);

  // Still usable.
  CHECK(gyre::Tensor::zeros({4}).is_ok());
}

#if defined(__EMSCRIPTEN__)
TEST_CASE("tensor: exhausting the wasm heap gives OUT_OF_MEMORY and frees cleanly") {
  // 2 GiB heap limit: 512 MiB blocks run out after at most four.
  std::vector<gyre::Tensor> held;
  bool out_of_memory = false;
  for (int i = 0; i < 8 && !out_of_memory; ++i) {
    auto block = gyre::Tensor::zeros({128 << 20}, "block");
    if (block.is_ok()) {
      held.push_back(std::move(block).value());
    } else {
      CHECK(block.status().code() == ErrorCode::kOutOfMemory);
      CHECK(block.status().message().find("512.00 MiB") != std::string::npos);
      out_of_memory = true;
    }
  }
  CHECK(out_of_memory);
  held.clear();
  auto after = gyre::Tensor::zeros({128 << 20}, "block after freeing");
  CHECK(after.is_ok());
}
#endif
