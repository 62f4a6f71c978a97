// Embind surface of the attention kernels (fused attention, its scalar reference, the attention
// weights, FLASH mixed-chunk attention and its incremental decoder) for the attention benchmark
// (bench/attention.mjs) and demos that show the kernels directly. Buffers are wasm heap addresses
// from Module._malloc, passed as numbers; every function returns { ok: true, value } or
// { ok: false, code, message } (js_result.h; the kernels validate, nothing is written on error).
// Mask codes: 0 bidirectional, 1 causal, 2 causal_window, 3 band. Normaliser codes: 0 softmax, 1
// softmax_plus, 2 relu2. The fields of AttentionConfig not listed take their defaults.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cstddef>
#include <map>
#include <string>
#include <utility>

#include "bindings/heap_args.h"
#include "bindings/js_result.h"
#include "core/status.h"
#include "kernels/attention.h"
#include "kernels/flash.h"
#include "kernels/parallel.h"

namespace gyre::bindings {
namespace {

namespace k = gyre::kernels;

// One workspace for the module (single-threaded): it grows to the largest problem and is reused.
k::AttentionWorkspace& workspace() {
  static k::AttentionWorkspace ws;
  return ws;
}

Status make_config(int mask, int window, int normaliser, float scale, k::AttentionConfig& config) {
  if (mask < 0 || mask > 3 || normaliser < 0 || normaliser > 2)
    return Status(ErrorCode::kBadArgument, "attention: mask must be 0..3 and normaliser 0..2");
  config.mask = static_cast<k::AttentionMask>(mask);
  config.window = window;
  config.normaliser = static_cast<k::AttentionNormaliser>(normaliser);
  config.scale = scale;
  return Status::ok();
}

k::AttentionShape make_shape(int num_queries, int num_keys, int num_heads, int head_dim,
                             int value_dim) {
  k::AttentionShape shape;
  shape.num_queries = num_queries;
  shape.num_keys = num_keys;
  shape.num_heads = num_heads;
  shape.head_dim = head_dim;
  shape.value_dim = value_dim;
  return shape;
}

// Dense rows; entropy (one float per query and head) may be 0 for none.
emscripten::val attention(int num_queries, int num_keys, int num_heads, int head_dim, int value_dim,
                          int mask, int window, int normaliser, float scale, Address q, Address k_,
                          Address v, Address o, Address entropy) {
  k::AttentionConfig config;
  if (Status s = make_config(mask, window, normaliser, scale, config); !s.is_ok())
    return failure(s);
  return result(
      parallel::attention(config, make_shape(num_queries, num_keys, num_heads, head_dim, value_dim),
                          in(q), in(k_), in(v), out(o), workspace(), {out(entropy), 0}));
}

// Queries [query_begin, query_end) of the same call: their rows of q, out and entropy, at their
// positions, so that JS can run a long attention in pieces (cancellable, with progress between
// them). Each piece's rows equal the whole call's bit for bit when query_begin is a multiple of 64
// (the kernel's 4-query tiles and the thread pool's 64-query blocks start at the same rows).
emscripten::val attention_rows(int num_queries, int num_keys, int num_heads, int head_dim,
                               int value_dim, int mask, int window, int normaliser, float scale,
                               int query_begin, int query_end, Address q, Address k_, Address v,
                               Address o, Address entropy) {
  if (query_begin < 0 || query_begin >= query_end || query_end > num_queries)
    return failure(ErrorCode::kBadArgument,
                   "attention: need 0 <= query_begin < query_end <= num_queries");
  if (num_heads <= 0 || head_dim <= 0 || value_dim < 0)
    return failure(ErrorCode::kBadArgument, "attention: heads and head_dim must be positive");
  k::AttentionConfig config;
  if (Status s = make_config(mask, window, normaliser, scale, config); !s.is_ok())
    return failure(s);
  k::AttentionShape shape =
      make_shape(query_end - query_begin, num_keys, num_heads, head_dim, value_dim);
  shape.query_position = query_begin;
  const auto begin = static_cast<std::size_t>(query_begin);
  const auto heads = static_cast<std::size_t>(num_heads);
  const std::size_t q_row = heads * static_cast<std::size_t>(head_dim);
  const std::size_t out_row =
      heads * static_cast<std::size_t>(value_dim > 0 ? value_dim : head_dim);
  float* entropy_rows = entropy ? out(entropy) + begin * heads : nullptr;
  return result(parallel::attention(config, shape, in(q) + begin * q_row, in(k_), in(v),
                                    out(o) + begin * out_row, workspace(), {entropy_rows, 0}));
}

emscripten::val attention_scalar(int num_queries, int num_keys, int num_heads, int head_dim,
                                 int value_dim, int mask, int window, int normaliser, float scale,
                                 Address q, Address k_, Address v, Address o) {
  k::AttentionConfig config;
  if (Status s = make_config(mask, window, normaliser, scale, config); !s.is_ok())
    return failure(s);
  return result(
      k::attention_scalar(config, make_shape(num_queries, num_keys, num_heads, head_dim, value_dim),
                          in(q), in(k_), in(v), out(o)));
}

// Weights of one head for queries [query_begin, query_end) into (query_end − query_begin) ×
// num_keys floats.
emscripten::val attention_weights(int num_queries, int num_keys, int num_heads, int head_dim,
                                  int mask, int window, int normaliser, float scale, Address q,
                                  Address k_, int head, int query_begin, int query_end,
                                  Address weights) {
  k::AttentionConfig config;
  if (Status s = make_config(mask, window, normaliser, scale, config); !s.is_ok())
    return failure(s);
  return result(k::attention_weights(config,
                                     make_shape(num_queries, num_keys, num_heads, head_dim, 0),
                                     in(q), in(k_), head, query_begin, query_end, out(weights)));
}

emscripten::val flash_mixed_chunk(int length, int chunk, int qk_dim, int value_dim, bool causal,
                                  Address q_quad, Address k_quad, Address q_lin, Address k_lin,
                                  Address v, Address o) {
  const k::FlashShape shape{
      .length = length, .chunk = chunk, .qk_dim = qk_dim, .value_dim = value_dim, .causal = causal};
  return result(k::flash_mixed_chunk(shape, in(q_quad), in(k_quad), in(q_lin), in(k_lin), in(v),
                                     out(o), workspace()));
}

// FLASH decoders live in a handle table: JS holds the integer handle and frees it.
std::map<int, k::FlashDecoder> flash_decoders;
int next_flash_decoder = 1;

// The new decoder's handle (> 0).
emscripten::val flash_decoder_create(int chunk, int qk_dim, int value_dim) {
  auto decoder = k::FlashDecoder::create(chunk, qk_dim, value_dim);
  if (!decoder.is_ok()) return failure(decoder.status());
  const int handle = next_flash_decoder++;
  flash_decoders.emplace(handle, std::move(decoder).value());
  return success_number(handle);
}

emscripten::val disposed_decoder(int handle) {
  return failure(ErrorCode::kBadArgument,
                 "FLASH decoder " + std::to_string(handle) + " is disposed");
}

emscripten::val flash_decoder_step(int handle, Address q_quad, Address k_quad, Address q_lin,
                                   Address k_lin, Address v, Address o) {
  const auto it = flash_decoders.find(handle);
  if (it == flash_decoders.end())
    return result(Status(ErrorCode::kBadArgument,
                         "FLASH decoder " + std::to_string(handle) + " is disposed"));
  return result(
      it->second.step(in(q_quad), in(k_quad), in(q_lin), in(k_lin), in(v), out(o), workspace()));
}

// { length: tokens seen, bytes: of state }.
emscripten::val flash_decoder_info(int handle) {
  const auto it = flash_decoders.find(handle);
  if (it == flash_decoders.end()) return disposed_decoder(handle);
  emscripten::val info = emscripten::val::object();
  info.set("length", it->second.length());
  info.set("bytes", static_cast<double>(it->second.bytes()));
  return success(info);
}

emscripten::val flash_decoder_free(int handle) {
  flash_decoders.erase(handle);
  return success();
}

// Bytes the shared attention workspace holds now (it never shrinks).
emscripten::val attention_workspace_bytes() {
  return success_number(static_cast<double>(workspace().capacity_floats() * sizeof(float)));
}

}  // namespace

EMSCRIPTEN_BINDINGS(gyre_attention) {
  emscripten::function("kernelAttention", &attention);
  emscripten::function("kernelAttentionRows", &attention_rows);
  emscripten::function("kernelAttentionScalar", &attention_scalar);
  emscripten::function("kernelAttentionWeights", &attention_weights);
  emscripten::function("kernelFlashMixedChunk", &flash_mixed_chunk);
  emscripten::function("kernelFlashDecoderCreate", &flash_decoder_create);
  emscripten::function("kernelFlashDecoderStep", &flash_decoder_step);
  emscripten::function("kernelFlashDecoderInfo", &flash_decoder_info);
  emscripten::function("kernelFlashDecoderFree", &flash_decoder_free);
  emscripten::function("kernelAttentionWorkspaceBytes", &attention_workspace_bytes);
}

}  // namespace gyre::bindings
