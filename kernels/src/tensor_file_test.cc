#include "gearkv/tensor_file.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv {
namespace {

using ::testing::HasSubstr;

absl::StatusCode Code(const absl::Status& s) { return s.code(); }

Tensor RandomTensor(DType dtype, std::vector<uint64_t> dims, uint32_t seed) {
  Tensor t;
  t.dtype = dtype;
  t.dims = std::move(dims);
  t.data.resize(t.NumElements() * DTypeSize(dtype));
  std::mt19937 rng(seed);
  for (char& c : t.data) c = static_cast<char>(rng() & 0xff);
  return t;
}

std::string TempPath(std::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/gearkv_tensor_file_test_", ::getpid(), "_",
                      absl::string_view(name.data(), name.size()));
}

// np.save(np.array([[1, -2, .5], [3, 65504, 0]], dtype=np.float16)) from NumPy 2.4.
std::string NumpyGoldenFp16() {
  std::string header =
      "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }" + std::string(58, ' ') + "\n";
  std::string out = std::string("\x93NUMPY\x01\x00", 8) + std::string(1, '\x76') + '\0' + header;
  out += absl::HexStringToBytes("003c00c000380042ff7b0000");
  return out;
}

TEST(NpyTest, ParsesNumpyGolden) {
  std::string file = NumpyGoldenFp16();
  ASSERT_EQ(file.size(), 140u);
  auto t = ParseNpy(file);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->dtype, DType::kFloat16);
  EXPECT_EQ(t->dims, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(absl::BytesToHexString(t->data), "003c00c000380042ff7b0000");
}

TEST(NpyTest, ParsesVersion2Fp32OneDim) {
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }" + std::string(58, ' ') + "\n";
  std::string file = absl::HexStringToBytes("934e554d5059020074000000") + header +
                     absl::HexStringToBytes("0000c03f00002040");
  auto t = ParseNpy(file);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->dtype, DType::kFloat32);
  EXPECT_EQ(t->dims, (std::vector<uint64_t>{2}));
  float v[2];
  std::memcpy(v, t->data.data(), 8);
  EXPECT_EQ(v[0], 1.5f);
  EXPECT_EQ(v[1], 2.5f);
}

TEST(NpyTest, RoundTripsFp16AndFp32) {
  for (DType dtype : {DType::kFloat16, DType::kFloat32}) {
    for (auto dims :
         std::vector<std::vector<uint64_t>>{{}, {7}, {2, 4, 3, 8}, {3, 2, 2, 5, 16}, {0, 4}}) {
      Tensor t = RandomTensor(dtype, dims, 42);
      auto bytes = SerializeNpy(t);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      // Header (magic .. '\n') is 64-byte aligned, as NumPy writes it.
      EXPECT_EQ((bytes->size() - t.data.size()) % 64, 0u);
      auto back = ParseNpy(*bytes);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(back->dtype, t.dtype);
      EXPECT_EQ(back->dims, t.dims);
      EXPECT_EQ(back->data, t.data);
    }
  }
}

TEST(NpyTest, RefusesBf16OnWrite) {
  auto s = SerializeNpy(RandomTensor(DType::kBFloat16, {2, 8}, 1)).status();
  EXPECT_EQ(Code(s), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("bfloat16"));
}

TEST(NpyTest, RefusesMismatchedDataOnWrite) {
  Tensor t = RandomTensor(DType::kFloat16, {2, 8}, 1);
  t.data.pop_back();
  EXPECT_EQ(Code(SerializeNpy(t).status()), absl::StatusCode::kInvalidArgument);
}

TEST(NpyTest, RejectsEveryTruncation) {
  std::string file = *SerializeNpy(RandomTensor(DType::kFloat16, {2, 3, 8}, 3));
  for (size_t len = 0; len < file.size(); ++len) {
    auto t = ParseNpy(std::string_view(file).substr(0, len));
    ASSERT_FALSE(t.ok()) << "length " << len;
    EXPECT_EQ(Code(t.status()), absl::StatusCode::kInvalidArgument) << t.status();
  }
}

