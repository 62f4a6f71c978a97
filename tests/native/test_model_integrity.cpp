// Weights that parse but hold NaN or infinity (bytes written into the data section) are refused at
// load with BAD_MODEL naming the tensor, for both model families; clean weights still load.
#include <cmath>
#include <limits>
#include <tuple>

#include "model_test_util.h"
#include "models/unet.h"

using namespace gyre;

namespace {

// Overwrites element `index` of tensor `name` in a safetensors image with `value`: F32 tensors
// take the float's bits; F16 tensors take NaN (0x7E00) or an infinity of the value's sign.
void poke_f32(std::vector<std::uint8_t>& bytes, const std::string& name, std::uint64_t index,
              float value) {
  Result<io::SafetensorsFile> file = io::SafetensorsFile::parse(bytes);
  REQUIRE(file.is_ok());
  const io::TensorInfo* info = file.value().find(name);
  REQUIRE(info != nullptr);
  REQUIRE((info->dtype == "F32" || info->dtype == "F16"));
  std::uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | bytes[i];
  std::uint8_t* element = bytes.data() + 8 + header + info->data_begin + index * info->dtype_bytes;
  if (info->dtype == "F32") {
    std::memcpy(element, &value, sizeof value);
  } else {
    REQUIRE_FALSE(std::isfinite(value));
    const std::uint16_t half = std::isnan(value) ? 0x7E00 : (value > 0 ? 0x7C00 : 0xFC00);
    std::memcpy(element, &half, sizeof half);
  }
}

std::vector<std::uint8_t> read_bytes(const std::string& relative) {
  Result<std::vector<std::uint8_t>> bytes = io::read_file(test::source_path(relative));
  REQUIRE_MESSAGE(bytes.is_ok(), bytes.status().to_string());
  return std::move(bytes).value();
}

}  // namespace

TEST_CASE("a shipped language model with a NaN or an infinity in a weight is BAD_MODEL naming it") {
  const std::string config = test::read_text("models/gau-lm-softmax-plus/config.json");
  const std::vector<std::uint8_t> clean =
      read_bytes("models/gau-lm-softmax-plus/model.safetensors");
  REQUIRE(models::LanguageModel::load(config, clean).is_ok());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  // The matrices are int8 (io/safetensors.h): a non-finite value can only enter through their F32
  // row scales, which the reader refuses naming the matrix and the row.
  for (auto [poked, index, value, name, where] :
       {std::tuple{std::string("layers.3.i_dense.weight.quant_scale"), 12u, nan,
                   std::string("layers.3.i_dense.weight"), std::string("row 12")},
        std::tuple{std::string("output.weight.quant_scale"), 0u, -inf, std::string("output.weight"),
                   std::string("row 0")},
        std::tuple{std::string("layers.0.q_scale"), 63u, inf, std::string("layers.0.q_scale"),
                   std::string("element 63")}}) {
    std::vector<std::uint8_t> bytes = clean;
    poke_f32(bytes, poked, index, value);
    auto model = models::LanguageModel::load(config, bytes);
    REQUIRE_FALSE(model.is_ok());
    CHECK(model.status().code() == ErrorCode::kBadModel);
    CHECK_MESSAGE(model.status().message().find("'" + name + "'") != std::string::npos,
                  model.status().to_string());
    CHECK_MESSAGE(model.status().message().find(where) != std::string::npos,
                  model.status().to_string());
  }
}

TEST_CASE("the DDPM U-Net with a NaN in a weight is BAD_MODEL naming it") {
  const std::string config = test::read_text("models/ddpm-digits/config.json");
  std::vector<std::uint8_t> bytes = read_bytes("models/ddpm-digits/model.safetensors");
  REQUIRE(models::UNet::load(config, bytes).is_ok());
  poke_f32(bytes, "time_table", 5, std::numeric_limits<float>::quiet_NaN());
  auto net = models::UNet::load(config, bytes);
  REQUIRE_FALSE(net.is_ok());
  CHECK(net.status().code() == ErrorCode::kBadModel);
  CHECK(net.status().message().find("'time_table'") != std::string::npos);
}

TEST_CASE("require_finite finds the first non-finite element and accepts finite extremes") {
  std::vector<float> values(100, 1.0f);
  values[10] = std::numeric_limits<float>::max();
  values[11] = -std::numeric_limits<float>::denorm_min();
  CHECK(require_finite(values, "w").is_ok());
  values[42] = std::numeric_limits<float>::infinity();
  values[77] = std::numeric_limits<float>::quiet_NaN();
  const Status s = require_finite(values, "w");
  CHECK(s.code() == ErrorCode::kBadModel);
  CHECK(s.message().find("element 42") != std::string::npos);
}
