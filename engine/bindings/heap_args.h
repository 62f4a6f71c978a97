// How the raw-kernel bindings (kernels_bindings.cpp, attention_bindings.cpp) take buffers: JS
// passes wasm heap addresses (numbers from Module._malloc). They return js_result.h's objects like
// every binding.
#pragma once

#include <cstdint>

namespace gyre::bindings {

using Address = std::uintptr_t;

inline const float* in(Address p) {
  return reinterpret_cast<const float*>(p);
}
inline float* out(Address p) {
  return reinterpret_cast<float*>(p);
}

}  // namespace gyre::bindings
