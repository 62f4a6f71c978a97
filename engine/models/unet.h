// The ε-prediction U-Net of ddpm-digits (docs/ALGORITHMS.md §6.4 scaled down;
// models/train/models.py UNet): stem conv 3×3, per level `blocks` residual blocks then 2×2 average
// pooling while the side exceeds min_pixel, a middle block, nearest 2× upsampling and additive
// skips (a LIFO stack as in Keras-DDPM), GroupNorm + conv 3×3 head. Residual block:
//   h = x + time_dense(t_emb); h = silu(conv1(h)); h = silu(conv2(h)); out = GroupNorm(h + skip(x))
// A class-conditional net (config `classes` > 0) adds a row of its class table to t_emb: the
// image's class, or the last row ("any class", trained by dropping labels) for label −1.
// Activations are NHWC inside the engine; every 3×3 convolution runs by Winograd F(2×2, 3×3)
// (kernels/conv3x3.h: 16 GEMMs over transformed tiles, 2.25× fewer multiply-adds than im2col) with
// the SiLU fused in its output transform. The public layout is NCHW, like PyTorch.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/linear.h"

namespace gyre::models {

struct UnetConfig {
  int image_size = 28;
  int image_channels = 1;
  int base_channels = 32;
  std::vector<int> multipliers{1, 2, 2};
  int blocks = 1;
  int min_pixel = 7;
  int time_dim = 64;
  int groups = 8;
  int steps = 1000;  // T: the time table has one row per network index k in [0, T)
  int classes = 0;   // > 0: class-conditional, labels in [0, classes)
};

Result<UnetConfig> parse_unet_config(const io::ModelConfig& json);

class UNet {
 public:
  // config.json text (family "ddpm-unet") and model.safetensors bytes. BAD_MODEL names a missing or
  // misshapen tensor; TOO_LARGE when the sizes cannot be held.
  static Result<std::unique_ptr<UNet>> load(std::string_view config_json,
                                            std::span<const std::uint8_t> safetensors);

  const UnetConfig& config() const { return config_; }
  int image_floats() const {
    return config_.image_channels * config_.image_size * config_.image_size;
  }
  std::uint64_t parameter_count() const { return parameters_; }

  // ε̂(x, k) for `batch` images x [batch, C, H, W] with network time index k[b] in [0, T) each;
  // eps has the same layout. labels (optional, conditional nets only): label[b] in [0, classes),
  // or −1 for any class; nullptr means any class for every image. Large batches run in chunks of
  // kMaxChunk images (bounded workspace).
  Status predict_noise(const float* x, int batch, const int* k, float* eps,
                       const int* labels = nullptr);
  // BAD_ARGUMENT unless every label is −1 or, for a conditional net, in [0, classes).
  Status check_labels(const int* labels, int batch) const;

  static constexpr int kMaxChunk = 16;

 private:
  // A 3×3 convolution's weights in the Winograd domain (kernels/conv3x3.h), transformed at load.
  struct Conv {
    int c_in = 0, c_out = 0;
    FloatBuffer packed;
  };
  struct Block {
    int c_in = 0, c_out = 0;
    Linear time_dense;  // time_dim → c_in
    Conv conv1, conv2;
    Linear skip;  // 1×1 when c_in != c_out
    bool has_skip = false;
    const float* norm_gamma = nullptr;
    const float* norm_beta = nullptr;
  };

  UNet() = default;
  Status build(const io::SafetensorsFile& file);
  Status run_chunk(const float* x, int batch, const int* k, const int* labels, float* eps);
  // out = block(x) for a batch at side×side; x is not modified.
  Status run_block(const Block& block, const float* x, int batch, int side, const float* t_emb,
                   float* out);
  Status conv3x3(const Conv& conv, const float* x, int batch, int side, float* y,
                 Activation activation);

  UnetConfig config_;
  std::uint64_t parameters_ = 0;
  std::vector<Tensor> tensors_;  // keeps GroupNorm parameters and the time table alive
  const float* time_table_ = nullptr;
  const float* class_table_ = nullptr;  // [classes + 1, time_dim]; the last row is "any class"
  Conv stem_, head_;
  const float* head_gamma_ = nullptr;
  const float* head_beta_ = nullptr;
  std::vector<Block> down_, up_;
  Block middle_;
  // The level plan, computed once by build(): which levels pool after their down blocks (and
  // upsample before their up blocks), the skip-stack entries in push order (the stem, each down
  // block, each pooling), and the widest channel count.
  struct Skip {
    int side = 0, channels = 0;
  };
  std::vector<bool> pool_after_;
  std::vector<Skip> skips_;
  int max_channels_ = 0;
  // Workspace, grown to the largest chunk seen (at most kMaxChunk images).
  std::vector<FloatBuffer> stack_;  // one buffer per skip-stack entry
  FloatBuffer input_, current_, upsampled_, block_h1_, block_h2_, block_h3_, conv_scratch_,
      time_embedding_, time_added_;
};

}  // namespace gyre::models
