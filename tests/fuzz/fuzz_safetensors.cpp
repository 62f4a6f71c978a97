// libFuzzer harness: the safetensors reader on arbitrary bytes. parse() must either refuse with a
// typed error or index a file whose every convertible tensor then reads without touching memory
// outside the input (ASan) or undefined arithmetic (UBSan).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gyre;
  const std::vector<std::uint8_t> bytes(data, data + size);  // exact bounds for ASan
  Result<io::SafetensorsFile> file = io::SafetensorsFile::parse(bytes);
  if (!file) return 0;
  for (const io::TensorInfo& info : file.value().tensors()) {
    Result<Tensor> tensor = file.value().read_f32(info);
    if (tensor) (void)require_finite(tensor.value().values(), info.name);
  }
  (void)file.value().find("missing");
  return 0;
}
