#include "io/config.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace gyre::io {

using nlohmann::json;

Result<ModelConfig> ModelConfig::parse(std::string_view text, std::string what) {
  json root = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded())
    return Result<ModelConfig>(ErrorCode::kBadModel, what + " is not valid JSON");
  if (!root.is_object())
    return Result<ModelConfig>(ErrorCode::kBadModel, what + " must hold a JSON object");
  ModelConfig config;
  config.root_ = std::make_shared<const json>(std::move(root));
  config.node_ = config.root_.get();
  config.what_ = std::move(what);
  return config;
}

Status ModelConfig::bad(std::string_view key, std::string_view problem) const {
  return Status(ErrorCode::kBadModel,
                what_ + ": '" + std::string(key) + "' " + std::string(problem));
}

const json* ModelConfig::find(std::string_view key) const {
  const auto it = node_->find(key);
  return it == node_->end() ? nullptr : &*it;
}

Result<ModelConfig> ModelConfig::object(std::string_view key) const {
  const json* value = find(key);
  if (value == nullptr) return bad(key, "is missing");
  if (!value->is_object()) return bad(key, "must be an object");
  ModelConfig nested;
  nested.root_ = root_;
  nested.node_ = value;
  nested.what_ = what_ + ": " + std::string(key);
  return nested;
}

bool ModelConfig::has(std::string_view key) const {
  return find(key) != nullptr;
}

Result<std::int64_t> ModelConfig::integer(std::string_view key, std::int64_t min,
                                          std::int64_t max) const {
  const json* value = find(key);
  if (value == nullptr) return bad(key, "is missing");
  std::int64_t number = 0;
  if (value->is_number_integer()) {
    if (value->is_number_unsigned() &&
        value->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
      return bad(key, "must be at most " + std::to_string(max));
    }
    number = value->get<std::int64_t>();
  } else if (value->is_number_float() && std::floor(value->get<double>()) == value->get<double>() &&
             std::fabs(value->get<double>()) < 9e15) {
    number = static_cast<std::int64_t>(value->get<double>());
  } else {
    return bad(key, "must be an integer");
  }
  if (number < min || number > max) {
    return bad(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], not " +
                        std::to_string(number));
  }
  return number;
}

Result<std::int64_t> ModelConfig::integer_or(std::string_view key, std::int64_t fallback,
                                             std::int64_t min, std::int64_t max) const {
  if (!has(key)) return fallback;
  return integer(key, min, max);
}

Result<double> ModelConfig::number(std::string_view key) const {
  const json* value = find(key);
  if (value == nullptr) return bad(key, "is missing");
  if (!value->is_number()) return bad(key, "must be a number");
  const double number = value->get<double>();
  if (!std::isfinite(number)) return bad(key, "must be finite");
  return number;
}

Result<double> ModelConfig::number_or(std::string_view key, double fallback) const {
  if (!has(key)) return fallback;
  return number(key);
}

Result<std::string> ModelConfig::string(std::string_view key) const {
  const json* value = find(key);
  if (value == nullptr) return bad(key, "is missing");
  if (!value->is_string()) return bad(key, "must be a string");
  return value->get<std::string>();
}

Result<std::string> ModelConfig::string_or(std::string_view key, std::string fallback) const {
  if (!has(key)) return fallback;
  return string(key);
}

Result<std::vector<std::string>> ModelConfig::string_list(std::string_view key) const {
  const json* value = find(key);
  if (value == nullptr) return bad(key, "is missing");
  if (!value->is_array()) return bad(key, "must be an array of strings");
  std::vector<std::string> items;
  items.reserve(value->size());
  for (const json& item : *value) {
    if (!item.is_string()) return bad(key, "must be an array of strings");
    items.push_back(item.get<std::string>());
  }
  return items;
}

Result<std::vector<std::int64_t>> ModelConfig::integer_list(std::string_view key, std::int64_t min,
                                                            std::int64_t max) const {
  const json* value = find(key);
  if (value == nullptr) return bad(key, "is missing");
  if (!value->is_array()) return bad(key, "must be an array of integers");
  std::vector<std::int64_t> items;
  for (const json& item : *value) {
    if (!item.is_number_integer()) return bad(key, "must be an array of integers");
    const std::int64_t number = item.get<std::int64_t>();
    if (number < min || number > max) {
      return bad(key, "holds " + std::to_string(number) + ", outside [" + std::to_string(min) +
                          ", " + std::to_string(max) + "]");
    }
    items.push_back(number);
  }
  return items;
}

}  // namespace gyre::io
