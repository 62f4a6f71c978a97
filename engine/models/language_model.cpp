#include "models/language_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "io/safetensors.h"
#include "kernels/parallel.h"
#include "kernels/vecmath.h"
#include "models/flash_lm.h"
#include "models/gau_lm.h"
#include "models/roformer_v2.h"

namespace gyre::models {
namespace {

Status bad_model(std::string message) {
  return Status(ErrorCode::kBadModel, std::move(message));
}
Status bad_argument(std::string message) {
  return Status(ErrorCode::kBadArgument, std::move(message));
}

// Longest text a single call accepts: far beyond any demo, small enough that sizes stay in int.
constexpr int kMaxTokens = 1 << 22;
// Positions the RoPE table holds at most: beyond, it slides along with the sequence (2 MiB for 64
// features), so decoding memory stays flat however far the position runs.
constexpr int kRopeTablePositions = 1 << 13;
// Tokens in one chunk at most (the first chunks of a sequence, before keys add up).
constexpr int kMaxChunkRows = 256;

}  // namespace

LanguageModel::LanguageModel(LmConfig config, TensorMap weights)
    : config_(std::move(config)), tokenizer_(config_.vocab), weights_(std::move(weights)) {}

std::vector<std::pair<std::string, Shape>> LanguageModel::expected_tensors(const LmConfig& c) {
  std::vector<std::pair<std::string, Shape>> names;
  names.push_back({"embeddings.weight", {c.vocab_size, c.hidden}});
  for (int l = 0; l < c.layers; ++l) {
    switch (c.family) {
      case LmFamily::gau:
        append_gau_layer_tensors(c, l, names);
        break;
      case LmFamily::flash:
        append_flash_layer_tensors(c, l, names);
        break;
      case LmFamily::roformer_v2:
        append_roformer_v2_layer_tensors(c, l, names);
        break;
    }
  }
  names.push_back({"output.weight", {c.vocab_size, c.hidden}});
  return names;
}

std::uint64_t LanguageModel::parameter_count() const {
  std::uint64_t total = 0;
  for (const auto& [name, tensor] : weights_) total += tensor.size();
  return total;
}

Result<std::unique_ptr<LanguageModel>> LanguageModel::load(
    std::string_view config_json, std::span<const std::uint8_t> safetensors) {
  Result<io::ModelConfig> json = io::ModelConfig::parse(config_json);
  if (!json) return json.status();
  Result<LmConfig> config = parse_lm_config(json.value());
  if (!config) return config.status();
  Result<io::SafetensorsFile> file = io::SafetensorsFile::parse(safetensors);
  if (!file) return file.status();
  TensorMap weights;
  for (const auto& [name, shape] : expected_tensors(config.value())) {
    const io::TensorInfo* info = file.value().find(name);
    if (info == nullptr)
      return bad_model("model.safetensors has no tensor '" + name + "' (" +
                       config.value().family_name() + " needs it)");
    if (info->shape != shape) {
      return bad_model("model.safetensors: tensor '" + name + "' has shape " +
                       shape_to_string(info->shape) + ", config.json implies " +
                       shape_to_string(shape));
    }
    Result<Tensor> tensor = file.value().read_f32(*info);
    if (!tensor) return tensor.status();
    if (Status s = require_finite(tensor.value().values(), name); !s.is_ok()) return s;
    weights.emplace(name, std::move(tensor).value());
  }
  return create(std::move(config).value(), std::move(weights));
}

Result<std::unique_ptr<LanguageModel>> LanguageModel::create(LmConfig config, TensorMap weights) {
  // Every size is bounded by parse_lm_config, but their products can still exceed the heap.
  std::uint64_t floats = 0;
  for (const auto& [name, shape] : expected_tensors(config)) {
    const auto it = weights.find(name);
    if (it == weights.end()) return bad_model("the weights have no tensor '" + name + "'");
    if (it->second.shape() != shape) {
      return bad_model("tensor '" + name + "' has shape " + shape_to_string(it->second.shape()) +
                       ", expected " + shape_to_string(shape));
    }
    floats += it->second.size();
  }
  // The packed copy doubles the parameters; refuse before allocating it.
  if (floats * 2 * sizeof(float) > max_allocation_bytes()) {
    return Result<std::unique_ptr<LanguageModel>>(
        ErrorCode::kTooLarge, "the model has " + std::to_string(floats) +
                                  " parameters, more than " + format_bytes(max_allocation_bytes()) +
                                  " can hold packed");
  }
  std::unique_ptr<LanguageModel> model;
  switch (config.family) {
    case LmFamily::gau:
      model = make_gau_lm(std::move(config), std::move(weights));
      break;
    case LmFamily::flash:
      model = make_flash_lm(std::move(config), std::move(weights));
      break;
    case LmFamily::roformer_v2:
      model = make_roformer_v2(std::move(config), std::move(weights));
      break;
  }
  const LmConfig& c = model->config_;
  Result<Linear> output = Linear::create(model->weight("output.weight").data(), c.vocab_size,
                                         c.hidden, "output.weight");
  if (!output) return output.status();
  model->output_ = std::move(output).value();
  Result<kernels::RopeTable> rope =
      kernels::RopeTable::create(c.rope_dim, std::max(2 * c.train_length, 256), c.rope_base);
  if (!rope) return rope.status();
  model->rope_ = std::make_unique<kernels::RopeTable>(std::move(rope).value());
  if (Status s = model->build_layers(); !s.is_ok()) return s;
  model->next_logits_.assign(c.vocab_size, 0.0f);
  return model;
}

Status LanguageModel::check_tokens(std::span<const int> tokens) const {
  if (tokens.empty()) return bad_argument("the text is empty: at least one token is needed");
  if (tokens.size() > static_cast<std::size_t>(kMaxTokens)) {
    return Status(ErrorCode::kTooLarge, "the text has " + std::to_string(tokens.size()) +
                                            " tokens; at most " + std::to_string(kMaxTokens) +
                                            " are accepted per call");
  }
  for (int token : tokens) {
    if (token < 0 || token >= config_.vocab_size) {
      return bad_argument("token id " + std::to_string(token) + " is outside the vocabulary [0, " +
                          std::to_string(config_.vocab_size) + ")");
    }
  }
  return Status::ok();
}

Status LanguageModel::embed(std::span<const int> tokens, float* x) const {
  const float* table = weight("embeddings.weight").data();
  const std::size_t d = config_.hidden;
  for (std::size_t r = 0; r < tokens.size(); ++r)
    std::memcpy(x + r * d, table + tokens[r] * d, sizeof(float) * d);
  rms_norm_rows(x, static_cast<int>(tokens.size()));
  return Status::ok();
}

void LanguageModel::rms_norm_rows(float* x, int rows) const {
  // The sum of squares and the factor in double: this post-norm runs after every layer, and float32
  // accumulation here measurably widened the gap to the float64 reference (4.6e-5 against 3e-5).
  const int d = config_.hidden;
  for (int r = 0; r < rows; ++r) {
    float* row = x + static_cast<std::size_t>(r) * d;
    double sum = 0;
    for (int i = 0; i < d; ++i) sum += static_cast<double>(row[i]) * row[i];
    const float factor =
        static_cast<float>(config_.norm_gain / std::sqrt(sum / d + config_.rms_eps));
    for (int i = 0; i < d; ++i) row[i] *= factor;
  }
}

void LanguageModel::residual_norm_rows(float* x, const float* delta, int rows) const {
  (void)kernels::vec_add(x, delta, x, rows * config_.hidden);
  rms_norm_rows(x, rows);
}

Status LanguageModel::apply_rope(float* x, int rows, int row_stride, int first_position) {
  const std::int64_t end = static_cast<std::int64_t>(first_position) + rows;
  if (end > (1ll << 30))
    return Status(ErrorCode::kTooLarge,
                  "position " + std::to_string(end) + " is beyond the engine's limit (2^30)");
  if (first_position < rope_->first_position() || end > rope_->max_positions()) {
    Status s;
    if (end <= kRopeTablePositions && rope_->first_position() == 0) {
      s = rope_->extend(static_cast<int>(std::min<std::int64_t>(
          kRopeTablePositions,
          std::max<std::int64_t>(end, 2 * std::int64_t{rope_->max_positions()}))));
    } else {
      s = rope_->slide(first_position, std::max(rows, kRopeTablePositions));
    }
    if (!s.is_ok()) return s;
  }
  const int blocks = config_.attention_heads() * config_.head_size() / config_.rope_dim;
  return kernels::rope_apply(*rope_, x, rows, row_stride, blocks, first_position);
}

Result<AttentionSetup> LanguageModel::attention_setup(const AttentionOverride& attention) const {
  AttentionSetup setup;
  kernels::AttentionConfig& c = setup.config;
  c.normaliser = config_.normaliser;
  c.scale = 1.0f / std::sqrt(static_cast<float>(config_.head_size()));
  c.train_len = static_cast<float>(config_.train_length);
  c.min_len = 16.0f;
  c.mask = kernels::AttentionMask::causal;
  if (config_.family == LmFamily::flash &&
      (attention.mode == AttentionOverride::Mode::local || attention.logn)) {
    return bad_argument(
        "flash-lm has no window or log-n option: its mixed-chunk attention is already linear "
        "across chunks (use attention 'full' or the default)");
  }
  if (attention.mode == AttentionOverride::Mode::local) {
    if (attention.window < 1)
      return bad_argument("a local window must hold at least 1 key, not " +
                          std::to_string(attention.window));
    c.mask = kernels::AttentionMask::causal_window;
    c.window = attention.window;
  }
  if (attention.logn && attention.mode != AttentionOverride::Mode::as_trained) {
    if (config_.normaliser == kernels::AttentionNormaliser::softmax) {
      // max(1, log l / log L) on the scores: the kernel's softmax_plus with the clamp at 1.
      c.normaliser = kernels::AttentionNormaliser::softmax_plus;
      c.min_len = 1.0f;
      c.log_at_least_one = true;
    } else if (config_.normaliser == kernels::AttentionNormaliser::relu2) {
      c.relu2_logn = true;  // max(1, log l / log L)² on the weights: relu(c·a)² = c²·relu(a)²
    }
  }
  return setup;
}

Status LanguageModel::attention_with_capture(const AttentionSetup& setup,
                                             const kernels::AttentionShape& shape, const float* q,
                                             const float* k, const float* v, float* out, int layer,
                                             const Capture& capture) {
  const bool captured = capture.layer == layer;
  kernels::AttentionOutputs extra;
  if (captured) extra.entropy = capture.entropy;
  if (Status s =
          parallel::attention(setup.config, shape, q, k, v, out, attention_workspace_, extra);
      !s.is_ok())
    return s;
  if (captured && capture.weights != nullptr) {
    // The captured queries among this pass's (absolute positions), computed into a local block
    // and placed at their rows and keys' columns of the capture.
    const int first = shape.query_position;
    const int begin = std::max(capture.query_begin, first);
    const int end = std::min(capture.query_end, first + shape.num_queries);
    if (begin >= end) return Status::ok();
    const int stride = capture.weights_stride > 0 ? capture.weights_stride : shape.num_keys;
    if (shape.key_position < 0 || shape.key_position + shape.num_keys > stride)
      return Status(ErrorCode::kBadArgument, "the captured weights' rows are too short");
    Result<FloatBuffer> local = FloatBuffer::allocate(
        static_cast<std::uint64_t>(end - begin) * shape.num_keys, "the attention weights");
    if (!local) return local.status();
    if (Status s = kernels::attention_weights(setup.config, shape, q, k, capture.weights_head,
                                              begin - first, end - first, local.value().data());
        !s.is_ok()) {
      return s;
    }
    for (int i = begin; i < end; ++i) {
      const float* from =
          local.value().data() + static_cast<std::size_t>(i - begin) * shape.num_keys;
      float* row = capture.weights + static_cast<std::size_t>(i - capture.query_begin) * stride +
                   shape.key_position;
      std::copy(from, from + shape.num_keys, row);
    }
  }
  return Status::ok();
}

Status LanguageModel::reserve_scratch(int rows) {
  const std::uint64_t n = static_cast<std::uint64_t>(rows);
  if (Status s = ensure_capacity(hidden_, n * config_.hidden, "the activations"); !s.is_ok())
    return s;
  if (Status s = ensure_capacity(scratch_keys_, n * key_width(), "the keys"); !s.is_ok()) return s;
  return ensure_capacity(scratch_values_, n * value_width(), "the values");
}

Status LanguageModel::grow_cache(int layer, int rows) {
  kernels::KvCache& cache = active_->caches[layer];
  if (cache.is_ring() || cache.length() + rows <= cache.slots()) return Status::ok();
  const int heads = config_.attention_heads();
  const int value_dim = value_width() / heads;
  const std::int64_t slots =
      std::max<std::int64_t>(2 * std::int64_t{cache.slots()}, std::int64_t{cache.length()} + rows);
  if (slots > kMaxTokens * 2LL)
    return Status(ErrorCode::kTooLarge, "the decoding cache would hold more than " +
                                            std::to_string(kMaxTokens * 2LL) + " tokens");
  Result<kernels::KvCache> grown =
      kernels::KvCache::create(heads, config_.head_size(), value_dim, static_cast<int>(slots));
  if (!grown) return grown.status();
  if (Status s = grown.value().append(cache.keys(), cache.values(), cache.length()); !s.is_ok())
    return s;
  cache = std::move(grown).value();
  return Status::ok();
}

Status LanguageModel::attend(int layer, Pass pass, const AttentionSetup& setup, int rows,
                             int first_position, const float* q, int q_stride, float* out,
                             const Capture& capture) {
  const int heads = config_.attention_heads();
  if (pass == Pass::prefill)
    return attend_chunk(layer, setup, rows, first_position, q, q_stride, out, capture);
  if (pass == Pass::decode) {
    if (Status s = grow_cache(layer, 1); !s.is_ok()) return s;
    kernels::KvCache& cache = active_->caches[layer];
    if (Status s = cache.append(scratch_keys(), scratch_values(), 1); !s.is_ok()) return s;
    return kernels::attention_decode(setup.config, cache, q, out, attention_workspace_);
  }
  kernels::AttentionShape shape;
  shape.num_queries = rows;
  shape.num_keys = rows;
  shape.num_heads = heads;
  shape.head_dim = config_.head_size();
  shape.value_dim = value_width() / heads;
  shape.query_position = first_position;
  shape.key_position = first_position;
  shape.q_stride = q_stride;
  return attention_with_capture(setup, shape, q, scratch_keys(), scratch_values(), out, layer,
                                capture);
}

Status LanguageModel::attend_chunk(int layer, const AttentionSetup& setup, int rows,
                                   int first_position, const float* q, int q_stride, float* out,
                                   const Capture& capture) {
  kernels::KvCache& cache = active_->caches[layer];
  if (cache.length() != first_position)
    return Status(ErrorCode::kBadArgument, "a chunk at position " + std::to_string(first_position) +
                                               " after " + std::to_string(cache.length()) +
                                               " cached tokens");
  const int heads = config_.attention_heads();
  const int kw = key_width(), vw = value_width();
  kernels::AttentionShape shape;
  shape.num_queries = rows;
  shape.num_heads = heads;
  shape.head_dim = config_.head_size();
  shape.value_dim = vw / heads;
  shape.query_position = first_position;
  shape.q_stride = q_stride;
  if (!cache.is_ring()) {
    // Linear: the chunk joins the cache and attends over everything cached.
    if (Status s = grow_cache(layer, rows); !s.is_ok()) return s;
    kernels::KvCache& grown = active_->caches[layer];
    if (Status s = grown.append(scratch_keys(), scratch_values(), rows); !s.is_ok()) return s;
    shape.num_keys = grown.length();
    shape.key_position = 0;
    return attention_with_capture(setup, shape, q, grown.keys(), grown.values(), out, layer,
                                  capture);
  }
  // Ring: the window − 1 keys before the chunk (oldest first) and the chunk's own, side by side.
  const int held = std::min(cache.size(), cache.slots() - 1);
  const std::uint64_t keys = static_cast<std::uint64_t>(held) + rows;
  if (Status s = ensure_capacity(window_keys_, keys * kw, "the window's keys"); !s.is_ok())
    return s;
  if (Status s = ensure_capacity(window_values_, keys * vw, "the window's values"); !s.is_ok())
    return s;
  for (int j = 0; j < held; ++j) {
    const int slot = (cache.length() - held + j) % cache.slots();
    std::memcpy(window_keys_.data() + static_cast<std::size_t>(j) * kw,
                cache.keys() + static_cast<std::size_t>(slot) * kw, sizeof(float) * kw);
    std::memcpy(window_values_.data() + static_cast<std::size_t>(j) * vw,
                cache.values() + static_cast<std::size_t>(slot) * vw, sizeof(float) * vw);
  }
  std::memcpy(window_keys_.data() + static_cast<std::size_t>(held) * kw, scratch_keys(),
              sizeof(float) * kw * rows);
  std::memcpy(window_values_.data() + static_cast<std::size_t>(held) * vw, scratch_values(),
              sizeof(float) * vw * rows);
  shape.num_keys = static_cast<int>(keys);
  shape.key_position = first_position - held;
  if (Status s = attention_with_capture(setup, shape, q, window_keys_.data(), window_values_.data(),
                                        out, layer, capture);
      !s.is_ok())
    return s;
  return cache.append(scratch_keys(), scratch_values(), rows);
}

Status LanguageModel::forward(std::span<const int> tokens, const AttentionOverride& attention,
                              float* logits, const Capture& capture) {
  if (Status s = check_tokens(tokens); !s.is_ok()) return s;
  Result<AttentionSetup> setup = attention_setup(attention);
  if (!setup) return setup.status();
  const int rows = static_cast<int>(tokens.size());
  if (Status s = reserve_scratch(rows); !s.is_ok()) return s;
  if (Status s = embed(tokens, hidden_.data()); !s.is_ok()) return s;
  const int layer_end =
      logits == nullptr && capture.layer >= 0 ? capture.layer + 1 : config_.layers;
  if (Status s = run_layers(hidden_.data(), rows, 0, layer_end, setup.value(), Pass::full, capture);
      !s.is_ok())
    return s;
  if (logits != nullptr) output_.apply(hidden_.data(), rows, logits);
  return Status::ok();
}

Result<std::vector<float>> LanguageModel::negative_log_likelihood(
    std::span<const int> tokens, const AttentionOverride& attention) {
  if (tokens.size() < 2)
    return Result<std::vector<float>>(ErrorCode::kBadArgument,
                                      "evaluation needs at least two tokens");
  const std::size_t inputs = tokens.size() - 1;
  const std::size_t vocab = config_.vocab_size;
  Result<FloatBuffer> logits =
      FloatBuffer::allocate(static_cast<std::uint64_t>(inputs) * vocab, "the logits");
  if (!logits) return logits.status();
  if (Status s = forward(tokens.first(inputs), attention, logits.value().data()); !s.is_ok())
    return s;
  std::vector<float> nll(inputs);
  for (std::size_t i = 0; i < inputs; ++i) {
    const float* row = logits.value().data() + i * vocab;
    const float top = *std::max_element(row, row + vocab);
    double sum = 0;
    for (std::size_t j = 0; j < vocab; ++j) sum += std::exp(static_cast<double>(row[j]) - top);
    nll[i] = static_cast<float>(std::log(sum) + top - row[tokens[i + 1]]);
  }
  return nll;
}

Result<std::vector<float>> LanguageModel::attention_entropy(std::span<const int> tokens,
                                                            const AttentionOverride& attention,
                                                            int layer) {
  if (layer < 0 || layer >= config_.layers) {
    return Result<std::vector<float>>(ErrorCode::kBadArgument,
                                      "layer " + std::to_string(layer) + " is outside [0, " +
                                          std::to_string(config_.layers) + ")");
  }
  if (Status s = check_tokens(tokens); !s.is_ok()) return s;
  std::vector<float> entropy(tokens.size() * config_.attention_heads());
  Capture capture;
  capture.layer = layer;
  capture.entropy = entropy.data();
  if (Status s = forward(tokens, attention, nullptr, capture); !s.is_ok()) return s;
  return entropy;
}

Result<std::vector<float>> LanguageModel::attention_weights(std::span<const int> tokens,
                                                            const AttentionOverride& attention,
                                                            int layer, int head, int query_begin,
                                                            int query_end) {
  const int n = static_cast<int>(tokens.size());
  if (layer < 0 || layer >= config_.layers || head < 0 || head >= config_.attention_heads()) {
    return Result<std::vector<float>>(
        ErrorCode::kBadArgument,
        "layer " + std::to_string(layer) + " / head " + std::to_string(head) + " does not exist");
  }
  if (query_begin < 0 || query_end > n || query_begin >= query_end) {
    return Result<std::vector<float>>(ErrorCode::kBadArgument,
                                      "the query range [" + std::to_string(query_begin) + ", " +
                                          std::to_string(query_end) + ") is not inside [0, " +
                                          std::to_string(n) + ")");
  }
  const std::uint64_t count = static_cast<std::uint64_t>(query_end - query_begin) * n;
  if (count > (1ull << 26)) {
    return Result<std::vector<float>>(ErrorCode::kTooLarge,
                                      "the weights would hold " + std::to_string(count) +
                                          " floats; ask for fewer queries at a time");
  }
  std::vector<float> weights(count);
  Capture capture;
  capture.layer = layer;
  capture.weights = weights.data();
  capture.weights_head = head;
  capture.query_begin = query_begin;
  capture.query_end = query_end;
  if (Status s = forward(tokens, attention, nullptr, capture); !s.is_ok()) return s;
  return weights;
}

Status LanguageModel::start_chunks(SequenceState& state, const AttentionOverride& attention,
                                   std::int64_t total) const {
  state.clear();
  state.position = 0;
  if (total < 1) return bad_argument("a sequence needs at least one token");
  Result<AttentionSetup> setup = attention_setup(attention);
  if (!setup) return setup.status();
  state.setup = setup.value();
  state.window = attention.mode == AttentionOverride::Mode::local ? attention.window : 0;
  if (config_.family == LmFamily::flash) {
    // One decoder per layer: the current chunk's keys and values and two s × e sums, however long
    // the sequence.
    for (int l = 0; l < config_.layers; ++l) {
      Result<kernels::FlashDecoder> decoder =
          kernels::FlashDecoder::create(config_.chunk, config_.key_size, config_.expansion);
      if (!decoder) {
        state.clear();
        return decoder.status();
      }
      state.flash.push_back(std::move(decoder).value());
    }
    return Status::ok();
  }
  const int heads = config_.attention_heads();
  const std::uint64_t token_bytes =
      static_cast<std::uint64_t>(config_.layers) * (key_width() + value_width()) * sizeof(float);
  if (state.window == 0 && static_cast<std::uint64_t>(total) * token_bytes > kMaxCacheBytes) {
    return Status(
        ErrorCode::kTooLarge,
        "full attention keeps the keys and values of every token: " + std::to_string(total) +
            " tokens need " + format_bytes(static_cast<std::uint64_t>(total) * token_bytes) + " (" +
            std::to_string(token_bytes) + " bytes a token), more than the limit of " +
            format_bytes(kMaxCacheBytes) + ", which holds " +
            std::to_string(kMaxCacheBytes / token_bytes) +
            " tokens; use attention: 'local' (a window) for longer text");
  }
  // A ring of `window` keys for local attention; otherwise a linear cache that grows as it fills.
  const int capacity = static_cast<int>(std::min<std::int64_t>(total, 4096));
  for (int l = 0; l < config_.layers; ++l) {
    Result<kernels::KvCache> cache = kernels::KvCache::create(
        heads, config_.head_size(), value_width() / heads, capacity, state.window);
    if (!cache) {
      state.caches.clear();
      return cache.status();
    }
    state.caches.push_back(std::move(cache).value());
  }
  return Status::ok();
}

int LanguageModel::chunk_rows(const SequenceState& state) const {
  // One token's work: its projections (about one multiply-add per parameter) and its attention
  // over the keys it sees in every layer (FLASH: its chunk's keys and the s × e linear state).
  const std::uint64_t keys = state.window > 0 ? std::min(state.position, state.window)
                                              : static_cast<std::uint64_t>(state.position);
  const std::uint64_t attention_work =
      config_.family == LmFamily::flash
          ? static_cast<std::uint64_t>(config_.chunk) * (key_width() + value_width()) +
                static_cast<std::uint64_t>(2) * key_width() * value_width()
          : (keys + 1) * (key_width() + value_width());
  const std::uint64_t per_token =
      parameter_count() + static_cast<std::uint64_t>(config_.layers) * attention_work;
  return static_cast<int>(std::clamp<std::uint64_t>(kChunkWork / per_token, 1,
                                                    static_cast<std::uint64_t>(kMaxChunkRows)));
}

Status LanguageModel::run_chunk(SequenceState& state, std::span<const int> tokens, int layer_end,
                                float* logits, const Capture& capture) {
  if (!state.started()) return bad_argument("run_chunk() needs start_chunks() first");
  if (Status s = check_tokens(tokens); !s.is_ok()) return s;
  if (layer_end < 1 || layer_end > config_.layers) return bad_argument("no such layer");
  const int rows = static_cast<int>(tokens.size());
  if (Status s = reserve_scratch(rows); !s.is_ok()) return s;
  if (Status s = embed(tokens, hidden_.data()); !s.is_ok()) return s;
  active_ = &state;
  const Status s = run_layers(hidden_.data(), rows, state.position, layer_end, state.setup,
                              Pass::prefill, capture);
  active_ = &generation_;
  if (!s.is_ok()) {
    state.clear();  // some layers may hold the chunk and others not
    return s;
  }
  if (logits != nullptr) output_.apply(hidden_.data(), rows, logits);
  state.position += rows;
  return Status::ok();
}

Status LanguageModel::begin(std::span<const int> prompt, const AttentionOverride& attention) {
  if (Status s = check_tokens(prompt); !s.is_ok()) return s;
  std::span<const int> reach = prompt;
  if (attention.mode == AttentionOverride::Mode::local && attention.window >= 1) {
    const std::uint64_t tokens =
        static_cast<std::uint64_t>(config_.layers) * (attention.window - 1) + 1;
    if (reach.size() > tokens) reach = reach.last(tokens);
  }
  skipped_ = static_cast<int>(prompt.size() - reach.size());
  if (Status s = start_chunks(generation_, attention, static_cast<std::int64_t>(reach.size()));
      !s.is_ok())
    return s;
  int rows = 0;
  for (std::size_t done = 0; done < reach.size(); done += rows) {
    rows = static_cast<int>(std::min<std::size_t>(chunk_rows(generation_), reach.size() - done));
    if (Status s = run_chunk(generation_, reach.subspan(done, rows), config_.layers, nullptr);
        !s.is_ok())
      return s;
  }
  // The last chunk's activations are still in hidden_: its last row predicts the next token.
  output_.apply(hidden_.data() + static_cast<std::size_t>(rows - 1) * config_.hidden, 1,
                next_logits_.data());
  return Status::ok();
}

Status LanguageModel::advance(int token) {
  if (generation_.position == 0 || !generation_.started())
    return bad_argument("advance() needs begin() with a prompt first");
  const int one[1] = {token};
  if (Status s = check_tokens(one); !s.is_ok()) return s;
  if (Status s = embed(one, hidden_.data()); !s.is_ok()) return s;
  active_ = &generation_;
  if (Status s = run_layers(hidden_.data(), 1, generation_.position, config_.layers,
                            generation_.setup, Pass::decode, {});
      !s.is_ok())
    return s;
  output_.apply(hidden_.data(), 1, next_logits_.data());
  ++generation_.position;
  return Status::ok();
}

}  // namespace gyre::models
