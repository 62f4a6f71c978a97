// The safetensors reader against valid files and files that lie. Runs natively and in both wasm
// builds; after every rejected file the reader must still load a valid one.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "io/float16.h"
#include "io/safetensors.h"
#include "safetensors_writer.h"

using gyre::ErrorCode;
using gyre::io::SafetensorsFile;
using gyre::test::raw_bytes;
using gyre::test::safetensors_bytes;

namespace {

// Two F32 tensors, one F16 and one BF16, with metadata; 8-byte aligned header like real writers.
std::vector<std::uint8_t> valid_file() {
  std::vector<std::uint8_t> data =
      raw_bytes(std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f});
  const std::vector<std::uint8_t> halfs = raw_bytes(std::vector<std::uint16_t>{0x3c00, 0xc000});
  const std::vector<std::uint8_t> bf16s = raw_bytes(std::vector<std::uint16_t>{0x3f80, 0xc049});
  const std::vector<std::uint8_t> bias = raw_bytes(std::vector<float>{0.5f});
  data.insert(data.end(), halfs.begin(), halfs.end());
  data.insert(data.end(), bf16s.begin(), bf16s.end());
  data.insert(data.end(), bias.begin(), bias.end());
  std::string header = R"({"__metadata__":{"format":"pt","note":"test"},)"
                       R"("weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                       R"("half":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},)"
                       R"("brain":{"dtype":"BF16","shape":[2],"data_offsets":[28,32]},)"
                       R"("bias":{"dtype":"F32","shape":[],"data_offsets":[32,36]}})";
  while (header.size() % 8 != 0) header += ' ';
  return safetensors_bytes(header, data);
}

// The reader must still work after any rejection.
void check_valid_file_loads() {
  const std::vector<std::uint8_t> bytes = valid_file();
  auto file = SafetensorsFile::parse(bytes);
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  auto weight = file->read_f32("weight");
  REQUIRE(weight.is_ok());
  CHECK(weight->values()[5] == 8.0f);
}

// Parses `bytes`, expects `code`, and a message containing `fragment`.
void check_rejected(const std::vector<std::uint8_t>& bytes, ErrorCode code,
                    const std::string& fragment) {
  auto file = SafetensorsFile::parse(bytes);
  REQUIRE_FALSE(file.is_ok());
  CHECK(file.status().code() == code);
  CHECK_MESSAGE(file.status().message().find(fragment) != std::string::npos,
                file.status().to_string());
  check_valid_file_loads();
}

std::vector<std::uint8_t> zeros(std::size_t n) {
  return std::vector<std::uint8_t>(n, 0);
}

}  // namespace

TEST_CASE("safetensors: reads F32, F16 and BF16 as f32, with shapes and metadata") {
  const std::vector<std::uint8_t> bytes = valid_file();
  auto file = SafetensorsFile::parse(bytes);
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  REQUIRE(file->tensors().size() == 4);
  // File order is data order.
  CHECK(file->tensors()[0].name == "weight");
  CHECK(file->tensors()[3].name == "bias");
  CHECK(file->metadata().at("format") == "pt");

  auto weight = file->read_f32("weight");
  REQUIRE(weight.is_ok());
  CHECK(weight->shape() == gyre::Shape{2, 3});
  CHECK(std::vector<float>(weight->values().begin(), weight->values().end()) ==
        std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f});

  auto half = file->read_f32("half");
  REQUIRE(half.is_ok());
  CHECK(half->values()[0] == 1.0f);
  CHECK(half->values()[1] == -2.0f);

  auto brain = file->read_f32("brain");
  REQUIRE(brain.is_ok());
  CHECK(brain->values()[0] == 1.0f);
  CHECK(brain->values()[1] == -3.140625f);

  auto bias = file->read_f32("bias");
  REQUIRE(bias.is_ok());
  CHECK(bias->rank() == 0);
  CHECK(bias->size() == 1);
  CHECK(bias->values()[0] == 0.5f);
}

