#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)
#define GYRE_HAS_THREADS 1
#include <condition_variable>
#include <mutex>
#include <thread>
#else
#define GYRE_HAS_THREADS 0
#endif

#if defined(__EMSCRIPTEN_PTHREADS__)
#include <emscripten/threading.h>

#include <cmath>
#endif

namespace gyre::core {
namespace {

// The job word packs what a thread needs to claim a chunk atomically: the job's generation, its
// chunk count and the next unclaimed chunk. A thread that read an older job's word fails its
// compare-exchange, so it can never run a chunk of a job it did not see published.
constexpr int kCountBits = 24;
constexpr std::uint64_t kCountMask = (std::uint64_t{1} << kCountBits) - 1;
constexpr std::size_t kMaxChunks = kCountMask;

thread_local int current_thread_index = 0;
thread_local bool inside_chunk = false;

struct Pool {
  std::atomic<std::uint64_t> job{0};
  std::atomic<std::uint32_t> done{0};  // chunks finished in the current job
  std::atomic<std::uint32_t> wake{0};  // bumped to wake the workers (a job or stop)
  std::atomic<bool> stopping{false};
  // Fields of the current job: written before its word is published, constant until it is done.
  ChunkFn fn = nullptr;
  void* context = nullptr;
  std::size_t count = 0;
  std::size_t chunk = 0;
  int threads = 1;
#if GYRE_HAS_THREADS
  std::vector<std::thread> workers;
#endif
#if GYRE_HAS_THREADS && !defined(__EMSCRIPTEN__)
  // Natively the workers sleep on a condition variable (libstdc++ 12's atomic wait can lose a
  // wake-up); in wasm on a futex (Atomics.wait).
  std::mutex sleep_mutex;
  std::condition_variable sleep;
#endif
};

Pool pool;

#if GYRE_HAS_THREADS
std::uint64_t pack(std::uint64_t generation, std::uint64_t total, std::uint64_t next) {
  return (generation << (2 * kCountBits)) | (total << kCountBits) | next;
}
std::uint64_t total_of(std::uint64_t word) {
  return (word >> kCountBits) & kCountMask;
}
std::uint64_t next_of(std::uint64_t word) {
  return word & kCountMask;
}
std::uint64_t generation_of(std::uint64_t word) {
  return word >> (2 * kCountBits);
}

// Claims and runs chunks of the published job until none is left.
void run_chunks() {
  for (;;) {
    std::uint64_t word = pool.job.load(std::memory_order_acquire);
    if (next_of(word) >= total_of(word)) return;
    if (!pool.job.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel)) continue;
    const std::size_t begin = next_of(word) * pool.chunk;
    const std::size_t end = std::min(pool.count, begin + pool.chunk);
    inside_chunk = true;
    pool.fn(pool.context, begin, end);
    inside_chunk = false;
    pool.done.fetch_add(1, std::memory_order_acq_rel);
  }
}

void wait_for_wake(std::uint32_t seen) {
  // Back-to-back jobs (the layers of a forward pass) usually arrive within microseconds: spin a
  // little before sleeping, which costs a futex wake-up of tens of microseconds.
  for (int spin = 0; spin < 20000; ++spin) {
    if (pool.wake.load(std::memory_order_acquire) != seen) return;
  }
  while (pool.wake.load(std::memory_order_acquire) == seen) {
#if defined(__EMSCRIPTEN_PTHREADS__)
    emscripten_futex_wait(&pool.wake, seen, INFINITY);
#else
    std::unique_lock lock(pool.sleep_mutex);
    pool.sleep.wait(lock, [seen] { return pool.wake.load(std::memory_order_acquire) != seen; });
#endif
  }
}

void wake_workers() {
#if defined(__EMSCRIPTEN_PTHREADS__)
  pool.wake.fetch_add(1, std::memory_order_acq_rel);
  emscripten_futex_wake(&pool.wake, kMaxThreads);
#else
  {
    std::lock_guard lock(pool.sleep_mutex);
    pool.wake.fetch_add(1, std::memory_order_acq_rel);
  }
  pool.sleep.notify_all();
#endif
}

// `seen` is the wake count when the worker was created: read later, it could already include the
// wake-up of a job or of stop_threads, which the worker would then sleep through.
void worker_main(int index, std::uint32_t seen) {
  current_thread_index = index;
  for (;;) {
    wait_for_wake(seen);
    seen = pool.wake.load(std::memory_order_acquire);
    if (pool.stopping.load(std::memory_order_acquire)) return;
    run_chunks();
  }
}

// The caller waits for the chunks other threads still hold.
void wait_for_done(std::uint32_t total) {
  for (unsigned spin = 1; pool.done.load(std::memory_order_acquire) != total; ++spin) {
#if defined(__EMSCRIPTEN_PTHREADS__)
    // A zero-timeout futex wait on the main thread returns at once, but first runs calls the
    // workers proxied to it and, if a worker crashed (a trap in a chunk), unwinds to the JS event
    // loop so the caller gets an error instead of waiting forever for that worker's chunk.
    if (spin % 4096 == 0) {
      const std::uint32_t now = pool.done.load(std::memory_order_acquire);
      if (now != total) emscripten_futex_wait(&pool.done, now, 0);
    }
#endif
  }
}
#endif

}  // namespace

