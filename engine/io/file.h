// Whole-file reads for native tools and tests (in the wasm test build, Node's file system through
// NODERAWFS). Pages and the JS API hand bytes in instead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace gyre::io {

// NOT_FOUND when the file cannot be opened, TOO_LARGE / OUT_OF_MEMORY when it cannot be held.
Result<std::vector<std::uint8_t>> read_file(const std::string& path);

}  // namespace gyre::io