TEST_CASE("safetensors: every float16 bit pattern converts exactly") {
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    const int exponent = static_cast<int>((bits >> 10) & 0x1f);
    const int mantissa = static_cast<int>(bits & 0x3ff);
    const float sign = (bits & 0x8000) ? -1.0f : 1.0f;
    const float converted = gyre::io::f16_to_f32(static_cast<std::uint16_t>(bits));
    if (exponent == 31) {
      if (mantissa == 0) {
        CHECK(converted == sign * INFINITY);
      } else {
        CHECK(std::isnan(converted));
      }
      continue;
    }
    const float expected = exponent == 0
                               ? sign * std::ldexp(static_cast<float>(mantissa), -24)
                               : sign * std::ldexp(1.0f + mantissa / 1024.0f, exponent - 15);
    if (converted != expected || std::signbit(converted) != std::signbit(expected)) {
      FAIL("f16 0x" << std::hex << bits << " gave " << converted << ", expected " << expected);
    }
  }
}

TEST_CASE("safetensors: zero-element tensors and an empty file index") {
  auto empty = SafetensorsFile::parse(safetensors_bytes("{}", {}));
  REQUIRE(empty.is_ok());
  CHECK(empty->tensors().empty());

  auto nothing = SafetensorsFile::parse(
      safetensors_bytes(R"({"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}})", {}));
  REQUIRE_MESSAGE(nothing.is_ok(), nothing.status().to_string());
  auto tensor = nothing->read_f32("e");
  REQUIRE(tensor.is_ok());
  CHECK(tensor->size() == 0);
  CHECK(tensor->shape() == gyre::Shape{0, 3});
}

TEST_CASE("safetensors: unknown names and unconverted dtypes are typed errors") {
  auto file = SafetensorsFile::parse(
      safetensors_bytes(R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", zeros(16)));
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  auto ids = file->read_f32("ids");
  REQUIRE_FALSE(ids.is_ok());
  CHECK(ids.status().code() == ErrorCode::kUnsupportedDtype);
  CHECK(ids.status().message().find("'ids'") != std::string::npos);
  CHECK(ids.status().message().find("I64") != std::string::npos);

  auto missing = file->read_f32("nope");
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().code() == ErrorCode::kNotFound);
  check_valid_file_loads();
}

TEST_CASE("safetensors: files that lie about their header give BAD_MODEL") {
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  SUBCASE("header length 2^60") {
    check_rejected(safetensors_bytes(header, zeros(4), 1ull << 60), ErrorCode::kBadModel,
                   "header length 1152921504606846976");
  }
  SUBCASE("header length 2^64 - 1") {
    check_rejected(safetensors_bytes(header, zeros(4), ~0ull), ErrorCode::kBadModel, "exceeds");
  }
  SUBCASE("header length one past the file") {
    check_rejected(safetensors_bytes(header, zeros(4), header.size() + 5), ErrorCode::kBadModel,
                   "exceeds");
  }
  SUBCASE("header length zero") {
    check_rejected(safetensors_bytes(header, zeros(4), 0), ErrorCode::kBadModel, "JSON object");
  }
  SUBCASE("shorter than the length field") {
    check_rejected({1, 2, 3}, ErrorCode::kBadModel, "8-byte header length");
  }
  SUBCASE("not JSON") {
    check_rejected(safetensors_bytes("{this is not json}", {}), ErrorCode::kBadModel,
                   "not valid JSON");
  }
  SUBCASE("an HTML page") {
    check_rejected(safetensors_bytes("<!DOCTYPE html><html></html>", {}), ErrorCode::kBadModel,
                   "JSON object");
  }
  SUBCASE("JSON but not an object") {
    check_rejected(safetensors_bytes("{\"w\": 1} trailing", {}), ErrorCode::kBadModel,
                   "not valid JSON");
    check_rejected(safetensors_bytes(R"({"w":[1,2]})", {}), ErrorCode::kBadModel,
                   "not a JSON object");
  }
  SUBCASE("nesting a hundred thousand levels deep") {
    std::string deep = "{\"w\":";
    deep += std::string(100000, '[');
    deep += std::string(100000, ']');
    deep += "}";
    check_rejected(safetensors_bytes(deep, {}), ErrorCode::kBadModel, "'w'");
  }
  SUBCASE("the same tensor twice") {
    check_rejected(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                     zeros(8)),
                   ErrorCode::kBadModel, "'w' appears twice");
  }
  SUBCASE("metadata that is not strings") {
    check_rejected(safetensors_bytes(R"({"__metadata__":{"n":3}})", {}), ErrorCode::kBadModel,
                   "metadata 'n'");
  }
}