bool threads_available() {
  return GYRE_HAS_THREADS != 0;
}

int thread_count() {
  return pool.threads;
}

int thread_index() {
  return current_thread_index;
}

Status set_thread_count(int count) {
  if (count < 1 || count > kMaxThreads) {
    return {ErrorCode::kBadArgument, "threads must be between 1 and " +
                                         std::to_string(kMaxThreads) + ", got " +
                                         std::to_string(count)};
  }
  if (count > 1 && !threads_available()) {
    return {ErrorCode::kBadArgument, "this build of the engine runs on one thread only"};
  }
  stop_threads();
#if GYRE_HAS_THREADS
  pool.stopping.store(false, std::memory_order_release);
  pool.workers.reserve(static_cast<std::size_t>(count - 1));
  const std::uint32_t wake_count = pool.wake.load(std::memory_order_acquire);
  for (int index = 1; index < count; ++index)
    pool.workers.emplace_back(worker_main, index, wake_count);
#endif
  pool.threads = count;
  return Status::ok();
}

void stop_threads() {
#if GYRE_HAS_THREADS
  if (pool.workers.empty()) return;
  pool.stopping.store(true, std::memory_order_release);
  wake_workers();
  for (std::thread& worker : pool.workers) {
#if defined(__EMSCRIPTEN__)
    // Joining would block the JS thread that called us (Emscripten warns about it in a page); the
    // workers return at once, and engine.dispose() terminates their Web Workers.
    worker.detach();
#else
    worker.join();
#endif
  }
  pool.workers.clear();
#endif
  pool.threads = 1;
}

std::size_t chunk_size_for(std::size_t count, std::size_t min_chunk, std::size_t align) {
  // Four chunks per thread balance uneven chunks (causal attention rows) and a preempted thread.
  const std::size_t threads = static_cast<std::size_t>(pool.threads);
  std::size_t chunk = (count + 4 * threads - 1) / (4 * threads);
  chunk = std::max({chunk, min_chunk, std::size_t{1}});
  chunk = (chunk + align - 1) / align * align;
  return chunk;
}

void parallel_for_chunks(std::size_t count, std::size_t chunk, ChunkFn fn, void* context) {
  if (count == 0) return;
  chunk = std::max<std::size_t>(chunk, 1);
  std::size_t chunks = (count + chunk - 1) / chunk;
  if (chunks > kMaxChunks) {
    chunk = (count + kMaxChunks - 1) / kMaxChunks;
    chunks = (count + chunk - 1) / chunk;
  }
  if (pool.threads == 1 || chunks == 1 || inside_chunk) {
    // Serially, in the same chunks: what a chunk computes never depends on the thread count.
    for (std::size_t begin = 0; begin < count; begin += chunk) {
      fn(context, begin, std::min(count, begin + chunk));
    }
    return;
  }
#if GYRE_HAS_THREADS
  pool.fn = fn;
  pool.context = context;
  pool.count = count;
  pool.chunk = chunk;
  pool.done.store(0, std::memory_order_relaxed);
  const std::uint64_t generation = generation_of(pool.job.load(std::memory_order_relaxed)) + 1;
  pool.job.store(pack(generation & 0xffff, chunks, 0), std::memory_order_release);
  wake_workers();
  run_chunks();
  wait_for_done(static_cast<std::uint32_t>(chunks));
#endif
}

}  // namespace gyre::core
