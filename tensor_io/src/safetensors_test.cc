#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gearkv/tensor_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace gearkv {
namespace {

using tensor_io_testing::Code;
using tensor_io_testing::RandomTensor;
using ::testing::HasSubstr;

// A file written by the reference `safetensors` Python package layout: 8-byte length, JSON,
// data. {"a": F16 [2], "b": BF16 [1]} with metadata.
TEST(SafetensorsTest, ParsesHandWrittenFile) {
  std::string json =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},)"
      R"("a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})";
  std::string file;
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>((json.size() >> (8 * i)) & 0xff));
  file += json + absl::HexStringToBytes("003c00c0803f");
  auto f = ParseSafetensors(file);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->tensors.size(), 2u);
  EXPECT_EQ(f->tensors[0].first, "a");  // ordered by data offset
  EXPECT_EQ(f->tensors[0].second.dtype, DType::kFloat16);
  EXPECT_EQ(absl::BytesToHexString(f->tensors[0].second.data), "003c00c0");
  EXPECT_EQ(f->tensors[1].first, "b");
  EXPECT_EQ(f->tensors[1].second.dtype, DType::kBFloat16);
  EXPECT_EQ(absl::BytesToHexString(f->tensors[1].second.data), "803f");
  EXPECT_EQ(f->metadata.at("format"), "pt");
}

TEST(SafetensorsTest, RoundTripsEveryDType) {
  SafetensorsFile file;
  file.tensors.emplace_back("k", RandomTensor(DType::kFloat16, {2, 2, 4, 8}, 1));
  file.tensors.emplace_back("v", RandomTensor(DType::kBFloat16, {3, 2, 1, 4, 8}, 2));
  file.tensors.emplace_back("w", RandomTensor(DType::kFloat32, {5}, 3));
  file.tensors.emplace_back("empty", RandomTensor(DType::kFloat32, {0, 3}, 4));
  file.metadata["namespace"] = "llama";
  auto bytes = SerializeSafetensors(file);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes->data(), 8);
  EXPECT_EQ(header_len % 8, 0u);
  auto back = ParseSafetensors(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->tensors.size(), 4u);
  EXPECT_EQ(back->metadata, file.metadata);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back->tensors[i].first, file.tensors[i].first);
    EXPECT_EQ(back->tensors[i].second.dtype, file.tensors[i].second.dtype);
    EXPECT_EQ(back->tensors[i].second.dims, file.tensors[i].second.dims);
    EXPECT_EQ(back->tensors[i].second.data, file.tensors[i].second.data);
  }
}

TEST(SafetensorsTest, RefusesBadNamesAndSizesOnWrite) {
  for (std::string name : {"", "__metadata__"}) {
    SafetensorsFile f;
    f.tensors.emplace_back(name, RandomTensor(DType::kFloat16, {2}, 1));
    EXPECT_EQ(Code(SerializeSafetensors(f).status()), absl::StatusCode::kInvalidArgument);
  }
  SafetensorsFile dup;
  dup.tensors.emplace_back("x", RandomTensor(DType::kFloat16, {2}, 1));
  dup.tensors.emplace_back("x", RandomTensor(DType::kFloat16, {2}, 1));
  EXPECT_THAT(SerializeSafetensors(dup).status().message(), HasSubstr("repeated"));
  SafetensorsFile short_data;
  short_data.tensors.emplace_back("x", RandomTensor(DType::kFloat16, {2}, 1));
  short_data.tensors[0].second.data.resize(3);
  EXPECT_EQ(Code(SerializeSafetensors(short_data).status()), absl::StatusCode::kInvalidArgument);
}

TEST(SafetensorsTest, RejectsEveryTruncation) {
  SafetensorsFile file;
  file.tensors.emplace_back("kv", RandomTensor(DType::kFloat16, {1, 2, 1, 4, 8}, 9));
  std::string bytes = *SerializeSafetensors(file);
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto f = ParseSafetensors(std::string_view(bytes).substr(0, len));
    ASSERT_FALSE(f.ok()) << "length " << len;
    EXPECT_EQ(Code(f.status()), absl::StatusCode::kInvalidArgument) << f.status();
  }
}

std::string SafetensorsWithHeader(std::string_view json, std::string_view data) {
  std::string file;
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>((json.size() >> (8 * i)) & 0xff));
  return file + std::string(json) + std::string(data);
}

TEST(SafetensorsTest, RejectsCorruptHeaders) {
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]})", "not valid JSON"},
      {R"([1,2])", "not a JSON object"},
      {R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", "'I64' is not supported"},
      {R"({"a":{"shape":[2],"data_offsets":[0,4]}})", "missing string 'dtype'"},
      {R"({"a":{"dtype":"F16","data_offsets":[0,4]}})", "missing array 'shape'"},
      {R"({"a":{"dtype":"F16","shape":[2]}})", "data_offsets"},
      {R"({"a":{"dtype":"F16","shape":[-2],"data_offsets":[0,4]}})", "non-negative"},
      {R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,400]}})", "outside the data section"},
      {R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[4,0]}})", "outside the data section"},
      {R"({"a":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}})", "needs 6"},
      {R"({"a":{"dtype":"F16","shape":[4294967296,4294967296],"data_offsets":[0,4]}})",
       "overflows"},
      {R"({"__metadata__":{"x":1}})", "not a string"},
      {R"({"a":7})", "not an object"},
  };
  for (const auto& c : cases) {
    auto f = ParseSafetensors(SafetensorsWithHeader(c.json, "abcdefgh"));
    ASSERT_FALSE(f.ok()) << c.json;
    EXPECT_EQ(Code(f.status()), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(f.status().message(), HasSubstr(c.message)) << c.json;
  }
  std::string huge(8, '\xff');
  EXPECT_THAT(ParseSafetensors(huge).status().message(), HasSubstr("exceeds the limit"));
}

TEST(SafetensorsTest, RandomCorruptionNeverCrashes) {
  SafetensorsFile file;
  file.tensors.emplace_back("kv", RandomTensor(DType::kBFloat16, {2, 2, 2, 4, 8}, 11));
  const std::string good = *SerializeSafetensors(file);
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::mt19937 rng(seed);
  for (int i = 0; i < 2000; ++i) {
    std::string bad = good;
    const size_t header_end = 8 + 200 < bad.size() ? 8 + 200 : bad.size();
    bad[rng() % header_end] = static_cast<char>(rng() & 0xff);
    auto f = ParseSafetensors(bad);  // any answer is fine; it must not crash
    if (!f.ok()) {
      EXPECT_EQ(Code(f.status()), absl::StatusCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace gearkv
