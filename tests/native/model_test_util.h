// Helpers for the model and golden tests: reading shipped models and golden safetensors from the source
// tree (natively, and in wasm under Node through NODERAWFS).
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/file.h"
#include "io/safetensors.h"
#include "models/language_model.h"

namespace gyre::test {

inline std::string source_path(const std::string& relative) { return std::string(GYRE_SOURCE_DIR) + "/" + relative; }

inline std::string read_text(const std::string& relative) {
  Result<std::vector<std::uint8_t>> bytes = io::read_file(source_path(relative));
  REQUIRE_MESSAGE(bytes.is_ok(), bytes.status().to_string());
  return std::string(bytes.value().begin(), bytes.value().end());
}

inline nlohmann::json read_json(const std::string& relative) {
  return nlohmann::json::parse(read_text(relative), nullptr, false);
}

// A golden safetensors file kept in memory with typed accessors.
struct GoldenFile {
  std::vector<std::uint8_t> bytes;
  io::SafetensorsFile file;

  static std::unique_ptr<GoldenFile> open(const std::string& relative) {
    auto golden = std::make_unique<GoldenFile>();
    Result<std::vector<std::uint8_t>> bytes = io::read_file(source_path(relative));
    REQUIRE_MESSAGE(bytes.is_ok(), bytes.status().to_string());
    golden->bytes = std::move(bytes).value();
    Result<io::SafetensorsFile> file = io::SafetensorsFile::parse(golden->bytes);
    REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
    golden->file = std::move(file).value();
    return golden;
  }

  Tensor f32(const std::string& name) const {
    Result<Tensor> tensor = file.read_f32(name);
    REQUIRE_MESSAGE(tensor.is_ok(), (name + ": " + tensor.status().to_string()));
    return std::move(tensor).value();
  }

  // I64 tensors (token ids, positions) read from the data section directly.
  std::vector<std::int64_t> i64(const std::string& name) const {
    const io::TensorInfo* info = file.find(name);
    REQUIRE_MESSAGE(info != nullptr, name);
    REQUIRE(info->dtype == "I64");
    std::uint64_t header = 0;
    std::memcpy(&header, bytes.data(), 8);
    std::vector<std::int64_t> values(info->element_count);
    std::memcpy(values.data(), bytes.data() + 8 + header + info->data_begin, values.size() * 8);
    return values;
  }
};

inline std::unique_ptr<models::LanguageModel> load_lm(const std::string& model_dir) {
  const std::string config = read_text(model_dir + "config.json");
  Result<std::vector<std::uint8_t>> weights = io::read_file(source_path(model_dir + "model.safetensors"));
  REQUIRE_MESSAGE(weights.is_ok(), weights.status().to_string());
  Result<std::unique_ptr<models::LanguageModel>> model = models::LanguageModel::load(config, weights.value());
  REQUIRE_MESSAGE(model.is_ok(), model.status().to_string());
  return std::move(model).value();
}

inline float max_abs_diff(const float* a, const float* b, std::size_t count) {
  float worst = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const float d = std::fabs(a[i] - b[i]);
    if (!(d <= worst)) worst = d;  // NaN propagates as a failure
  }
  return worst;
}

}  // namespace gyre::test
