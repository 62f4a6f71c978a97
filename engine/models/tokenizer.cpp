#include "models/tokenizer.h"

namespace gyre::models {
namespace {

// Decodes one UTF-8 character at text[i], advancing i; malformed bytes give U+FFFD.
std::uint32_t next_code_point(std::string_view text, std::size_t& i) {
  const auto byte = [&](std::size_t at) { return static_cast<unsigned char>(text[at]); };
  const unsigned char lead = byte(i);
  int extra = 0;
  std::uint32_t code = 0;
  if (lead < 0x80) {
    ++i;
    return lead;
  }
  if ((lead & 0xe0) == 0xc0) {
    extra = 1;
    code = lead & 0x1f;
  } else if ((lead & 0xf0) == 0xe0) {
    extra = 2;
    code = lead & 0x0f;
  } else if ((lead & 0xf8) == 0xf0) {
    extra = 3;
    code = lead & 0x07;
  } else {
    ++i;
    return 0xfffd;
  }
  if (i + extra >= text.size()) {
    ++i;
    return 0xfffd;
  }
  for (int k = 1; k <= extra; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) {
      ++i;
      return 0xfffd;
    }
    code = (code << 6) | (byte(i + k) & 0x3f);
  }
  i += extra + 1;
  return code;
}

}  // namespace

Tokenizer::Tokenizer(std::vector<std::string> vocab) : vocab_(std::move(vocab)) {
  for (int id = 1; id < size(); ++id) {
    std::size_t i = 0;
    const std::string& piece = vocab_[id];
    if (piece.empty()) continue;
    const std::uint32_t code = next_code_point(piece, i);
    ids_.emplace(code, id);
  }
}

std::vector<int> Tokenizer::encode(std::string_view utf8) const {
  std::vector<int> ids;
  ids.reserve(utf8.size());
  std::size_t i = 0;
  while (i < utf8.size()) {
    const auto it = ids_.find(next_code_point(utf8, i));
    ids.push_back(it == ids_.end() ? 0 : it->second);
  }
  return ids;
}

std::string Tokenizer::decode(std::span<const int> ids) const {
  std::string text;
  for (int id : ids) text += piece(id);
  return text;
}

}  // namespace gyre::models
