// Embind surface of the engine: the only code that knows about JS. Every function returns a plain
// object, { ok: true, value } or { ok: false, code, message }; web/lib turns the failure into a
// GyreError subclass. No C++ exception ever crosses into JS (the build cannot catch them), so
// arguments are validated here before anything that could allocate without bound.
#include <emscripten/bind.h>
#include <emscripten/heap.h>
#include <emscripten/val.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bindings/js_result.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "io/safetensors.h"
#include "kernels/rope.h"

namespace gyre::bindings {
namespace {

using emscripten::val;

constexpr bool kSimd =
#if defined(__wasm_simd128__)
    true;
#else
    false;
#endif

val build_info() {
  val info = val::object();
  info.set("version", std::string(GYRE_VERSION));
  info.set("simd", kSimd);
  info.set("threads", core::thread_count());
  info.set("threadsAvailable", core::threads_available());
  info.set("heapMaxBytes", static_cast<double>(emscripten_get_heap_max()));
  return success(info);
}

// Parses the safetensors bytes the JS side copied to [address, address + size) and converts every
// tensor to f32. The caller owns (and frees) the input bytes.
// Starts the pool: `count` threads in all, the caller included. The JS loader calls it once, with
// at most the number of Web Workers it preloaded plus one.
val set_threads(int count) {
  if (Status s = core::set_thread_count(count); !s.is_ok()) return failure(s);
  return success_number(core::thread_count());
}

// Stops the pool's threads (engine.dispose()); the JS side then terminates their Web Workers.
val stop_threads() {
  core::stop_threads();
  return success(val::undefined());
}

// For the tests of a crash inside a worker thread: runs a job whose chunks trap on any thread
// but the caller's. The caller must get an error, never wait forever.
val trap_in_worker_for_test() {
  core::parallel_for(64, 1, [](std::size_t, std::size_t) {
    if (core::thread_index() != 0) __builtin_trap();
    for (volatile int spin = 0; spin < 1000000; spin = spin + 1) {
    }
  });
  return success(val::undefined());
}

val parse_safetensors(std::uintptr_t address, std::size_t size) {
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(address), size);
  auto file = io::SafetensorsFile::parse(bytes);
  if (!file) return failure(file.status());

  val tensors = val::array();
  for (const io::TensorInfo& info : file->tensors()) {
    auto tensor = file->read_f32(info);
    if (!tensor) return failure(tensor.status());
    val shape = val::array();
    for (std::int64_t dim : info.shape) shape.call<void>("push", static_cast<double>(dim));
    val entry = val::object();
    entry.set("name", info.name);
    entry.set("dtype", info.dtype);
    entry.set("shape", shape);
    entry.set("data", float32_array_copy(tensor->data(), tensor->size()));
    tensors.call<void>("push", entry);
  }
  val metadata = val::object();
  for (const auto& [key, value] : file->metadata()) metadata.set(key, value);
  val result = val::object();
  result.set("tensors", tensors);
  result.set("metadata", metadata);
  return success(result);
}

// Bounds for the RoPE entry point: the table holds positions × head_dim/2 cos and sin values.
constexpr int kMaxRopePositions = 1 << 20;
constexpr int kMaxRopeHeadDim = 4096;
constexpr std::int64_t kMaxRopeTableFloats = 1 << 26;

// The table of the last call, grown on demand: interactive pages call with the same settings.
std::optional<kernels::RopeTable> cached_rope_table;

// Rotates rows of `head_dim` floats (a Float32Array) at positions first_position,
// first_position + 1, ... and returns the rotated copy.
val rope_rotate(val input, int head_dim, int first_position, double base, bool half_split) {
  if (!input.instanceof (val::global("Float32Array"))) {
    return failure(ErrorCode::kBadArgument, "rope: x must be a Float32Array");
  }
  const double length = input["length"].as<double>();
  if (head_dim <= 0 || head_dim % 2 != 0 || head_dim > kMaxRopeHeadDim) {
    return failure(ErrorCode::kBadArgument, "rope: headDim must be even, in [2, " +
                                                std::to_string(kMaxRopeHeadDim) + "], got " +
                                                std::to_string(head_dim));
  }
  if (length == 0 || static_cast<std::int64_t>(length) % head_dim != 0) {
    return failure(ErrorCode::kBadArgument,
                   "rope: x has " + std::to_string(static_cast<std::int64_t>(length)) +
                       " values, not a non-zero multiple of headDim " + std::to_string(head_dim));
  }
  const std::int64_t rows = static_cast<std::int64_t>(length) / head_dim;
  if (first_position < 0 || rows + first_position > kMaxRopePositions) {
    return failure(ErrorCode::kBadArgument, "rope: positions " + std::to_string(first_position) +
                                                " to " + std::to_string(first_position + rows - 1) +
                                                " must lie in [0, " +
                                                std::to_string(kMaxRopePositions) + ")");
  }
  const int positions_needed = static_cast<int>(first_position + rows);
  if (static_cast<std::int64_t>(positions_needed) * head_dim > kMaxRopeTableFloats) {
    return failure(ErrorCode::kTooLarge, "rope: a table for " + std::to_string(positions_needed) +
                                             " positions of headDim " + std::to_string(head_dim) +
                                             " is too large");
  }

  if (!cached_rope_table || cached_rope_table->head_dim() != head_dim ||
      cached_rope_table->base() != base) {
    auto table = kernels::RopeTable::create(head_dim, positions_needed, base);
    if (!table) return failure(table.status());
    cached_rope_table = std::move(table).value();
  } else if (cached_rope_table->max_positions() < positions_needed) {
    if (Status status = cached_rope_table->extend(positions_needed); !status.is_ok()) {
      return failure(status);
    }
  }

  auto buffer = FloatBuffer::allocate(static_cast<std::uint64_t>(length), "rope input");
  if (!buffer) return failure(buffer.status());
  val heap_view = val(emscripten::typed_memory_view(buffer->size(), buffer->data()));
  heap_view.call<void>("set", input);
  const Status status = kernels::rope_apply(
      *cached_rope_table, buffer->data(), static_cast<int>(rows), head_dim, 1, first_position,
      half_split ? kernels::RopeLayout::half_split : kernels::RopeLayout::interleaved);
  if (!status.is_ok()) return failure(status);
  return success(float32_array_copy(buffer->data(), buffer->size()));
}

}  // namespace

EMSCRIPTEN_BINDINGS(gyre) {
  emscripten::function("buildInfo", &build_info);
  emscripten::function("setThreads", &set_threads);
  emscripten::function("stopThreads", &stop_threads);
  emscripten::function("trapInWorkerForTest", &trap_in_worker_for_test);
  emscripten::function("parseSafetensors", &parse_safetensors);
  emscripten::function("ropeRotate", &rope_rotate);
}

}  // namespace gyre::bindings