TEST_CASE("safetensors: tensors that lie give BAD_MODEL naming the tensor") {
  auto file_with = [](const std::string& entry, std::size_t data_bytes) {
    return safetensors_bytes("{\"wq\":" + entry + "}", zeros(data_bytes));
  };
  SUBCASE("wrong dtype string") {
    check_rejected(file_with(R"({"dtype":"F33","shape":[1],"data_offsets":[0,4]})", 4),
                   ErrorCode::kBadModel, "tensor 'wq': unknown dtype 'F33'");
    check_rejected(file_with(R"({"dtype":32,"shape":[1],"data_offsets":[0,4]})", 4),
                   ErrorCode::kBadModel, "tensor 'wq': missing or non-string \"dtype\"");
  }
  SUBCASE("missing fields") {
    check_rejected(file_with(R"({"dtype":"F32","data_offsets":[0,4]})", 4), ErrorCode::kBadModel,
                   "'wq': \"shape\"");
    check_rejected(file_with(R"({"dtype":"F32","shape":[1]})", 4), ErrorCode::kBadModel,
                   "'wq': \"data_offsets\"");
    check_rejected(file_with("[1,2]", 4), ErrorCode::kBadModel, "'wq': entry is not");
  }
  SUBCASE("shapes that are not non-negative integers") {
    check_rejected(file_with(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4),
                   ErrorCode::kBadModel, "'wq': \"shape\"");
    check_rejected(file_with(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4),
                   ErrorCode::kBadModel, "'wq': \"shape\"");
    check_rejected(
        file_with(R"({"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]})", 4),
        ErrorCode::kBadModel, "'wq': \"shape\"");
  }
  SUBCASE("a shape whose byte count overflows 64 bits") {
    check_rejected(
        file_with(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]})", 4),
        ErrorCode::kBadModel, "'wq': shape [4294967296, 4294967296] overflows");
    check_rejected(
        file_with(R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]})", 4),
        ErrorCode::kBadModel, "overflows");
  }
  SUBCASE("offsets past the end") {
    check_rejected(file_with(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 4),
                   ErrorCode::kBadModel,
                   "'wq': data_offsets [0, 8] end past the data section (4 bytes)");
    check_rejected(
        file_with(
            R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]})",
            4),
        ErrorCode::kBadModel, "'wq'");
  }
  SUBCASE("offsets that run backwards or are malformed") {
    check_rejected(file_with(R"({"dtype":"F32","shape":[1],"data_offsets":[4,0]})", 4),
                   ErrorCode::kBadModel, "'wq': data_offsets [4, 0] run backwards");
    check_rejected(file_with(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})", 4),
                   ErrorCode::kBadModel, "'wq': \"data_offsets\"");
    check_rejected(file_with(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", 4),
                   ErrorCode::kBadModel, "'wq': \"data_offsets\"");
  }
  SUBCASE("shape and byte count disagreeing") {
    check_rejected(file_with(R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,20]})", 20),
                   ErrorCode::kBadModel,
                   "'wq': shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] hold 20");
    check_rejected(file_with(R"({"dtype":"BF16","shape":[3],"data_offsets":[0,12]})", 12),
                   ErrorCode::kBadModel, "needs 6 bytes");
  }
  SUBCASE("overlapping tensors") {
    check_rejected(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                     zeros(12)),
                   ErrorCode::kBadModel, "tensors 'a' and 'b' overlap");
    check_rejected(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                     zeros(8)),
                   ErrorCode::kBadModel, "overlap");
  }
  SUBCASE("holes and trailing bytes") {
    check_rejected(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                     zeros(12)),
                   ErrorCode::kBadModel, "bytes 4 to 8 of the data section, before tensor 'b'");
    check_rejected(file_with(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})", 9),
                   ErrorCode::kBadModel, "5 bytes after the last tensor");
  }
}

