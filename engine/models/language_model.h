// The causal character language models Gyre ships (models/train/models.py is the reference):
//   GAU-LM       x = RMSNorm(E[ids]); per layer x = RMSNorm(x + GAU(x))
//   FLASH-LM     x = RMSNorm(E[ids]); per layer x = RMSNorm(x + FLASH(x))  (mixed-chunk attention)
//   RoFormerV2   x = RMSNorm(E[ids]); per layer x = RMSNorm(x + MHA(x)), x = RMSNorm(x + FFN(x))
//   all          logits = x·W_outᵀ
// This file holds what the families share: weights, the sequence state (key/value caches, or
// FLASH's constant-size decoders), the attention override of the length-extrapolation lab,
// evaluation, and incremental decoding. lm_config.h holds the config, tokenizer.h the tokenizer,
// gau_lm.cpp, flash_lm.cpp and roformer_v2.cpp the layers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "io/config.h"
#include "kernels/attention.h"
#include "kernels/flash.h"
#include "kernels/kv_cache.h"
#include "kernels/rope.h"
#include "models/linear.h"
#include "models/lm_config.h"
#include "models/tokenizer.h"

namespace gyre::models {

using TensorMap = std::map<std::string, Tensor>;

// The attention a call runs with (docs/ALGORITHMS.md §2.3 and §7):
//   as_trained  causal over every previous token, the trained normaliser (window and logn ignored)
//   full        the same, optionally with the post-hoc log-n factor
//   local       sliding window of `window` keys (the current one included), optionally with log-n
// logn multiplies the scores of a query that sees l keys by max(1, log l / log L); softmax_plus
// already contains it, so it changes nothing there. (For relu² the factor c gives c² on the
// weights.) FLASH has neither: it refuses local and logn (BAD_ARGUMENT).
struct AttentionOverride {
  enum class Mode : std::uint8_t { as_trained, full, local };
  Mode mode = Mode::as_trained;
  int window = 0;
  bool logn = false;
};

// How a pass treats keys and values: a full pass attends over the scratch of this call; a chunk
// (prefill) appends its keys to the sequence's caches and attends over the cached keys it can see;
// decode appends one token to the caches and attends from them (KERNELS-II's KvCache: linear, or a
// ring of `window` keys for local attention).
enum class Pass : std::uint8_t { full, prefill, decode };

// What a pass records beside the logits, for one layer.
struct Capture {
  int layer = -1;            // -1: nothing
  float* entropy = nullptr;  // [rows × heads] attention entropy (nats)
  int weights_head = 0;      // attention weights of this head ...
  int query_begin = 0, query_end = 0;
  float* weights = nullptr;  // ... [query_end − query_begin] × keys
  int weights_stride = 0;    // row stride of weights: the sequence's length (0: this pass's keys)
};

// Per-call attention settings derived from the override (shared by both families).
struct AttentionSetup {
  kernels::AttentionConfig config;
};

// The keys and values a sequence has cached, per layer, and where it stands: what decoding and
// chunked passes continue from. The model keeps one for generation (begin/advance); a chunked pass
// may bring its own, so an evaluation does not disturb a generation on the same model.
struct SequenceState {
  std::vector<kernels::KvCache> caches;      // one per layer (GAU, RoFormerV2)
  std::vector<kernels::FlashDecoder> flash;  // one per layer (FLASH): constant size
  int window = 0;                            // 0: linear caches
  AttentionSetup setup;
  int position = 0;  // tokens consumed

  bool started() const { return !caches.empty() || !flash.empty(); }
  void clear() {
    caches.clear();
    flash.clear();
  }
};

class LanguageModel {
 public:
  // Full attention keeps every key and value of a chunked pass or a generation: sequences whose
  // caches would exceed this are refused before anything is allocated (TOO_LARGE).
  static constexpr std::uint64_t kMaxCacheBytes = 1ull << 30;
  // The work of one chunk, in multiply-adds: a few tens of milliseconds.
  static constexpr std::uint64_t kChunkWork = 1ull << 26;
  virtual ~LanguageModel() = default;

  // config.json text and model.safetensors bytes; BAD_MODEL names a missing or misshapen tensor,
  // TOO_LARGE when the parameters cannot be held.
  static Result<std::unique_ptr<LanguageModel>> load(std::string_view config_json,
                                                     std::span<const std::uint8_t> safetensors);
  // From a parsed config and f32 weights (the widening path uses this too).
  static Result<std::unique_ptr<LanguageModel>> create(LmConfig config, TensorMap weights);
  // The tensors a config needs, with their shapes.
  static std::vector<std::pair<std::string, Shape>> expected_tensors(const LmConfig& config);

  const LmConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  const TensorMap& weights() const { return weights_; }
  std::uint64_t parameter_count() const;

  // One causal pass over `tokens`: logits [n × vocab] (logits may be null when only a capture is
  // wanted).
  Status forward(std::span<const int> tokens, const AttentionOverride& attention, float* logits,
                 const Capture& capture = {});
  // −log p(tokens[i + 1] | tokens[0..i]) for i = 0 … n − 2, in nats.
  Result<std::vector<float>> negative_log_likelihood(std::span<const int> tokens,
                                                     const AttentionOverride& attention);
  // Attention entropy per position of one layer: [n × heads].
  Result<std::vector<float>> attention_entropy(std::span<const int> tokens,
                                               const AttentionOverride& attention, int layer);
  // Attention weights of one layer and head for queries [query_begin, query_end): rows × n.
  Result<std::vector<float>> attention_weights(std::span<const int> tokens,
                                               const AttentionOverride& attention, int layer,
                                               int head, int query_begin, int query_end);

