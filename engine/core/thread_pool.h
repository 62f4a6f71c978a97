// The engine's worker threads and one primitive over them: parallel_for over a range of indices.
//
// A job splits [0, count) into chunks of `chunk` indices; the calling thread and the workers take
// chunks from one atomic counter until none is left, so a slow or preempted thread delays only the
// chunk it holds. Which thread runs a chunk varies from run to run; what a chunk computes does not,
// so callers that give every output to exactly one chunk (rows of a GEMM, heads or query blocks of
// attention, images of a batch) get the same bits whatever the thread count.
//
// Builds without threads (the single-thread wasm flavours) run every job on the caller. In wasm the
// workers are Emscripten pthreads on Web Workers (Node: worker_threads) that the JS loader starts
// before the module runs (-sPTHREAD_POOL_SIZE), so starting a thread never waits for the event
// loop.
#pragma once

#include <cstddef>
#include <type_traits>

#include "core/status.h"

namespace gyre::core {

// True when this build can run threads (native, and the wasm flavours built with -pthread).
bool threads_available();

// Threads a job runs on, the caller included: 1 until set_thread_count.
int thread_count();

// Starts count - 1 workers (stopping any there were). BAD_ARGUMENT outside [1, kMaxThreads] or
// above 1 in a build without threads; called between jobs only.
inline constexpr int kMaxThreads = 64;
Status set_thread_count(int count);

// Stops the workers (natively joins them; in wasm the JS side then terminates their Web Workers);
// thread_count() is 1 afterwards.
void stop_threads();

// The chunk function's signature: fn(begin, end) over a sub-range of [0, count), on some thread.
using ChunkFn = void (*)(void* context, std::size_t begin, std::size_t end);
void parallel_for_chunks(std::size_t count, std::size_t chunk, ChunkFn fn, void* context);

// parallel_for(count, chunk, [&](std::size_t begin, std::size_t end) { ... }): returns once every
// chunk has run. A call from inside a chunk (nested) runs serially on that thread.
template <typename F>
void parallel_for(std::size_t count, std::size_t chunk, F&& fn) {
  using Fn = std::remove_reference_t<F>;
  parallel_for_chunks(
      count, chunk,
      [](void* context, std::size_t begin, std::size_t end) {
        (*static_cast<Fn*>(context))(begin, end);
      },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

// How many chunks of `chunk` a job of `count` splits into when it pays to share it: a heuristic
// for callers picking a chunk size, e.g. rows per chunk of at least `min_chunk`.
std::size_t chunk_size_for(std::size_t count, std::size_t min_chunk, std::size_t align = 1);

// Index of the calling thread in the pool: 0 for the caller of parallel_for, 1.. for the workers.
// Callers use it to pick per-thread scratch.
int thread_index();

}  // namespace gyre::core
