#include <doctest/doctest.h>

#include <string>

#include "core/status.h"

using gyre::ErrorCode;
using gyre::Result;
using gyre::Status;

TEST_CASE("error codes have the stable names JS relies on") {
  CHECK(gyre::error_code_name(ErrorCode::kBadModel) == "BAD_MODEL");
  CHECK(gyre::error_code_name(ErrorCode::kUnsupportedDtype) == "UNSUPPORTED_DTYPE");
  CHECK(gyre::error_code_name(ErrorCode::kTooLarge) == "TOO_LARGE");
  CHECK(gyre::error_code_name(ErrorCode::kOutOfMemory) == "OUT_OF_MEMORY");
  CHECK(gyre::error_code_name(ErrorCode::kNotWasm) == "NOT_WASM");
  CHECK(gyre::error_code_name(ErrorCode::kNotFound) == "NOT_FOUND");
  CHECK(gyre::error_code_name(ErrorCode::kBadArgument) == "BAD_ARGUMENT");
  CHECK(gyre::error_code_name(ErrorCode::kAborted) == "ABORTED");
}

TEST_CASE("Result holds a value or a status") {
  Result<int> good(7);
  REQUIRE(good.is_ok());
  CHECK(good.value() == 7);
  CHECK(good.status().is_ok());

  Result<int> bad(ErrorCode::kBadArgument, "n must be positive");
  CHECK_FALSE(bad.is_ok());
  CHECK(bad.status().code() == ErrorCode::kBadArgument);
  CHECK(bad.status().to_string() == "BAD_ARGUMENT: n must be positive");
}

TEST_CASE("format_bytes picks a readable unit") {
  CHECK(gyre::format_bytes(512) == "512 bytes");
  CHECK(gyre::format_bytes(1536) == "1.50 KiB");
  CHECK(gyre::format_bytes(3ull << 30) == "3.00 GiB");
}
