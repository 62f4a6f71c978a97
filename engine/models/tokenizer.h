// The character tokenizer of the language models (tokenizer.cpp): one UTF-8 character per id.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gyre::models {

// Characters to ids and back. Unknown characters map to id 0.
class Tokenizer {
 public:
  Tokenizer() = default;
  explicit Tokenizer(std::vector<std::string> vocab);
  std::vector<int> encode(std::string_view utf8) const;
  const std::string& piece(int id) const { return vocab_[id < 0 || id >= size() ? 0 : id]; }
  std::string decode(std::span<const int> ids) const;
  int size() const { return static_cast<int>(vocab_.size()); }

 private:
  std::vector<std::string> vocab_;
  std::map<std::uint32_t, int> ids_;
};

}  // namespace gyre::models
