#include "models/unet.h"

#include <algorithm>
#include <cstring>

#include "io/safetensors.h"
#include "kernels/conv3x3.h"
#include "kernels/parallel.h"
#include "kernels/resample.h"
#include "kernels/vecmath.h"

namespace gyre::models {
namespace {

constexpr float kGroupNormEps = 1e-6f;

Status bad_model(std::string message) {
  return Status(ErrorCode::kBadModel, std::move(message));
}

}  // namespace

Result<UnetConfig> parse_unet_config(const io::ModelConfig& json) {
  Result<std::string> family = json.string("family");
  if (!family) return family.status();
  if (family.value() != "ddpm-unet")
    return bad_model(json.what() + ": 'family' " + family.value() + " is not ddpm-unet");
  Result<io::ModelConfig> arch = json.object("architecture");
  if (!arch) return arch.status();
  UnetConfig c;
  struct Field {
    const char* key;
    int* out;
    std::int64_t min, max;
  };
  for (const Field& f :
       {Field{"image_size", &c.image_size, 2, 1024},
        Field{"image_channels", &c.image_channels, 1, 16},
        Field{"base_channels", &c.base_channels, 1, 4096}, Field{"blocks", &c.blocks, 1, 16},
        Field{"min_pixel", &c.min_pixel, 1, 1024}, Field{"time_dim", &c.time_dim, 1, 8192},
        Field{"groups", &c.groups, 1, 4096}, Field{"steps", &c.steps, 2, 100000}}) {
    Result<std::int64_t> value = arch.value().integer(f.key, f.min, f.max);
    if (!value) return value.status();
    *f.out = static_cast<int>(value.value());
  }
  Result<std::vector<std::int64_t>> multipliers = arch.value().integer_list("multipliers", 1, 64);
  if (!multipliers) return multipliers.status();
  if (multipliers.value().empty() || multipliers.value().size() > 12) {
    return bad_model(arch.value().what() + ": 'multipliers' must hold 1 to 12 levels");
  }
  c.multipliers.assign(multipliers.value().begin(), multipliers.value().end());
  for (int m : c.multipliers) {
    if ((m * c.base_channels) % c.groups != 0) {
      return bad_model(arch.value().what() + ": 'groups' must divide every level's channel count");
    }
  }
  Result<std::int64_t> classes = arch.value().integer_or("classes", 0, 0, 4096);
  if (!classes) return classes.status();
  c.classes = static_cast<int>(classes.value());
  if (c.base_channels % c.groups != 0)
    return bad_model(arch.value().what() + ": 'groups' must divide 'base_channels'");
  return c;
}

Result<std::unique_ptr<UNet>> UNet::load(std::string_view config_json,
                                         std::span<const std::uint8_t> safetensors) {
  Result<io::ModelConfig> json = io::ModelConfig::parse(config_json);
  if (!json) return json.status();
  Result<UnetConfig> config = parse_unet_config(json.value());
  if (!config) return config.status();
  Result<io::SafetensorsFile> file = io::SafetensorsFile::parse(safetensors);
  if (!file) return file.status();
  std::unique_ptr<UNet> net(new UNet());
  net->config_ = std::move(config).value();
  if (Status s = net->build(file.value()); !s.is_ok()) return s;
  return net;
}

Status UNet::build(const io::SafetensorsFile& file) {
  const UnetConfig& c = config_;
  // Reads a tensor, checking its shape; keeps it alive in tensors_.
  const auto read = [&](const std::string& name, const Shape& shape) -> Result<const float*> {
    const io::TensorInfo* info = file.find(name);
    if (info == nullptr)
      return bad_model("model.safetensors has no tensor '" + name +
                       "' (the U-Net config needs it)");
    if (info->shape != shape) {
      return bad_model("model.safetensors: tensor '" + name + "' has shape " +
                       shape_to_string(info->shape) + ", config.json implies " +
                       shape_to_string(shape));
    }
    Result<Tensor> tensor = file.read_f32(*info);
    if (!tensor) return tensor.status();
    if (Status s = require_finite(tensor.value().values(), name); !s.is_ok()) return s;
    parameters_ += tensor.value().size();
    tensors_.push_back(std::move(tensor).value());
    return static_cast<const float*>(tensors_.back().data());
  };
  // A 3×3 convolution [out, in, 3, 3], transformed to the Winograd domain and packed.
  const auto conv = [&](const std::string& name, int in, int out, Conv& layer) -> Status {
    Result<const float*> w = read(name, {out, in, 3, 3});
    if (!w) return w.status();
    Result<FloatBuffer> packed =
        FloatBuffer::allocate(kernels::conv3x3_winograd_packed_size(in, out), name);
    if (!packed) return packed.status();
    if (Status s = kernels::conv3x3_winograd_pack(w.value(), in, out, packed.value().data());
        !s.is_ok())
      return s;
    layer = Conv{in, out, std::move(packed).value()};
    return Status::ok();
  };
  const auto block = [&](const std::string& prefix, int in, int out, Block& b) -> Status {
    b.c_in = in;
    b.c_out = out;
    Result<const float*> time = read(prefix + "time_dense.weight", {in, c.time_dim});
    if (!time) return time.status();
    Result<Linear> time_dense =
        Linear::create(time.value(), in, c.time_dim, prefix + "time_dense.weight");
    if (!time_dense) return time_dense.status();
    b.time_dense = std::move(time_dense).value();
    if (Status s = conv(prefix + "conv1.weight", in, out, b.conv1); !s.is_ok()) return s;
    if (Status s = conv(prefix + "conv2.weight", out, out, b.conv2); !s.is_ok()) return s;
    b.has_skip = in != out;
    if (b.has_skip) {
      Result<const float*> skip = read(prefix + "skip.weight", {out, in, 1, 1});
      if (!skip) return skip.status();
      Result<Linear> linear = Linear::create(skip.value(), out, in, prefix + "skip.weight");
      if (!linear) return linear.status();
      b.skip = std::move(linear).value();
    }
    Result<const float*> gamma = read(prefix + "norm.weight", {out});
    if (!gamma) return gamma.status();
    Result<const float*> beta = read(prefix + "norm.bias", {out});
    if (!beta) return beta.status();
    b.norm_gamma = gamma.value();
    b.norm_beta = beta.value();
    return Status::ok();
  };

  Result<const float*> table = read("time_table", {c.steps, c.time_dim});
  if (!table) return table.status();
  time_table_ = table.value();
  if (c.classes > 0) {
    Result<const float*> classes = read("class_table.weight", {c.classes + 1, c.time_dim});
    if (!classes) return classes.status();
    class_table_ = classes.value();
  }
  if (Status s = conv("stem.weight", c.image_channels, c.base_channels, stem_); !s.is_ok())
    return s;

  // The level plan of UNet.__init__; the up blocks take their widths from the skip stack.
  int channels = c.base_channels, side = c.image_size;
  skips_.push_back({side, channels});
  for (int m : c.multipliers) {
    for (int b = 0; b < c.blocks; ++b) {
      down_.emplace_back();
      if (Status s = block("down." + std::to_string(down_.size() - 1) + ".", channels,
                           m * c.base_channels, down_.back());
          !s.is_ok())
        return s;
      channels = m * c.base_channels;
      skips_.push_back({side, channels});
    }
    const bool pooled = side > c.min_pixel;
    if (pooled && side % 2 != 0)
      return bad_model("config.json: a pooled level has odd side " + std::to_string(side));
    pool_after_.push_back(pooled);
    if (pooled) {
      side /= 2;
      skips_.push_back({side, channels});
    }
  }
  if (Status s = block("middle.", channels, channels, middle_); !s.is_ok()) return s;
  std::size_t top = skips_.size() - 1;  // the deepest entry is not used (see run_chunk)
  for (int level = static_cast<int>(c.multipliers.size()) - 1; level >= 0; --level) {
    if (pool_after_[level]) --top;
    for (int b = 0; b < c.blocks; ++b) {
      const int target = skips_[--top].channels;
      up_.emplace_back();
      if (Status s =
              block("up." + std::to_string(up_.size() - 1) + ".", channels, target, up_.back());
          !s.is_ok())
        return s;
      channels = target;
    }
  }
  max_channels_ = std::max(c.base_channels, c.image_channels);
  for (const std::vector<Block>* blocks : {&down_, &up_}) {
    for (const Block& b : *blocks) max_channels_ = std::max({max_channels_, b.c_in, b.c_out});
  }
  Result<const float*> gamma = read("head_norm.weight", {channels});
  if (!gamma) return gamma.status();
  Result<const float*> beta = read("head_norm.bias", {channels});
  if (!beta) return beta.status();
  head_gamma_ = gamma.value();
  head_beta_ = beta.value();
  return conv("head.weight", channels, c.image_channels, head_);
}

Status UNet::conv3x3(const Conv& conv, const float* x, int batch, int side, float* y,
                     Activation activation) {
  const kernels::Conv3x3Shape shape{batch, side, side, conv.c_in, conv.c_out};
  if (Status s = ensure_capacity(conv_scratch_, kernels::conv3x3_winograd_scratch_floats(shape),
                                 "the U-Net convolution scratch");
      !s.is_ok())
    return s;
  return parallel::conv3x3_winograd(shape, x, conv.packed.data(), y, activation,
                                    conv_scratch_.data());
}

Status UNet::run_block(const Block& block, const float* x, int batch, int side, const float* t_emb,
                       float* out) {
  const int pixels = side * side;
  const std::size_t rows = static_cast<std::size_t>(batch) * pixels;
  float* time_added = time_added_.data();
  block.time_dense.apply(t_emb, batch, time_added);
  float* h1 = block_h1_.data();
  for (int b = 0; b < batch; ++b) {
    const float* t = time_added + static_cast<std::size_t>(b) * block.c_in;
    for (int p = 0; p < pixels; ++p) {
      const std::size_t at = (static_cast<std::size_t>(b) * pixels + p) * block.c_in;
      for (int ch = 0; ch < block.c_in; ++ch) h1[at + ch] = x[at + ch] + t[ch];
    }
  }
  if (Status s = conv3x3(block.conv1, h1, batch, side, block_h2_.data(), Activation::silu);
      !s.is_ok())
    return s;
  if (Status s =
          conv3x3(block.conv2, block_h2_.data(), batch, side, block_h3_.data(), Activation::silu);
      !s.is_ok())
    return s;
  const std::size_t count = rows * block.c_out;
  if (block.has_skip) {
    block.skip.apply(x, static_cast<int>(rows), out);
    (void)kernels::vec_add(out, block_h3_.data(), out, static_cast<int>(count));
  } else {
    (void)kernels::vec_add(x, block_h3_.data(), out, static_cast<int>(count));
  }
  return parallel::group_norm_images(out, out, batch, block.c_out, pixels, config_.groups,
                                     block.norm_gamma, block.norm_beta, kGroupNormEps,
                                     kernels::GroupNormLayout::channels_last);
}

Status UNet::check_labels(const int* labels, int batch) const {
  for (int b = 0; b < batch; ++b) {
    if (labels[b] == -1) continue;
    if (config_.classes == 0) {
      return Status(ErrorCode::kBadArgument,
                    "this U-Net is not class-conditional: a label must be -1 (any class)");
    }
    if (labels[b] < 0 || labels[b] >= config_.classes) {
      return Status(ErrorCode::kBadArgument, "label " + std::to_string(labels[b]) +
                                                 " is outside [0, " +
                                                 std::to_string(config_.classes) +
                                                 ") (or -1 for any class)");
    }
  }
  return Status::ok();
}

Status UNet::predict_noise(const float* x, int batch, const int* k, float* eps,
                           const int* labels) {
  if (batch < 0) return Status(ErrorCode::kBadArgument, "the batch must not be negative");
  for (int b = 0; b < batch; ++b) {
    if (k[b] < 0 || k[b] >= config_.steps) {
      return Status(ErrorCode::kBadArgument, "time index " + std::to_string(k[b]) +
                                                 " is outside [0, " +
                                                 std::to_string(config_.steps) + ")");
    }
  }
  if (labels != nullptr) {
    if (Status s = check_labels(labels, batch); !s.is_ok()) return s;
  }
  for (int start = 0; start < batch; start += kMaxChunk) {
    const int chunk = std::min(kMaxChunk, batch - start);
    const std::size_t offset = static_cast<std::size_t>(start) * image_floats();
    if (Status s = run_chunk(x + offset, chunk, k + start,
                             labels != nullptr ? labels + start : nullptr, eps + offset);
        !s.is_ok())
      return s;
  }
  return Status::ok();
}

Status UNet::run_chunk(const float* x, int batch, const int* k, const int* labels, float* eps) {
  const UnetConfig& c = config_;
  const std::uint64_t B = static_cast<std::uint64_t>(batch);
  const int s0 = c.image_size, ci = c.image_channels;

  // The workspace for this chunk, from the plan.
  if (stack_.size() < skips_.size()) stack_.resize(skips_.size());
  for (std::size_t i = 0; i < skips_.size(); ++i) {
    const std::uint64_t floats = B * skips_[i].side * skips_[i].side * skips_[i].channels;
    if (Status s = ensure_capacity(stack_[i], floats, "the U-Net skip stack"); !s.is_ok()) return s;
  }
  // An upper bound for every activation: the widest block at full resolution.
  const std::uint64_t activation = B * s0 * s0 * max_channels_;
  for (auto [buffer, floats] :
       {std::pair{&input_, B * s0 * s0 * ci}, std::pair{&current_, activation},
        std::pair{&upsampled_, activation}, std::pair{&block_h1_, activation},
        std::pair{&block_h2_, activation}, std::pair{&block_h3_, activation},
        std::pair{&time_embedding_, B * c.time_dim}, std::pair{&time_added_, B * max_channels_}}) {
    if (Status s = ensure_capacity(*buffer, floats, "the U-Net workspace"); !s.is_ok()) return s;
  }

  // NCHW → NHWC, and the time embedding rows.
  const int pixels0 = s0 * s0;
  for (int b = 0; b < batch; ++b)
    for (int ch = 0; ch < ci; ++ch)
      for (int p = 0; p < pixels0; ++p)
        input_.data()[(static_cast<std::size_t>(b) * pixels0 + p) * ci + ch] =
            x[(static_cast<std::size_t>(b) * ci + ch) * pixels0 + p];
  for (int b = 0; b < batch; ++b) {
    float* row = time_embedding_.data() + static_cast<std::size_t>(b) * c.time_dim;
    std::memcpy(row, time_table_ + static_cast<std::size_t>(k[b]) * c.time_dim,
                sizeof(float) * c.time_dim);
    if (class_table_ != nullptr) {
      const int label = labels != nullptr && labels[b] >= 0 ? labels[b] : c.classes;
      (void)kernels::vec_add(row, class_table_ + static_cast<std::size_t>(label) * c.time_dim, row,
                             c.time_dim);
    }
  }
  const float* t = time_embedding_.data();

  // The skip stack is stack_[0 .. top): the down path pushes, the up path pops (LIFO).
  int top = 0;
  if (Status s = conv3x3(stem_, input_.data(), batch, s0, stack_[top].data(), Activation::none);
      !s.is_ok())
    return s;
  const float* current = stack_[top++].data();
  int side = s0, channels = c.base_channels;
  std::size_t index = 0;
  for (std::size_t level = 0; level < c.multipliers.size(); ++level) {
    for (int b = 0; b < c.blocks; ++b, ++index) {
      if (Status s = run_block(down_[index], current, batch, side, t, stack_[top].data());
          !s.is_ok())
        return s;
      channels = down_[index].c_out;
      current = stack_[top++].data();
    }
    if (pool_after_[level]) {
      if (Status s = kernels::avg_pool_2x2(current, stack_[top].data(), batch, side, channels);
          !s.is_ok())
        return s;
      side /= 2;
      current = stack_[top++].data();
    }
  }
  // Ping-pong between two buffers on the way up.
  float* buffers[2] = {current_.data(), upsampled_.data()};
  int out = 0;
  if (Status s = run_block(middle_, current, batch, side, t, buffers[out]); !s.is_ok()) return s;
  current = buffers[out];
  --top;  // the deepest level's last block output is not used (Keras-DDPM)
  const auto add_skip = [&](float* target, std::uint64_t floats) {
    (void)kernels::vec_add(target, stack_[--top].data(), target, static_cast<int>(floats));
  };
  index = 0;
  for (int level = static_cast<int>(c.multipliers.size()) - 1; level >= 0; --level) {
    if (pool_after_[level]) {
      out ^= 1;
      float* up = buffers[out];
      if (Status s = kernels::upsample_nearest_2x(current, up, batch, side, channels); !s.is_ok())
        return s;
      side *= 2;
      add_skip(up, B * side * side * channels);
      current = up;
    }
    for (int b = 0; b < c.blocks; ++b, ++index) {
      out ^= 1;
      if (Status s = run_block(up_[index], current, batch, side, t, buffers[out]); !s.is_ok())
        return s;
      channels = up_[index].c_out;
      current = buffers[out];
      add_skip(buffers[out], B * side * side * channels);
    }
  }
  // Head: GroupNorm then conv 3×3 to the image channels, back to NCHW.
  out ^= 1;
  float* normed = buffers[out];
  if (Status s = parallel::group_norm_images(current, normed, batch, channels, side * side,
                                             c.groups, head_gamma_, head_beta_, kGroupNormEps,
                                             kernels::GroupNormLayout::channels_last);
      !s.is_ok()) {
    return s;
  }
  float* result = block_h1_.data();
  if (Status s = conv3x3(head_, normed, batch, side, result, Activation::none); !s.is_ok())
    return s;
  for (int b = 0; b < batch; ++b)
    for (int ch = 0; ch < ci; ++ch)
      for (int p = 0; p < pixels0; ++p)
        eps[(static_cast<std::size_t>(b) * ci + ch) * pixels0 + p] =
            result[(static_cast<std::size_t>(b) * pixels0 + p) * ci + ch];
  return Status::ok();
}

}  // namespace gyre::models
