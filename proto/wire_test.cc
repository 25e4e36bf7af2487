#include "gearkv/wire.h"

#include <string>

#include "gearkv/wire_limits.h"
#include "gtest/gtest.h"

namespace gearkv::wire {
namespace {

TEST(ValidateBlockKeyTest, Limits) {
  EXPECT_TRUE(ValidateBlockKey("", "k").ok());
  EXPECT_TRUE(ValidateBlockKey(std::string(256, 'n'), std::string(1024, 'k')).ok());
  absl::Status empty = ValidateBlockKey("m", "");
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.message(), "key is empty (1 to 1024 bytes)");
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

TEST(LayoutTest, RoundTripAndErrors) {
  for (Layout layout : {Layout::kCanonical, Layout::kKv2LTD, Layout::kPageFirst}) {
    EXPECT_EQ(*LayoutFromWire(LayoutToWire(layout)), layout);
  }
  EXPECT_EQ(LayoutToWire(Layout::kLayerFirst), v1::LAYOUT_LAYER_FIRST);
  EXPECT_EQ(*LayoutFromWire(v1::LAYOUT_LAYER_FIRST), Layout::kLayerFirst);
  EXPECT_EQ(*LayoutFromWire(0), Layout::kCanonical);  // an unset field
  for (int bad : {3, -1, 99}) {
    const auto st = LayoutFromWire(bad).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("LAYOUT_PAGE_FIRST"), std::string::npos) << st;
  }
  // An out-of-enum view layout goes out as is, for the reader to refuse.
  EXPECT_FALSE(LayoutFromWire(LayoutToWire(static_cast<Layout>(7))).ok());
}

TEST(DTypeTest, RoundTripAndErrors) {
  for (DType dtype : {DType::kFloat16, DType::kBFloat16, DType::kFloat32}) {
    EXPECT_EQ(*DTypeFromWire(DTypeToWire(dtype)), dtype);
  }
  EXPECT_NE(DTypeFromWire(v1::DTYPE_UNSPECIFIED).status().message().find("unspecified"),
            std::string_view::npos);
  EXPECT_EQ(DTypeFromWire(v1::DTYPE_UNSPECIFIED).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DTypeFromWire(99).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ShapeTest, RoundTrip) {
  const TensorShape shape{32, 8, 256, 128};
  EXPECT_EQ(ShapeFromWire(ShapeToWire(shape)), shape);
}

TEST(SpecTest, EveryPresetRoundTripsWithItsName) {
  for (std::string_view name : PresetNames()) {
    const CodecSpec spec = *PresetSpec(name);
    const v1::CodecSpec wire = SpecToWire(spec);
    EXPECT_EQ(wire.preset(), name);
    // `none` has no parameters: none is reported (not the struct's defaults, bits=4 rank=4).
    const bool none = spec.method == Method::kNone;
    EXPECT_EQ(wire.has_bits() && wire.has_group_size() && wire.has_rank() &&
                  wire.has_outlier_ratio() && wire.has_power_iterations() && wire.has_seed(),
              !none)
        << name;
    const CodecSpec back = SpecFromWire(wire);
    if (none) {
      EXPECT_EQ(back.method, Method::kNone);
      EXPECT_EQ(MatchingPreset(back), "none");
    } else {
      EXPECT_EQ(back, spec) << name;
    }
  }
}

TEST(SpecTest, ACustomSpecHasNoPresetName) {
  CodecSpec spec = *PresetSpec("gear4");
  spec.rank = 3;
  spec.seed = 99;
  const v1::CodecSpec wire = SpecToWire(spec);
  EXPECT_EQ(wire.preset(), "");
  EXPECT_EQ(SpecFromWire(wire), spec);
}

TEST(SpecTest, UnsetFieldsKeepTheDefaults) {
  v1::CodecSpec wire;
  wire.set_bits(2);
  CodecSpec want;
  want.bits = 2;
  EXPECT_EQ(SpecFromWire(wire), want);
}

TEST(PresetListTest, NamesEveryPresetInOrder) {
  std::string want;
  for (std::string_view name : PresetNames()) {
    want += want.empty() ? "" : ", ";
    want += name;
  }
  EXPECT_EQ(KnownPresetList(), want);
  EXPECT_EQ(KnownPresetList().rfind("none, ", 0), 0u);
}

TEST(BlockStatsTest, RatioAndBits) {
  const v1::BlockStats stats = MakeBlockStats(4000, 1000, 2000);
  EXPECT_EQ(stats.raw_bytes(), 4000u);
  EXPECT_EQ(stats.stored_bytes(), 1000u);
  EXPECT_DOUBLE_EQ(stats.ratio(), 4.0);
  EXPECT_DOUBLE_EQ(stats.bits_per_element(), 4.0);
  EXPECT_FALSE(stats.has_relative_error());
  const v1::BlockStats empty = MakeBlockStats(0, 0, 0);
  EXPECT_EQ(empty.ratio(), 0.0);
  EXPECT_EQ(empty.bits_per_element(), 0.0);
}

TEST(BlockStatsTest, CostRoundTrips) {
  BlockCost cost = MakeBlockCost(4096, 1024, 2048);
  EXPECT_EQ(CostFromWire(CostToWire(cost)), cost);
  cost.relative_error = 0.125;
  const v1::BlockStats wire = CostToWire(cost);
  ASSERT_TRUE(wire.has_relative_error());
  EXPECT_EQ(CostFromWire(wire), cost);
}

}  // namespace
}  // namespace gearkv::wire
