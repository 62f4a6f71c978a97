#include "io/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "io/float16.h"

namespace gyre::io {
namespace {

using nlohmann::json;

struct DtypeSize {
  std::string_view name;
  std::uint32_t bytes;
};

// Every dtype the format defines; F32, F16, BF16 and (with row scales) I8 convert to f32.
constexpr DtypeSize kDtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
    {"U64", 8}, {"I32", 4}, {"U32", 4},  {"I16", 2},     {"U16", 2},
    {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

Status bad_model(std::string message) {
  return Status(ErrorCode::kBadModel, std::move(message));
}

std::string quote_name(std::string_view name) {
  std::string text = "'";
  // Names come from untrusted files: keep messages printable and bounded.
  for (std::size_t i = 0; i < name.size() && i < 200; ++i) {
    const char c = name[i];
    text += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (name.size() > 200) text += "...";
  return text + "'";
}

// Reads a JSON array of non-negative integers into `out`.
bool read_unsigned_array(const json& value, std::vector<std::uint64_t>& out) {
  if (!value.is_array()) return false;
  out.clear();
  for (const json& item : value) {
    if (!item.is_number_unsigned()) return false;
    out.push_back(item.get<std::uint64_t>());
  }
  return true;
}

Status parse_tensor_entry(const std::string& name, const json& entry, std::uint64_t data_size,
                          TensorInfo& info) {
  const std::string tensor = "tensor " + quote_name(name);
  if (name.empty()) return bad_model("a tensor has an empty name");
  if (!entry.is_object()) return bad_model(tensor + ": entry is not a JSON object");

  const auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) {
    return bad_model(tensor + ": missing or non-string \"dtype\"");
  }
  info.name = name;
  info.dtype = dtype->get<std::string>();
  const auto known = std::find_if(std::begin(kDtypes), std::end(kDtypes),
                                  [&](const DtypeSize& d) { return d.name == info.dtype; });
  if (known == std::end(kDtypes)) {
    return bad_model(tensor + ": unknown dtype " + quote_name(info.dtype) +
                     " (safetensors dtypes are F64, F32, F16, BF16, I64, ..., BOOL)");
  }
  info.dtype_bytes = known->bytes;

  const auto shape = entry.find("shape");
  std::vector<std::uint64_t> dims;
  if (shape == entry.end() || !read_unsigned_array(*shape, dims)) {
    return bad_model(tensor + ": \"shape\" must be an array of non-negative integers");
  }
  info.shape.clear();
  for (std::uint64_t dim : dims) {
    if (dim > static_cast<std::uint64_t>(INT64_MAX)) {
      return bad_model(tensor + ": dimension " + std::to_string(dim) + " is too large");
    }
    info.shape.push_back(static_cast<std::int64_t>(dim));
  }
  const std::optional<std::uint64_t> count = checked_element_count(info.shape);
  std::uint64_t byte_count = 0;
  if (!count || __builtin_mul_overflow(*count, std::uint64_t{info.dtype_bytes}, &byte_count)) {
    return bad_model(tensor + ": shape " + shape_to_string(info.shape) +
                     " overflows 64-bit byte counts");
  }
  info.element_count = *count;

  const auto offsets = entry.find("data_offsets");
  std::vector<std::uint64_t> range;
  if (offsets == entry.end() || !read_unsigned_array(*offsets, range) || range.size() != 2) {
    return bad_model(tensor + ": \"data_offsets\" must be [begin, end], non-negative integers");
  }
  info.data_begin = range[0];
  info.data_end = range[1];
  const std::string span_text =
      "data_offsets [" + std::to_string(range[0]) + ", " + std::to_string(range[1]) + "]";
  if (info.data_begin > info.data_end)
    return bad_model(tensor + ": " + span_text + " run backwards");
  if (info.data_end > data_size) {
    return bad_model(tensor + ": " + span_text + " end past the data section (" +
                     std::to_string(data_size) + " bytes): the file is truncated or lies");
  }
  if (info.data_end - info.data_begin != byte_count) {
    return bad_model(tensor + ": shape " + shape_to_string(info.shape) + " of " + info.dtype +
                     " needs " + std::to_string(byte_count) + " bytes but " + span_text + " hold " +
                     std::to_string(info.data_end - info.data_begin));
  }
  return Status::ok();
}

}  // namespace

bool TensorInfo::convertible_to_f32() const {
  return dtype == "F32" || dtype == "F16" || dtype == "BF16" || dtype == "I8";
}

Result<SafetensorsFile> SafetensorsFile::parse(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 8) {
    return bad_model("file is " + std::to_string(bytes.size()) +
                     " bytes; a safetensors file starts with an 8-byte header length");
  }
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i)
    header_size = (header_size << 8) | bytes[static_cast<std::size_t>(i)];
  const std::uint64_t available = bytes.size() - 8;
  if (header_size > available) {
    return bad_model("header length " + std::to_string(header_size) + " exceeds the " +
                     std::to_string(available) +
                     " bytes after it: truncated, or not a safetensors file");
  }
  if (header_size > kMaxSafetensorsHeaderBytes) {
    return bad_model("header length " + std::to_string(header_size) + " is over the " +
                     format_bytes(kMaxSafetensorsHeaderBytes) + " limit");
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes.data() + 8);
  const char* header_end = header_begin + header_size;
  if (header_size == 0 || header_begin[0] != '{') {
    return bad_model("the header is not a JSON object (it must start with '{')");
  }

