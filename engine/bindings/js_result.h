// What every Embind function returns to JS: { ok: true, value } or { ok: false, code, message }.
// web/lib/binding.js turns a failure into its GyreError subclass; nothing throws across the
// boundary.
#pragma once

#include <emscripten/val.h>

#include <cstddef>
#include <string>
#include <utility>

#include "core/status.h"

namespace gyre::bindings {

// { ok: true, value }. Built by one call into JS (js_result.cpp), not val::object() and set().
emscripten::val success(const emscripten::val& value);

// { ok: true, value } for a number (a size, a count, a handle), without a val in between.
emscripten::val success_number(double value);

inline emscripten::val failure(const Status& status) {
  emscripten::val result = emscripten::val::object();
  result.set("ok", false);
  result.set("code", std::string(error_code_name(status.code())));
  result.set("message", status.message());
  return result;
}

inline emscripten::val failure(ErrorCode code, std::string message) {
  return failure(Status(code, std::move(message)));
}

// { ok: true, value: undefined } for calls that only report success: one frozen object, reused,
// because the raw-kernel bindings run in timed loops.
inline emscripten::val success() {
  static const emscripten::val done = [] {
    emscripten::val result = success(emscripten::val::undefined());
    emscripten::val::global("Object").call<void>("freeze", result);
    return result;
  }();
  return done;
}

inline emscripten::val result(const Status& status) {
  return status.is_ok() ? success() : failure(status);
}

// A JS-owned copy, so the wasm heap can be freed and may grow without invalidating the result.
inline emscripten::val float32_array_copy(const float* data, std::size_t count) {
  return emscripten::val::global("Float32Array").new_(emscripten::typed_memory_view(count, data));
}

}  // namespace gyre::bindings
