// Builds safetensors files in memory for tests, including files that lie.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace gyre::test {

// A file from a literal header (any text, valid or not) and a data section.
inline std::vector<std::uint8_t> safetensors_bytes(const std::string& header,
                                                   const std::vector<std::uint8_t>& data,
                                                   std::uint64_t header_length_field) {
  // One allocation, filled with memcpy (vector::insert trips a GCC 12 -Warray-bounds false
  // positive).
  std::vector<std::uint8_t> bytes(8 + header.size() + data.size());
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(header_length_field >> (8 * i));
  if (!header.empty()) std::memcpy(bytes.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(bytes.data() + 8 + header.size(), data.data(), data.size());
  return bytes;
}

inline std::vector<std::uint8_t> safetensors_bytes(const std::string& header,
                                                   const std::vector<std::uint8_t>& data) {
  return safetensors_bytes(header, data, header.size());
}

template <typename T>
std::vector<std::uint8_t> raw_bytes(const std::vector<T>& values) {
  std::vector<std::uint8_t> bytes(values.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

}  // namespace gyre::test
