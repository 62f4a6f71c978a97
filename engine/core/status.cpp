#include "core/status.h"

#include <cstdio>

namespace gyre {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "OK";
    case ErrorCode::kBadModel:
      return "BAD_MODEL";
    case ErrorCode::kUnsupportedDtype:
      return "UNSUPPORTED_DTYPE";
    case ErrorCode::kTooLarge:
      return "TOO_LARGE";
    case ErrorCode::kOutOfMemory:
      return "OUT_OF_MEMORY";
    case ErrorCode::kNotWasm:
      return "NOT_WASM";
    case ErrorCode::kNotFound:
      return "NOT_FOUND";
    case ErrorCode::kBadArgument:
      return "BAD_ARGUMENT";
    case ErrorCode::kAborted:
      return "ABORTED";
  }
  return "UNKNOWN";
}

std::string Status::to_string() const {
  if (is_ok()) return "OK";
  std::string text(error_code_name(code_));
  text += ": ";
  text += message_;
  return text;
}

std::string format_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 6) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f %s", value, kUnits[unit]);
  return buffer;
}

}  // namespace gyre
