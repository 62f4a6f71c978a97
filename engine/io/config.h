// A model's config.json: typed access to its keys with errors that name the file and the key.
//
// Every failure is BAD_MODEL ("config.json: 'hidden' must be a positive integer"), so a broken or
// hand-edited config reaches JS as a clear GyreError instead of a crash. The JSON is parsed without
// exceptions (the wasm build cannot catch them).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gyre::io {

class ModelConfig {
 public:
  // Parses `text`; `what` names the file in messages (default "config.json").
  static Result<ModelConfig> parse(std::string_view text, std::string what = "config.json");

  // A nested object, e.g. object("architecture"); its messages name the path ("config.json:
  // architecture").
  Result<ModelConfig> object(std::string_view key) const;

  bool has(std::string_view key) const;
  // Integer in [min, max]; BAD_MODEL when missing, not an integer or out of range.
  Result<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max) const;
  // Same, with a default when the key is absent.
  Result<std::int64_t> integer_or(std::string_view key, std::int64_t fallback, std::int64_t min,
                                  std::int64_t max) const;
  Result<double> number(std::string_view key) const;
  Result<double> number_or(std::string_view key, double fallback) const;
  Result<std::string> string(std::string_view key) const;
  Result<std::string> string_or(std::string_view key, std::string fallback) const;
  Result<std::vector<std::string>> string_list(std::string_view key) const;
  Result<std::vector<std::int64_t>> integer_list(std::string_view key, std::int64_t min,
                                                 std::int64_t max) const;

  const std::string& what() const { return what_; }

 private:
  Status bad(std::string_view key, std::string_view problem) const;
  const nlohmann::json* find(std::string_view key) const;

  std::shared_ptr<const nlohmann::json> root_;  // keeps the document alive for nested views
  const nlohmann::json* node_ = nullptr;        // this object inside it
  std::string what_;
};

}  // namespace gyre::io
