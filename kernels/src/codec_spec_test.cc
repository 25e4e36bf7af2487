#include "gearkv/codec.h"
#include "gtest/gtest.h"

namespace gearkv {
namespace {

TEST(CodecSpec, PresetsAreWhatTheyClaim) {
  EXPECT_EQ(PresetSpec("none")->method, Method::kNone);
  const CodecSpec gear4 = *PresetSpec("gear4");
  EXPECT_EQ(gear4.bits, 4);
  EXPECT_EQ(gear4.group_size, 64);
  EXPECT_EQ(gear4.rank, 4);
  EXPECT_FLOAT_EQ(gear4.outlier_ratio, 0.02f);
  EXPECT_EQ(gear4.power_iterations, 3);
  EXPECT_EQ(PresetSpec("gear2")->bits, 2);
  EXPECT_EQ(PresetSpec("kivi2")->rank, 0);
  EXPECT_EQ(PresetSpec("kivi4")->outlier_ratio, 0.0f);
  EXPECT_EQ(PresetSpec("gearl4")->outlier_ratio, 0.0f);
  EXPECT_EQ(PresetSpec("gearl2")->rank, 4);
  for (std::string_view name : PresetNames()) EXPECT_TRUE(ValidateSpec(*PresetSpec(name)).ok());
}

TEST(CodecSpec, UnknownPresetListsTheKnownOnes) {
  auto spec = PresetSpec("gear5");
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find("gear4"), std::string::npos);
}

TEST(CodecSpec, ValidationNamesTheField) {
  CodecSpec s = *PresetSpec("gear4");
  s.bits = 5;
  EXPECT_NE(ValidateSpec(s).message().find("bits"), std::string::npos);
  s = *PresetSpec("gear4");
  s.group_size = 0;
  EXPECT_NE(ValidateSpec(s).message().find("group_size"), std::string::npos);
  s = *PresetSpec("gear4");
  s.outlier_ratio = 0.7f;
  EXPECT_NE(ValidateSpec(s).message().find("outlier_ratio"), std::string::npos);
  s.outlier_ratio = NAN;
  EXPECT_FALSE(ValidateSpec(s).ok());
  s = *PresetSpec("gear4");
  s.rank = 65;
  EXPECT_NE(ValidateSpec(s).message().find("rank"), std::string::npos);
  s = *PresetSpec("gear4");
  s.power_iterations = 0;
  EXPECT_NE(ValidateSpec(s).message().find("power_iterations"), std::string::npos);
}

TEST(TensorShape, ValidationNamesTheProblem) {
  EXPECT_TRUE(ValidateShape({32, 8, 256, 128}).ok());
  EXPECT_NE(ValidateShape({0, 8, 256, 128}).message().find("at least 1"), std::string::npos);
  EXPECT_NE(ValidateShape({1, 8, 70000, 128}).message().find("tokens"), std::string::npos);
  EXPECT_NE(ValidateShape({1, 8, 256, 100}).message().find("multiple of 8"), std::string::npos);
  EXPECT_NE(ValidateShape({1, 8, 256, 16384}).message().find("head_dim"), std::string::npos);
  EXPECT_NE(ValidateShape({4000000, 4000, 60000, 8}).message().find("2^34"), std::string::npos);
}

TEST(DType, NamesRoundTrip) {
  for (DType d : {DType::kFloat16, DType::kBFloat16, DType::kFloat32}) {
    EXPECT_EQ(*ParseDType(DTypeName(d)), d);
  }
  EXPECT_EQ(*ParseDType("bf16"), DType::kBFloat16);
  EXPECT_EQ(*ParseDType("FP16"), DType::kFloat16);
  EXPECT_FALSE(ParseDType("int8").ok());
  EXPECT_EQ(DTypeSize(DType::kFloat32), 4u);
}

}  // namespace
}  // namespace gearkv