TEST(NpyTest, RejectsBadHeaders) {
  struct Case {
    std::string dict;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", "'<i8' is not supported"},
      {"{'descr': '>f2', 'fortran_order': False, 'shape': (2,), }", "big-endian"},
      {"{'descr': '<f2', 'fortran_order': True, 'shape': (2,), }", "fortran_order"},
      {"{'descr': '<f2', 'fortran_order': False, }", "missing 'shape'"},
      {"{'fortran_order': False, 'shape': (2,), }", "missing 'descr'"},
      {"{'descr': '<f2', 'shape': (-2,), }", "non-negative dimension"},
      {"{'descr': '<f2', 'shape': (2, 3 }", "expected ',' or ')'"},
      {"{'descr': '<f2, 'shape': (2,), }", "expected ',' or '}'"},
      {"{'descr' '<f2', 'shape': (2,), }", "expected ':'"},
      {"{'descr': '<f2', 'shape': (4294967296, 4294967296, 4294967296), }", "overflows"},
      {"{'descr': '<f2', 'bogus': 1, 'shape': (2,), }", "unknown key 'bogus'"},
      {"['descr']", "expected '{'"},
  };
  for (const auto& c : cases) {
    std::string file = std::string("\x93NUMPY\x01\x00", 8);
    file.push_back(static_cast<char>(c.dict.size() + 1));
    file.push_back('\0');
    file += c.dict + "\n" + std::string(4, '\0');
    auto t = ParseNpy(file);
    ASSERT_FALSE(t.ok()) << c.dict;
    EXPECT_EQ(Code(t.status()), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(t.status().message(), HasSubstr(c.message)) << c.dict;
  }
}

TEST(NpyTest, RejectsBadMagicVersionAndTrailingBytes) {
  std::string good = *SerializeNpy(RandomTensor(DType::kFloat32, {4}, 5));
  std::string bad_magic = good;
  bad_magic[1] = 'X';
  EXPECT_THAT(ParseNpy(bad_magic).status().message(), HasSubstr("magic"));
  std::string bad_version = good;
  bad_version[6] = 9;
  EXPECT_THAT(ParseNpy(bad_version).status().message(), HasSubstr("version 9.0"));
  EXPECT_THAT(ParseNpy(good + "xx").status().message(), HasSubstr("2 unexpected bytes"));
  std::string huge_header = good;
  huge_header[6] = 2;  // v2: 4-byte length read from bytes 8..11 (garbage + dict start)
  EXPECT_EQ(Code(ParseNpy(huge_header).status()), absl::StatusCode::kInvalidArgument);
}

// ---- safetensors -----------------------------------------------------------------------------

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

// ---- KV views and files ----------------------------------------------------------------------

TEST(KvViewTest, FiveAndFourDimensional) {
  Tensor t5 = RandomTensor(DType::kFloat16, {3, 2, 4, 16, 8}, 1);
  auto v5 = AsKvView(t5);
  ASSERT_TRUE(v5.ok()) << v5.status();
  EXPECT_EQ(v5->shape, (TensorShape{3, 4, 16, 8}));
  EXPECT_EQ(v5->data, t5.data.data());
  EXPECT_EQ(v5->SizeBytes(), t5.data.size());

  Tensor t4 = RandomTensor(DType::kFloat32, {2, 4, 16, 8}, 2);
  auto v4 = AsMutableKvView(t4);
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->shape, (TensorShape{1, 4, 16, 8}));

  Tensor copy = TensorFromView(*v5);
  EXPECT_EQ(copy.dims, t5.dims);
  EXPECT_EQ(copy.data, t5.data);

  Tensor zeros = MakeKvTensor({2, 1, 4, 8}, DType::kBFloat16);
  EXPECT_EQ(zeros.dims, (std::vector<uint64_t>{2, 2, 1, 4, 8}));
  EXPECT_EQ(zeros.data, std::string(2 * 2 * 1 * 4 * 8 * 2, '\0'));
}

TEST(KvViewTest, RejectsNonKvShapes) {
  EXPECT_THAT(AsKvView(RandomTensor(DType::kFloat16, {2, 16, 8}, 1)).status().message(),
              HasSubstr("not a KV block"));
  EXPECT_THAT(AsKvView(RandomTensor(DType::kFloat16, {1, 3, 1, 16, 8}, 1)).status().message(),
              HasSubstr("K|V axis"));
  EXPECT_EQ(Code(AsKvView(RandomTensor(DType::kFloat16, {1, 2, 1, 16, 7}, 1)).status()),
            absl::StatusCode::kInvalidArgument);  // head_dim not a multiple of 8
  Tensor short_data = RandomTensor(DType::kFloat16, {1, 2, 1, 16, 8}, 1);
  short_data.data.resize(10);
  EXPECT_THAT(AsKvView(short_data).status().message(), HasSubstr("holds 10 bytes"));
}

TEST(TensorFileTest, WritesAndReadsBothFormats) {
  Tensor t = RandomTensor(DType::kFloat16, {2, 2, 2, 8, 16}, 7);
  for (std::string ext : {".npy", ".safetensors"}) {
    const std::string path = TempPath("rt" + ext);
    ASSERT_TRUE(WriteTensorFile(path, t, "", {{"key", "abc"}}).ok());
    auto back = ReadTensorFile(path);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->dims, t.dims);
    EXPECT_EQ(back->data, t.data);
    std::remove(path.c_str());
  }
}

TEST(TensorFileTest, PicksSafetensorsTensorByName) {
  SafetensorsFile file;
  file.tensors.emplace_back("k", RandomTensor(DType::kFloat16, {2}, 1));
  file.tensors.emplace_back("v", RandomTensor(DType::kFloat16, {3}, 2));
  const std::string path = TempPath("two.safetensors");
  ASSERT_TRUE(WriteFileBytesAtomically(path, *SerializeSafetensors(file)).ok());
  EXPECT_THAT(ReadTensorFile(path).status().message(), HasSubstr("pick one of [k, v]"));
  EXPECT_THAT(ReadTensorFile(path, "x").status().message(), HasSubstr("no tensor 'x'"));
  auto v = ReadTensorFile(path, "v");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->dims, (std::vector<uint64_t>{3}));
  std::remove(path.c_str());
}

TEST(TensorFileTest, ReportsFileErrors) {
  EXPECT_EQ(Code(ReadTensorFile("/nonexistent/x.npy").status()), absl::StatusCode::kNotFound);
  EXPECT_EQ(Code(ReadTensorFile("x.txt").status()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(ReadTensorFile("x.npy", "name").status()), absl::StatusCode::kInvalidArgument);
  const std::string path = TempPath("garbage.npy");
  ASSERT_TRUE(WriteFileBytesAtomically(path, "not a tensor").ok());
  auto s = ReadTensorFile(path).status();
  EXPECT_EQ(Code(s), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(path));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace gearkv
