// Embind surface of the attention kernels (fused attention, its scalar reference, the attention
// weights, FLASH mixed-chunk attention and its incremental decoder) for the attention benchmark
// (bench/attention.mjs) and demos that show the kernels directly. Buffers are wasm heap addresses
// from Module._malloc, passed as numbers; every function returns "" on success or "CODE: message"
// (the kernels validate; nothing is written on error). Mask codes: 0 bidirectional, 1 causal, 2
// causal_window, 3 band. Normaliser codes: 0 softmax, 1 softmax_plus, 2 relu2. The fields of
// AttentionConfig not listed take their defaults.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <map>
#include <string>
#include <utility>

#include "bindings/heap_args.h"
#include "core/status.h"
#include "kernels/attention.h"
#include "kernels/flash.h"

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
std::string attention(int num_queries, int num_keys, int num_heads, int head_dim, int value_dim,
                      int mask, int window, int normaliser, float scale, Address q, Address k_,
                      Address v, Address o, Address entropy) {
  k::AttentionConfig config;
  if (Status s = make_config(mask, window, normaliser, scale, config); !s.is_ok()) return report(s);
  return report(k::attention(config,
                             make_shape(num_queries, num_keys, num_heads, head_dim, value_dim),
                             in(q), in(k_), in(v), out(o), workspace(), {out(entropy), 0}));
}

std::string attention_scalar(int num_queries, int num_keys, int num_heads, int head_dim,
                             int value_dim, int mask, int window, int normaliser, float scale,
                             Address q, Address k_, Address v, Address o) {
  k::AttentionConfig config;
  if (Status s = make_config(mask, window, normaliser, scale, config); !s.is_ok()) return report(s);
  return report(
      k::attention_scalar(config, make_shape(num_queries, num_keys, num_heads, head_dim, value_dim),
                          in(q), in(k_), in(v), out(o)));
}

// Weights of one head for queries [query_begin, query_end) into (query_end − query_begin) ×
// num_keys floats.
std::string attention_weights(int num_queries, int num_keys, int num_heads, int head_dim, int mask,
                              int window, int normaliser, float scale, Address q, Address k_,
                              int head, int query_begin, int query_end, Address weights) {
  k::AttentionConfig config;
  if (Status s = make_config(mask, window, normaliser, scale, config); !s.is_ok()) return report(s);
  return report(k::attention_weights(config,
                                     make_shape(num_queries, num_keys, num_heads, head_dim, 0),
                                     in(q), in(k_), head, query_begin, query_end, out(weights)));
}

std::string flash_mixed_chunk(int length, int chunk, int qk_dim, int value_dim, bool causal,
                              Address q_quad, Address k_quad, Address q_lin, Address k_lin,
                              Address v, Address o) {
  const k::FlashShape shape{
      .length = length, .chunk = chunk, .qk_dim = qk_dim, .value_dim = value_dim, .causal = causal};
  return report(k::flash_mixed_chunk(shape, in(q_quad), in(k_quad), in(q_lin), in(k_lin), in(v),
                                     out(o), workspace()));
}

// FLASH decoders live in a handle table: JS holds the integer handle and frees it.
std::map<int, k::FlashDecoder> flash_decoders;
int next_flash_decoder = 1;

// A handle (> 0), or "CODE: message".
emscripten::val flash_decoder_create(int chunk, int qk_dim, int value_dim) {
  auto decoder = k::FlashDecoder::create(chunk, qk_dim, value_dim);
  if (!decoder.is_ok()) return emscripten::val(report(decoder.status()));
  const int handle = next_flash_decoder++;
  flash_decoders.emplace(handle, std::move(decoder).value());
  return emscripten::val(handle);
}

std::string flash_decoder_step(int handle, Address q_quad, Address k_quad, Address q_lin,
                               Address k_lin, Address v, Address o) {
  const auto it = flash_decoders.find(handle);
  if (it == flash_decoders.end())
    return report(Status(ErrorCode::kBadArgument,
                         "FLASH decoder " + std::to_string(handle) + " is disposed"));
  return report(
      it->second.step(in(q_quad), in(k_quad), in(q_lin), in(k_lin), in(v), out(o), workspace()));
}

// [length, bytes of state], or [-1, 0] for a disposed handle.
emscripten::val flash_decoder_info(int handle) {
  const auto it = flash_decoders.find(handle);
  emscripten::val info = emscripten::val::array();
  info.call<void>("push", it == flash_decoders.end() ? -1 : it->second.length());
  info.call<void>("push",
                  it == flash_decoders.end() ? 0.0 : static_cast<double>(it->second.bytes()));
  return info;
}

void flash_decoder_free(int handle) {
  flash_decoders.erase(handle);
}

// Bytes the shared attention workspace holds now (it never shrinks).
double attention_workspace_bytes() {
  return static_cast<double>(workspace().capacity_floats() * sizeof(float));
}

}  // namespace

EMSCRIPTEN_BINDINGS(gyre_attention) {
  emscripten::function("kernelAttention", &attention);
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
