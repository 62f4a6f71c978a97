// A language model's config.json, parsed (models/train/export.py writes it): family, sizes,
// normaliser (FLASH has none: its attention is flash_mixed_chunk's relu²), chunk, RoPE, RMSNorm and the vocabulary. lm_config.cpp holds the parser.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/config.h"
#include "kernels/attention.h"

namespace gyre::models {

enum class LmFamily : std::uint8_t { gau, roformer_v2, flash };

struct LmConfig {
  LmFamily family = LmFamily::gau;
  int vocab_size = 0;
  int hidden = 0;
  int layers = 0;
  kernels::AttentionNormaliser normaliser = kernels::AttentionNormaliser::softmax;
  int train_length = 128;  // L: the length softmax_plus and log-n are calibrated to
  // GAU and FLASH: e (U and V width) and s (the shared Q/K width, one head).
  int expansion = 0;
  int key_size = 0;
  // FLASH: the mixed-chunk attention's chunk length c (quadratic inside, linear across chunks).
  int chunk = 0;
  // RoFormerV2: heads of hidden/heads, FFN width.
  int heads = 1;
  int intermediate = 0;
  // RoPE rotates blocks of rope_dim features with θ_i = base^(−2i/rope_dim). Equal to the head size
  // in a trained model; a model widened with a duplicated θ table keeps the original head size
  // here.
  int rope_dim = 0;
  double rope_base = 10000.0;
  // RMSNorm y = gain · x / sqrt(mean(x²) + eps): gain 1 when trained, 1/√k after widening by k.
  float rms_eps = 1e-6f;
  float norm_gain = 1.0f;
  std::vector<std::string> vocab;  // one UTF-8 character per id; id 0 is the unknown symbol

  bool gated() const { return family != LmFamily::roformer_v2; }  // GAU and FLASH layers
  int head_size() const { return gated() ? key_size : hidden / heads; }
  int attention_heads() const { return gated() ? 1 : heads; }
  std::string family_name() const;
  std::string normaliser_name() const;
};

// Parses config.json (family, sizes, normaliser, vocabulary); BAD_MODEL naming the key on error.
Result<LmConfig> parse_lm_config(const io::ModelConfig& json);

}  // namespace gyre::models
