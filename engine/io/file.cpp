#include "io/file.h"

#include <cstdio>
#include <memory>

#include "core/tensor.h"

namespace gyre::io {

Result<std::vector<std::uint8_t>> read_file(const std::string& path) {
  using FileResult = Result<std::vector<std::uint8_t>>;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) return FileResult(ErrorCode::kNotFound, "cannot open '" + path + "'");
  if (std::fseek(file.get(), 0, SEEK_END) != 0) {
    return FileResult(ErrorCode::kBadArgument, "cannot seek in '" + path + "'");
  }
  const long size = std::ftell(file.get());
  if (size < 0) return FileResult(ErrorCode::kBadArgument, "cannot size '" + path + "'");
  if (static_cast<std::uint64_t>(size) > max_allocation_bytes() / 2) {
    return FileResult(ErrorCode::kTooLarge, "'" + path + "' is " +
                                                format_bytes(static_cast<std::uint64_t>(size)) +
                                                ", too large to load into memory");
  }
  std::rewind(file.get());
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (!bytes.empty() && std::fread(bytes.data(), 1, bytes.size(), file.get()) != bytes.size()) {
    return FileResult(ErrorCode::kBadArgument, "cannot read '" + path + "'");
  }
  return bytes;
}

}  // namespace gyre::io