TEST_CASE("safetensors: a file truncated at every byte is rejected, never read past its end") {
  const std::vector<std::uint8_t> whole = valid_file();
  for (std::size_t length = 0; length < whole.size(); ++length) {
    // A copy of exactly `length` bytes, so reading past it would be caught by sanitizers.
    const std::vector<std::uint8_t> cut(whole.begin(), whole.begin() + static_cast<long>(length));
    auto file = SafetensorsFile::parse(cut);
    if (file.is_ok()) FAIL("truncated at byte " << length << " of " << whole.size() << " parsed");
    CHECK(file.status().code() == ErrorCode::kBadModel);
  }
  check_valid_file_loads();
}

TEST_CASE("safetensors: any single corrupted byte gives a file or a typed error") {
  const std::vector<std::uint8_t> whole = valid_file();
  std::uint32_t state = 12345;
  for (std::size_t position = 0; position < whole.size(); ++position) {
    for (int trial = 0; trial < 4; ++trial) {
      state = state * 1664525u + 1013904223u;
      std::vector<std::uint8_t> corrupted = whole;
      corrupted[position] = static_cast<std::uint8_t>(state >> 24);
      auto file = SafetensorsFile::parse(corrupted);
      if (!file.is_ok()) {
        CHECK(file.status().code() == ErrorCode::kBadModel);
        continue;
      }
      for (const auto& info : file->tensors()) {
        auto tensor = file->read_f32(info);
        if (!tensor.is_ok()) CHECK(tensor.status().code() == ErrorCode::kUnsupportedDtype);
      }
    }
  }
  check_valid_file_loads();
}

namespace {

// An I8 matrix [rows, 2] and its F32 row scales, `scale_header` describing the scales.
std::vector<std::uint8_t> int8_file(const std::vector<float>& scales,
                                    const std::string& scale_dtype,
                                    const std::string& scale_shape) {
  const std::vector<std::int8_t> quantised{127, -127, 3, 0, -1, 64};
  const std::size_t rows = quantised.size() / 2;
  std::vector<std::uint8_t> data = raw_bytes(quantised);
  data.resize(8);  // pad the matrix so the scales start aligned, as real writers may not
  const std::vector<std::uint8_t> scale_bytes = raw_bytes(scales);
  data.insert(data.end(), scale_bytes.begin(), scale_bytes.end());
  const std::string header =
      R"({"w":{"dtype":"I8","shape":[)" + std::to_string(rows) + R"(,2],"data_offsets":[0,6]},)" +
      R"("pad":{"dtype":"U8","shape":[2],"data_offsets":[6,8]},)" +
      R"("w.quant_scale":{"dtype":")" + scale_dtype + R"(","shape":)" + scale_shape +
      R"(,"data_offsets":[8,)" + std::to_string(8 + scale_bytes.size()) + "]}}";
  return safetensors_bytes(header, data);
}

void check_int8_rejected(const std::vector<std::uint8_t>& bytes, const std::string& fragment) {
  auto file = SafetensorsFile::parse(bytes);
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  auto w = file->read_f32("w");
  REQUIRE_FALSE(w.is_ok());
  CHECK(w.status().code() == ErrorCode::kBadModel);
  CHECK_MESSAGE(w.status().message().find("'w'") != std::string::npos, w.status().to_string());
  CHECK_MESSAGE(w.status().message().find(fragment) != std::string::npos, w.status().to_string());
  std::vector<float> out(file->find("w")->element_count);
  CHECK(file->read_f32_into(*file->find("w"), out).code() == ErrorCode::kBadModel);
  check_valid_file_loads();
}

}  // namespace