  // Duplicate names at the top level would silently shadow each other: reject them.
  std::set<std::string> seen_names;
  std::string duplicate;
  const json::parser_callback_t reject_duplicates = [&](int depth, json::parse_event_t event,
                                                        json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      if (!seen_names.insert(parsed.get<std::string>()).second && duplicate.empty()) {
        duplicate = parsed.get<std::string>();
      }
    }
    return true;
  };
  const json header = json::parse(header_begin, header_end, reject_duplicates,
                                  /*allow_exceptions=*/false);
  if (header.is_discarded()) return bad_model("the header is not valid JSON");
  if (!header.is_object()) return bad_model("the header is not a JSON object");
  if (!duplicate.empty()) return bad_model("tensor " + quote_name(duplicate) + " appears twice");

  SafetensorsFile file;
  file.data_ = bytes.subspan(8 + static_cast<std::size_t>(header_size));
  const std::uint64_t data_size = file.data_.size();
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) return bad_model("\"__metadata__\" is not a JSON object");
      for (const auto& [meta_key, meta_value] : value.items()) {
        if (!meta_value.is_string()) {
          return bad_model("metadata " + quote_name(meta_key) + " is not a string");
        }
        file.metadata_[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    TensorInfo info;
    if (Status status = parse_tensor_entry(key, value, data_size, info); !status.is_ok()) {
      return status;
    }
    file.tensors_.push_back(std::move(info));
  }

  // The format requires the tensors to tile the data section exactly: no overlaps, no holes.
  std::stable_sort(
      file.tensors_.begin(), file.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
        return a.data_begin != b.data_begin ? a.data_begin < b.data_begin : a.data_end < b.data_end;
      });
  std::uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& info : file.tensors_) {
    if (info.data_begin < covered) {
      return bad_model("tensors " + quote_name(previous->name) + " and " + quote_name(info.name) +
                       " overlap (bytes " + std::to_string(info.data_begin) + " to " +
                       std::to_string(covered) + " of the data section)");
    }
    if (info.data_begin > covered) {
      return bad_model("bytes " + std::to_string(covered) + " to " +
                       std::to_string(info.data_begin) + " of the data section, before tensor " +
                       quote_name(info.name) + ", belong to no tensor");
    }
    covered = info.data_end;
    previous = &info;
  }
  if (covered != data_size) {
    return bad_model("the data section has " + std::to_string(data_size - covered) +
                     " bytes after the last tensor that belong to no tensor");
  }
  return file;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  for (const TensorInfo& info : tensors_) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

Result<Tensor> SafetensorsFile::read_f32(std::string_view name) const {
  const TensorInfo* info = find(name);
  if (info == nullptr) {
    return Result<Tensor>(ErrorCode::kNotFound, "no tensor " + quote_name(name) + " in the file");
  }
  return read_f32(*info);
}

Result<Tensor> SafetensorsFile::read_f32(const TensorInfo& info) const {
  if (!info.convertible_to_f32()) {
    return Result<Tensor>(ErrorCode::kUnsupportedDtype,
                          "tensor " + quote_name(info.name) + " is " + info.dtype +
                              "; the engine reads F32, F16, BF16 and I8 with row scales");
  }
  Result<Tensor> tensor = Tensor::zeros(info.shape, "tensor " + quote_name(info.name));
  if (!tensor) return tensor;
  if (Status status = read_f32_into(info, tensor->values()); !status.is_ok()) return status;
  return tensor;
}

