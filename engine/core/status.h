// Typed errors for the whole engine. Engine functions return a Status or a Result<T> instead of
// throwing: the wasm build has no exception catching, and the JS loader turns the code into a
// GyreError subclass of the same name (web/lib/errors.js).
#pragma once

#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace gyre {

enum class ErrorCode : std::uint8_t {
  kOk = 0,
  kBadModel,          // a model or weights file is malformed or inconsistent
  kUnsupportedDtype,  // a valid file with a tensor type the engine does not convert
  kTooLarge,          // a size exceeds what the engine can address (checked before allocating)
  kOutOfMemory,       // an allocation of an addressable size failed
  kNotWasm,           // a URL returned something other than WebAssembly (raised by the JS loader)
  kNotFound,          // a file, URL or tensor name does not exist
  kBadArgument,       // a caller passed an invalid value
  kAborted,           // the work was cancelled or the module aborted
};

// The stable name that JS sees as `error.code`, e.g. "BAD_MODEL".
std::string_view error_code_name(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }

  bool is_ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "BAD_MODEL: tensor 'w' ..." for logs and test failure output.
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit on purpose, like std::expected
  Result(Status status) : state_(std::move(status)) {}  // NOLINT
  Result(ErrorCode code, std::string message) : state_(Status(code, std::move(message))) {}

  bool is_ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return is_ok(); }

  // Only valid when is_ok().
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Ok status when a value is held.
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(state_); }

 private:
  std::variant<T, Status> state_;
};

// Human-readable byte count for error messages ("1.50 GiB").
std::string format_bytes(std::uint64_t bytes);

}  // namespace gyre
