#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gearkv/tensor_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace gearkv {
namespace {

using tensor_io_testing::Code;
using tensor_io_testing::RandomTensor;
using ::testing::HasSubstr;

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

}  // namespace
}  // namespace gearkv