Status SafetensorsFile::read_f32_into(const TensorInfo& info, std::span<float> out) const {
  if (!info.convertible_to_f32()) {
    return Status(ErrorCode::kUnsupportedDtype,
                  "tensor " + quote_name(info.name) + " is " + info.dtype +
                      "; the engine reads F32, F16, BF16 and I8 with row scales");
  }
  if (out.size() != info.element_count) {
    return Status(ErrorCode::kBadArgument,
                  "tensor " + quote_name(info.name) + " has " + std::to_string(info.element_count) +
                      " elements but the destination holds " + std::to_string(out.size()));
  }
  // `info` may come from another file: never trust its range against this one's data.
  std::uint64_t byte_count = 0;
  if (__builtin_mul_overflow(info.element_count, std::uint64_t{info.dtype_bytes}, &byte_count) ||
      info.data_end > data_.size() || info.data_begin > info.data_end ||
      info.data_end - info.data_begin != byte_count) {
    return Status(ErrorCode::kBadArgument,
                  "tensor " + quote_name(info.name) + " does not describe this file's data");
  }
  std::vector<float> scales;
  if (info.dtype == "I8") {
    if (Status status = read_row_scales(info, scales); !status.is_ok()) return status;
  }
  const std::size_t count = out.size();
  if (count == 0) return Status::ok();  // an empty tensor may have no data pointer at all
  const std::uint8_t* source = data_.data() + info.data_begin;
  // Offsets need not be aligned, so elements are read with memcpy (little-endian, like wasm).
  if (info.dtype == "F32") {
    std::memcpy(out.data(), source, count * sizeof(float));
  } else if (info.dtype == "F16") {
    for (std::size_t i = 0; i < count; ++i) {
      std::uint16_t half;
      std::memcpy(&half, source + 2 * i, 2);
      out[i] = f16_to_f32(half);
    }
  } else if (info.dtype == "BF16") {
    for (std::size_t i = 0; i < count; ++i) {
      std::uint16_t value;
      std::memcpy(&value, source + 2 * i, 2);
      out[i] = bf16_to_f32(value);
    }
  } else {
    const std::size_t row_length = count / scales.size();
    for (std::size_t row = 0; row < scales.size(); ++row) {
      const float scale = scales[row];
      const std::size_t begin = row * row_length;
      for (std::size_t i = begin; i < begin + row_length; ++i) {
        out[i] = static_cast<float>(static_cast<std::int8_t>(source[i])) * scale;
      }
    }
  }
  return Status::ok();
}

Status SafetensorsFile::read_row_scales(const TensorInfo& info, std::vector<float>& scales) const {
  const std::string tensor = "tensor " + quote_name(info.name);
  if (info.shape.empty()) {
    return bad_model(tensor + " is I8 with no rows: int8 weights need a scale per row");
  }
  const std::string scale_name = quant_scale_name(info.name);
  const TensorInfo* scale = find(scale_name);
  if (scale == nullptr) {
    return bad_model(tensor + " is I8 but the file has no " + quote_name(scale_name) +
                     " (F32, one scale per row)");
  }
  const Shape expected{info.shape[0]};
  if (scale->dtype != "F32" || scale->shape != expected) {
    return bad_model(tensor + " is I8 with shape " + shape_to_string(info.shape) + " but " +
                     quote_name(scale_name) + " is " + scale->dtype + " " +
                     shape_to_string(scale->shape) + "; it must be F32 " +
                     shape_to_string(expected));
  }
  scales.resize(static_cast<std::size_t>(scale->element_count));
  if (!scales.empty()) {
    std::memcpy(scales.data(), data_.data() + scale->data_begin, scales.size() * sizeof(float));
  }
  for (std::size_t row = 0; row < scales.size(); ++row) {
    if (!std::isfinite(scales[row]) || scales[row] < 0.0f) {
      return bad_model(tensor + ": row " + std::to_string(row) + " has scale " +
                       std::to_string(scales[row]) + " in " + quote_name(scale_name) +
                       "; scales must be finite and >= 0");
    }
  }
  return Status::ok();
}

}  // namespace gyre::io
