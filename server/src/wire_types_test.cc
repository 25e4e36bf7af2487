#include "wire_types.h"

#include <string>

#include "gtest/gtest.h"

namespace gearkv::server {
namespace {

TEST(ValidateBlockKeyTest, Limits) {
  EXPECT_TRUE(ValidateBlockKey("", "k").ok());
  EXPECT_TRUE(ValidateBlockKey(std::string(256, 'n'), std::string(1024, 'k')).ok());
  absl::Status empty = ValidateBlockKey("m", "");
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(empty.message().find("key is empty"), std::string_view::npos);
  absl::Status long_key = ValidateBlockKey("m", std::string(1025, 'k'));
  EXPECT_EQ(long_key.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(long_key.message().find("1025"), std::string_view::npos) << long_key;
  absl::Status long_ns = ValidateBlockKey(std::string(257, 'n'), "k");
  EXPECT_NE(long_ns.message().find("namespace"), std::string_view::npos) << long_ns;
}

TEST(DescribeKeyTest, PrintableAndBinaryKeys) {
  EXPECT_EQ(DescribeKey("llama", "abc"), "namespace \"llama\" key \"abc\"");
  EXPECT_EQ(DescribeKey("m", std::string("\x01\xff", 2)), "namespace \"m\" key 0x01ff");
  const std::string described = DescribeKey("m", std::string(100, 'x'));
  EXPECT_NE(described.find("(100 bytes)"), std::string::npos) << described;
}

TEST(DTypeTest, RoundTripAndErrors) {
  for (DType dtype : {DType::kFloat16, DType::kBFloat16, DType::kFloat32}) {
    EXPECT_EQ(*DTypeFromWire(DTypeToWire(dtype)), dtype);
  }
  EXPECT_NE(DTypeFromWire(v1::DTYPE_UNSPECIFIED).status().message().find("unspecified"),
            std::string_view::npos);
  EXPECT_EQ(DTypeFromWire(99).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ShapeTest, RoundTrip) {
  const TensorShape shape{32, 8, 256, 128};
  EXPECT_EQ(ShapeFromWire(ShapeToWire(shape)), shape);
}

TEST(BlockStatsTest, RatioAndBits) {
  const v1::BlockStats stats = MakeBlockStats(4000, 1000, 2000);
  EXPECT_EQ(stats.raw_bytes(), 4000u);
  EXPECT_EQ(stats.stored_bytes(), 1000u);
  EXPECT_DOUBLE_EQ(stats.ratio(), 4.0);
  EXPECT_DOUBLE_EQ(stats.bits_per_element(), 4.0);
  EXPECT_FALSE(stats.has_relative_error());
}

}  // namespace
}  // namespace gearkv::server
