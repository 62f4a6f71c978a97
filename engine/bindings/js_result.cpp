// The success objects of js_result.h, each made by a single call into JS. Building { ok, value }
// from C++ with val::object() and two set() calls crosses the boundary eight times and decodes two
// property names per call, which dominated the cost of the small bindings (bench/call-overhead.mjs).
#include "bindings/js_result.h"

#include <emscripten/emscripten.h>

using emscripten::EM_VAL;

// clang-format off
EM_JS(EM_VAL, gyre_success_value, (EM_VAL value), {
  return Emval.toHandle({ ok: true, value: Emval.toValue(value) });
});

EM_JS(EM_VAL, gyre_success_number, (double value), {
  return Emval.toHandle({ ok: true, value: value });
});
// clang-format on

namespace gyre::bindings {

emscripten::val success(const emscripten::val& value) {
  return emscripten::val::take_ownership(gyre_success_value(value.as_handle()));
}

emscripten::val success_number(double value) {
  return emscripten::val::take_ownership(gyre_success_number(value));
}

}  // namespace gyre::bindings
