// The model loaders read int8 weights (I8 + '<name>.quant_scale', see io/safetensors.h): each
// model re-encoded in memory with every matrix in int8 per row must compute exactly what the same
// model computes from an F32 file of the dequantised values float(q) * scale[row].
#include <algorithm>
#include <cmath>
#include <map>

#include "model_test_util.h"
#include "models/unet.h"

using namespace gyre;

namespace {

struct Encoded {
  std::vector<std::uint8_t> int8;  // matrices I8 with scales, vectors F32
  std::vector<std::uint8_t> f32;   // the same values, dequantised, all F32
};

// Writes {name: (dtype, shape, bytes)} as safetensors.
std::vector<std::uint8_t> write_safetensors(
    const std::map<std::string, std::tuple<std::string, Shape, std::vector<std::uint8_t>>>&
        tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::vector<std::uint8_t> data;
  for (const auto& [name, entry] : tensors) {
    const auto& [dtype, shape, bytes] = entry;
    header[name] = {{"dtype", dtype},
                    {"shape", shape},
                    {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    data.insert(data.end(), bytes.begin(), bytes.end());
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';
  std::vector<std::uint8_t> file(8 + text.size());
  for (int i = 0; i < 8; ++i) file[i] = static_cast<std::uint8_t>(text.size() >> (8 * i));
  std::memcpy(file.data() + 8, text.data(), text.size());
  file.insert(file.end(), data.begin(), data.end());
  return file;
}

template <typename T>
std::vector<std::uint8_t> bytes_of(const std::vector<T>& values) {
  std::vector<std::uint8_t> bytes(values.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// Symmetric int8 per row (scale = max|row| / 127), as models/train/reencode.py does.
Encoded encode_int8(const std::string& model_dir) {
  Result<std::vector<std::uint8_t>> source =
      io::read_file(test::source_path(model_dir + "model.safetensors"));
  REQUIRE(source.is_ok());
  Result<io::SafetensorsFile> file = io::SafetensorsFile::parse(source.value());
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  std::map<std::string, std::tuple<std::string, Shape, std::vector<std::uint8_t>>> int8, f32;
  for (const io::TensorInfo& info : file->tensors()) {
    if (info.name.ends_with(".quant_scale")) continue;  // re-derived below
    Result<Tensor> tensor = file->read_f32(info);
    REQUIRE_MESSAGE(tensor.is_ok(), tensor.status().to_string());
    std::vector<float> values(tensor->values().begin(), tensor->values().end());
    if (info.shape.size() < 2) {
      int8[info.name] = {"F32", info.shape, bytes_of(values)};
      f32[info.name] = {"F32", info.shape, bytes_of(values)};
      continue;
    }
    const std::size_t rows = static_cast<std::size_t>(info.shape[0]);
    const std::size_t row_length = values.size() / rows;
    std::vector<std::int8_t> q(values.size());
    std::vector<float> scales(rows), dequantised(values.size());
    for (std::size_t r = 0; r < rows; ++r) {
      float largest = 0;
      for (std::size_t i = 0; i < row_length; ++i)
        largest = std::max(largest, std::fabs(values[r * row_length + i]));
      scales[r] = largest > 0 ? largest / 127.0f : 1.0f;
      for (std::size_t i = 0; i < row_length; ++i) {
        const std::size_t at = r * row_length + i;
        q[at] = static_cast<std::int8_t>(
            std::clamp(std::nearbyint(values[at] / scales[r]), -127.0f, 127.0f));
        dequantised[at] = static_cast<float>(q[at]) * scales[r];
      }
    }
    int8[info.name] = {"I8", info.shape, bytes_of(q)};
    int8[io::quant_scale_name(info.name)] = {"F32", Shape{info.shape[0]}, bytes_of(scales)};
    f32[info.name] = {"F32", info.shape, bytes_of(dequantised)};
  }
  return {write_safetensors(int8), write_safetensors(f32)};
}

}  // namespace

TEST_CASE("int8 weights: every shipped language model loads them and computes as from F32") {
  for (const char* name :
       {"gau-lm-relu2", "gau-lm-softmax", "gau-lm-softmax-plus", "roformer-v2-tiny"}) {
    CAPTURE(name);
    const std::string dir = std::string("models/") + name + "/";
    const std::string config = test::read_text(dir + "config.json");
    const Encoded encoded = encode_int8(dir);
    CHECK(encoded.int8.size() < encoded.f32.size() / 3);
    auto from_int8 = models::LanguageModel::load(config, encoded.int8);
    REQUIRE_MESSAGE(from_int8.is_ok(), from_int8.status().to_string());
    auto from_f32 = models::LanguageModel::load(config, encoded.f32);
    REQUIRE_MESSAGE(from_f32.is_ok(), from_f32.status().to_string());
    const std::vector<int> tokens{30, 55, 72, 64, 2, 70, 75, 61, 56, 12, 1, 45};
    const int vocab = from_f32.value()->config().vocab_size;
    std::vector<float> a(tokens.size() * vocab), b(tokens.size() * vocab);
    REQUIRE(from_int8.value()->forward(tokens, {}, a.data()).is_ok());
    REQUIRE(from_f32.value()->forward(tokens, {}, b.data()).is_ok());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("int8 weights: the DDPM U-Net loads them and computes as from F32") {
  const std::string config = test::read_text("models/ddpm-digits/config.json");
  const Encoded encoded = encode_int8("models/ddpm-digits/");
  auto from_int8 = models::UNet::load(config, encoded.int8);
  REQUIRE_MESSAGE(from_int8.is_ok(), from_int8.status().to_string());
  auto from_f32 = models::UNet::load(config, encoded.f32);
  REQUIRE_MESSAGE(from_f32.is_ok(), from_f32.status().to_string());
  const int floats = from_f32.value()->image_floats();
  std::vector<float> x(floats);
  for (int i = 0; i < floats; ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  const int k = 500;
  std::vector<float> a(floats), b(floats);
  REQUIRE(from_int8.value()->predict_noise(x.data(), 1, &k, a.data()).is_ok());
  REQUIRE(from_f32.value()->predict_noise(x.data(), 1, &k, b.data()).is_ok());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}
