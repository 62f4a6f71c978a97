// The convention of the raw-kernel bindings (kernels_bindings.cpp, attention_bindings.cpp): JS
// passes buffers as wasm heap addresses (numbers from Module._malloc), and a call returns "" on
// success or "CODE: message".
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace gyre::bindings {

using Address = std::uintptr_t;

inline const float* in(Address p) {
  return reinterpret_cast<const float*>(p);
}
inline float* out(Address p) {
  return reinterpret_cast<float*>(p);
}
inline std::string report(const Status& s) {
  return s.is_ok() ? std::string() : s.to_string();
}

}  // namespace gyre::bindings
