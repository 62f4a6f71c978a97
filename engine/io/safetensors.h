// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON header, then the
// data section. The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__" string map.
//
// parse() validates the whole index against the file before anything is read: header length,
// JSON syntax, duplicate names, dtype names, shapes, offsets inside the data section, byte counts
// equal to shape × dtype size, and tensors covering the data section without overlaps or holes
// (the format forbids holes). All arithmetic is overflow-checked. Errors are BAD_MODEL naming the
// tensor and the problem; reading a tensor of a type the engine does not convert gives
// UNSUPPORTED_DTYPE. F32, F16 and BF16 convert to f32.
//
// I8 is int8 weight-only quantisation with one scale per row (output channel): an I8 tensor `W`
// of shape [rows, ...] needs an F32 companion `W.quant_scale` of shape [rows], finite and >= 0,
// and reads as W[r, ...] = float(q) * scale[r] (one float32 multiply, as numpy float32 computes
// it). A missing or malformed companion is BAD_MODEL naming `W`. Weights are dequantised when
// read, so a model keeps the f32 speed and memory of its F32 file; only the download shrinks.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace gyre::io {

struct TensorInfo {
  std::string name;
  std::string dtype;              // as written in the file: "F32", "BF16", "I64", ...
  std::uint32_t dtype_bytes = 0;  // bytes per element
  Shape shape;
  std::uint64_t element_count = 0;
  std::uint64_t data_begin = 0;  // byte range inside the data section
  std::uint64_t data_end = 0;
  // True for the types read_f32 converts: F32, F16, BF16, and I8 with its row scales.
  bool convertible_to_f32() const;
};

// The largest JSON header accepted (the reference implementation's limit too).
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

class SafetensorsFile {
 public:
  // Validates `bytes` and indexes it. The file keeps a view: `bytes` must outlive it.
  static Result<SafetensorsFile> parse(std::span<const std::uint8_t> bytes);

  // Tensors in file order (by data offset).
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorInfo* find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The tensor converted to f32 (NOT_FOUND for an unknown name).
  Result<Tensor> read_f32(std::string_view name) const;
  Result<Tensor> read_f32(const TensorInfo& info) const;
  // Converts into caller-owned memory of exactly info.element_count floats (e.g. a workspace).
  // An I8 tensor's scales are looked up in this file by name.
  Status read_f32_into(const TensorInfo& info, std::span<float> out) const;

 private:
  std::span<const std::uint8_t> data_;  // the data section
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;

  Status read_row_scales(const TensorInfo& info, std::vector<float>& scales) const;
};

// The companion tensor holding the row scales of an I8 tensor.
inline std::string quant_scale_name(std::string_view name) {
  return std::string(name) + ".quant_scale";
}

}  // namespace gyre::io
