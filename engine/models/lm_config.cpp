#include "models/lm_config.h"

namespace gyre::models {
namespace {

Status bad_model(std::string message) {
  return Status(ErrorCode::kBadModel, std::move(message));
}

}  // namespace

std::string LmConfig::family_name() const {
  switch (family) {
    case LmFamily::gau:
      return "gau-lm";
    case LmFamily::roformer_v2:
      return "roformer-v2";
    case LmFamily::flash:
      return "flash-lm";
  }
  return "gau-lm";
}

std::string LmConfig::normaliser_name() const {
  switch (normaliser) {
    case kernels::AttentionNormaliser::softmax:
      return "softmax";
    case kernels::AttentionNormaliser::softmax_plus:
      return "softmax_plus";
    case kernels::AttentionNormaliser::relu2:
      return "relu2";
  }
  return "softmax";
}

Result<LmConfig> parse_lm_config(const io::ModelConfig& json) {
  // The layout models/train/export.py writes: "family", "architecture" {sizes, normaliser,
  // train_length}, "norm" {eps}, "rope" {base, dim}, "tokenizer" {vocab, unknown_id}.
  LmConfig config;
  Result<std::string> family = json.string("family");
  if (!family) return family.status();
  if (family.value() == "gau-lm")
    config.family = LmFamily::gau;
  else if (family.value() == "roformer-v2")
    config.family = LmFamily::roformer_v2;
  else if (family.value() == "flash-lm")
    config.family = LmFamily::flash;
  else
    return bad_model(json.what() + ": 'family' " + family.value() +
                     " is not a language model (gau-lm, roformer-v2, flash-lm)");

  Result<io::ModelConfig> arch = json.object("architecture");
  if (!arch) return arch.status();
  const auto read_int = [&](const char* key, int& out, std::int64_t min,
                            std::int64_t max) -> Status {
    Result<std::int64_t> value = arch.value().integer(key, min, max);
    if (!value) return value.status();
    out = static_cast<int>(value.value());
    return Status::ok();
  };
  for (Status s :
       {read_int("vocab_size", config.vocab_size, 2, 1 << 20),
        read_int("hidden", config.hidden, 2, 1 << 16), read_int("layers", config.layers, 1, 1024),
        read_int("train_length", config.train_length, 2, 1 << 20)}) {
    if (!s.is_ok()) return s;
  }
  // FLASH's attention has a fixed normaliser (relu² / (c·s) inside chunks); the others name theirs.
  Result<std::string> normaliser = config.family == LmFamily::flash
                                       ? Result<std::string>(std::string("relu2"))
                                       : arch.value().string("normaliser");
  if (!normaliser) return normaliser.status();
  if (normaliser.value() == "softmax")
    config.normaliser = kernels::AttentionNormaliser::softmax;
  else if (normaliser.value() == "softmax_plus")
    config.normaliser = kernels::AttentionNormaliser::softmax_plus;
  else if (normaliser.value() == "relu2")
    config.normaliser = kernels::AttentionNormaliser::relu2;
  else
    return bad_model(arch.value().what() +
                     ": 'normaliser' must be softmax, softmax_plus or relu2, not " +
                     normaliser.value());

  if (config.gated()) {
    for (Status s : {read_int("expansion", config.expansion, 1, 1 << 18),
                     read_int("key_size", config.key_size, 2, 1 << 12)}) {
      if (!s.is_ok()) return s;
    }
    if (config.family == LmFamily::flash) {
      if (Status s = read_int("chunk", config.chunk, 1, 1 << 12); !s.is_ok()) return s;
    }
    if (config.key_size % 2 != 0)
      return bad_model(arch.value().what() + ": 'key_size' must be even (RoPE pairs)");
  } else {
    for (Status s : {read_int("heads", config.heads, 1, 1 << 12),
                     read_int("intermediate", config.intermediate, 1, 1 << 18)}) {
      if (!s.is_ok()) return s;
    }
    if (config.hidden % config.heads != 0 || (config.hidden / config.heads) % 2 != 0) {
      return bad_model(arch.value().what() +
                       ": 'hidden' must be a multiple of 'heads' with an even head size");
    }
  }

  config.rope_dim = config.head_size();
  if (json.has("rope")) {
    Result<io::ModelConfig> rope = json.object("rope");
    if (!rope) return rope.status();
    Result<std::int64_t> dim =
        rope.value().integer_or("dim", config.head_size(), 2, config.head_size());
    if (!dim) return dim.status();
    Result<double> base = rope.value().number_or("base", 10000.0);
    if (!base) return base.status();
    if (!(base.value() > 1.0)) return bad_model(rope.value().what() + ": 'base' must be > 1");
    Result<std::string> layout = rope.value().string_or("layout", "interleaved");
    if (!layout) return layout.status();
    if (layout.value() != "interleaved")
      return bad_model(rope.value().what() + ": only the interleaved layout is supported");
    config.rope_dim = static_cast<int>(dim.value());
    config.rope_base = base.value();
  }
  if (config.rope_dim % 2 != 0 || config.head_size() % config.rope_dim != 0) {
    return bad_model(json.what() + ": the RoPE dim must be even and divide the head size");
  }
  if (json.has("norm")) {
    Result<io::ModelConfig> norm = json.object("norm");
    if (!norm) return norm.status();
    Result<double> eps = norm.value().number_or("eps", 1e-6);
    if (!eps) return eps.status();
    if (!(eps.value() >= 0.0)) return bad_model(norm.value().what() + ": 'eps' must be >= 0");
    config.rms_eps = static_cast<float>(eps.value());
  }

  Result<io::ModelConfig> tokenizer = json.object("tokenizer");
  if (!tokenizer) return tokenizer.status();
  Result<std::vector<std::string>> vocab = tokenizer.value().string_list("vocab");
  if (!vocab) return vocab.status();
  if (static_cast<int>(vocab.value().size()) != config.vocab_size) {
    return bad_model(tokenizer.value().what() + ": 'vocab' holds " +
                     std::to_string(vocab.value().size()) + " characters but 'vocab_size' is " +
                     std::to_string(config.vocab_size));
  }
  Result<std::int64_t> unknown = tokenizer.value().integer_or("unknown_id", 0, 0, 0);
  if (!unknown) return unknown.status();
  config.vocab = std::move(vocab).value();
  return config;
}

}  // namespace gyre::models