TEST_CASE("safetensors: I8 with per-row scales reads as float(q) * scale[row] in float32") {
  // Scales that are not powers of two, so the product rounds: float32 multiply, as numpy does.
  const std::vector<float> scales{0.0123f, 1.0f / 127.0f, 0.0f};
  const std::vector<std::uint8_t> bytes = int8_file(scales, "F32", "[3]");
  auto file = SafetensorsFile::parse(bytes);
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  CHECK(file->find("w")->convertible_to_f32());
  auto w = file->read_f32("w");
  REQUIRE_MESSAGE(w.is_ok(), w.status().to_string());
  CHECK(w->shape() == gyre::Shape{3, 2});
  const std::vector<float> expected{127.0f * scales[0], -127.0f * scales[0], 3.0f * scales[1],
                                    0.0f * scales[1],   -1.0f * scales[2],   64.0f * scales[2]};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK_MESSAGE(std::memcmp(&w->values()[i], &expected[i], 4) == 0,
                  i << ": " << w->values()[i] << " vs " << expected[i]);
  }
  // 127 * 0.0123f is 1.5621f rounded once, not the float64 product.
  CHECK(w->values()[0] == static_cast<float>(127.0f * 0.0123f));
  // The companion is an ordinary F32 tensor too.
  auto scale = file->read_f32("w.quant_scale");
  REQUIRE(scale.is_ok());
  CHECK(scale->values()[0] == scales[0]);

  std::vector<float> into(6);
  REQUIRE(file->read_f32_into(*file->find("w"), into).is_ok());
  CHECK(std::memcmp(into.data(), w->data(), 6 * sizeof(float)) == 0);
}

TEST_CASE("safetensors: I8 with a missing or malformed scale tensor gives BAD_MODEL naming it") {
  SUBCASE("no scale tensor") {
    const std::string header = R"({"w":{"dtype":"I8","shape":[2,2],"data_offsets":[0,4]}})";
    check_int8_rejected(safetensors_bytes(header, zeros(4)), "has no 'w.quant_scale'");
  }
  SUBCASE("scale of the wrong dtype") {
    check_int8_rejected(int8_file({0.0f, 0.0f, 0.0f}, "I32", "[3]"), "must be F32 [3]");
  }
  SUBCASE("scale of the wrong length") {
    check_int8_rejected(int8_file({1.0f, 1.0f}, "F32", "[2]"), "must be F32 [3]");
  }
  SUBCASE("scale of the wrong rank") {
    check_int8_rejected(int8_file({1.0f, 1.0f, 1.0f}, "F32", "[3,1]"), "must be F32 [3]");
  }
  SUBCASE("negative scale") {
    check_int8_rejected(int8_file({1.0f, -0.5f, 1.0f}, "F32", "[3]"), "row 1");
  }
  SUBCASE("NaN scale") {
    check_int8_rejected(int8_file({1.0f, 1.0f, std::nanf("")}, "F32", "[3]"), "finite");
  }
  SUBCASE("infinite scale") {
    check_int8_rejected(int8_file({INFINITY, 1.0f, 1.0f}, "F32", "[3]"), "row 0");
  }
  SUBCASE("a scalar I8 tensor has no rows to scale") {
    const std::string header = R"({"w":{"dtype":"I8","shape":[],"data_offsets":[0,1]}})";
    check_int8_rejected(safetensors_bytes(header, zeros(1)), "no rows");
  }
}

TEST_CASE("safetensors: an I8 tensor with zero rows or columns reads as empty") {
  const std::string header = R"({"w":{"dtype":"I8","shape":[2,0],"data_offsets":[0,0]},)"
                             R"("w.quant_scale":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::vector<std::uint8_t> bytes =
      safetensors_bytes(header, raw_bytes(std::vector<float>{1, 2}));
  auto file = SafetensorsFile::parse(bytes);
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  auto w = file->read_f32("w");
  REQUIRE_MESSAGE(w.is_ok(), w.status().to_string());
  CHECK(w->size() == 0);
}