  // Chunked passes: the sequence runs through every layer a chunk of tokens at a time over
  // `state`'s caches, so memory depends on the chunk and (local attention) the window, not on the
  // sequence, and a caller can report or stop between chunks. start_chunks() resets `state` for a
  // sequence of `total` tokens (TOO_LARGE when full attention's caches would exceed
  // kMaxCacheBytes); run_chunk() runs the next tokens through layers [0, layer_end), writing their
  // logits (rows × vocab, may be null) and the capture (entropy rows of this chunk; weights rows
  // absolute, query_begin … query_end); chunk_rows() is how many tokens the next chunk should hold
  // for about kChunkWork multiply-adds.
  Status start_chunks(SequenceState& state, const AttentionOverride& attention,
                      std::int64_t total) const;
  Status run_chunk(SequenceState& state, std::span<const int> tokens, int layer_end, float* logits,
                   const Capture& capture = {});
  int chunk_rows(const SequenceState& state) const;

  // Incremental decoding: begin() resets the cache and runs the prompt (at least one token) in
  // chunks; advance() appends one token. Both leave the next-token logits in next_logits(). The
  // override decides the cache: local keeps a ring of `window` keys, so memory is O(window)
  // however long the prompt or the generation; and since each layer looks window − 1 tokens back,
  // only the prompt's last layers·(window − 1) + 1 tokens can reach the next token: begin() runs
  // those (RoPE positions then count from the first of them: scores depend only on distances). Full attention refuses a prompt whose
  // caches would exceed kMaxCacheBytes (TOO_LARGE).
  Status begin(std::span<const int> prompt, const AttentionOverride& attention);
  Status advance(int token);
  std::span<const float> next_logits() const { return {next_logits_.data(), next_logits_.size()}; }
  // Tokens consumed: the prompt (including any part begin() skipped) and every advance().
  int position() const { return generation_.position + skipped_; }

 protected:
  LanguageModel(LmConfig config, TensorMap weights);
  // Packs the layer weights (called once by create()).
  virtual Status build_layers() = 0;
  // Runs layers [0, layer_end) on x [rows × hidden] (in place) for tokens at positions
  // first_position … Each layer writes its rotated keys and values to scratch_keys() /
  // scratch_values() (rows × key_width(), rows × value_width()) and calls attend().
  virtual Status run_layers(float* x, int rows, int first_position, int layer_end,
                            const AttentionSetup& setup, Pass pass, const Capture& capture) = 0;

  int key_width() const { return config_.attention_heads() * config_.head_size(); }
  int value_width() const { return config_.gated() ? config_.expansion : config_.hidden; }
  // The sequence a prefill or decode pass continues (FLASH steps its decoders directly).
  SequenceState& active_sequence() { return *active_; }
  float* scratch_keys() { return scratch_keys_.data(); }
  float* scratch_values() { return scratch_values_.data(); }
  // Attention of one layer for `rows` queries q (row stride q_stride) over the keys and values in
  // scratch (full, prefill) or in the layer's decoding cache (decode: one query, appended first);
  // out holds rows × value_width().
  Status attend(int layer, Pass pass, const AttentionSetup& setup, int rows, int first_position,
                const float* q, int q_stride, float* out, const Capture& capture);

  const Tensor& weight(const std::string& name) const { return weights_.at(name); }
  // RMSNorm of rows in place (gain and eps from the config).
  void rms_norm_rows(float* x, int rows) const;
  // The post-norm residual of every layer: x <- RMSNorm(x + delta), row by row.
  void residual_norm_rows(float* x, const float* delta, int rows) const;
  // Rotates rows of `heads_in_row` heads (head_size floats each) at positions first_position + r.
  Status apply_rope(float* x, int rows, int row_stride, int first_position);
  // Entropy/weights capture for one layer's attention, given its Q and K.
  Status attention_with_capture(const AttentionSetup& setup, const kernels::AttentionShape& shape,
                                const float* q, const float* k, const float* v, float* out,
                                int layer, const Capture& capture);

  LmConfig config_;
  Tokenizer tokenizer_;
  TensorMap weights_;
  kernels::AttentionWorkspace attention_workspace_;

 private:
  Status embed(std::span<const int> tokens, float* x) const;
  Result<AttentionSetup> attention_setup(const AttentionOverride& attention) const;
  Status check_tokens(std::span<const int> tokens) const;
  Status reserve_scratch(int rows);
  // Grows a linear cache of the active sequence to hold `rows` more tokens (a ring never fills).
  Status grow_cache(int layer, int rows);
  // Attention of a chunk over the active sequence's cache (see attend()).
  Status attend_chunk(int layer, const AttentionSetup& setup, int rows, int first_position,
                      const float* q, int q_stride, float* out, const Capture& capture);

  Linear output_;
  std::unique_ptr<kernels::RopeTable> rope_;
  FloatBuffer scratch_keys_, scratch_values_;  // this call's keys and values, one layer at a time
  FloatBuffer window_keys_, window_values_;    // a ring's visible keys gathered for a chunk
  SequenceState generation_;                   // begin() / advance()
  SequenceState* active_ = &generation_;       // the sequence attend() caches into
  int skipped_ = 0;                            // prompt tokens begin() left out of reach
  FloatBuffer hidden_;                         // [rows × hidden] activations of the current call
  std::vector<float> next_logits_;
};

}  // namespace gyre::models
