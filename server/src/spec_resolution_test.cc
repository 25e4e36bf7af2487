#include "spec_resolution.h"

#include <cmath>
#include <limits>

#include "gearkv/base/strings.h"
#include "gearkv/wire.h"
#include "gtest/gtest.h"

namespace gearkv::server {
namespace {

TEST(ResolveSpecTest, EmptyPresetIsTheServerDefault) {
  v1::CodecSpec wire;
  absl::StatusOr<CodecSpec> spec = ResolveSpec(wire, "gear2");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(*spec, *PresetSpec("gear2"));
}

TEST(ResolveSpecTest, EveryPresetResolvesToItself) {
  for (std::string_view name : PresetNames()) {
    v1::CodecSpec wire;
    wire.set_preset(std::string(name));
    absl::StatusOr<CodecSpec> spec = ResolveSpec(wire, "gear4");
    ASSERT_TRUE(spec.ok()) << name << ": " << spec.status();
    EXPECT_EQ(*spec, *PresetSpec(name)) << name;
    EXPECT_EQ(wire::MatchingPreset(*spec), name);
  }
}

TEST(ResolveSpecTest, OverridesReplaceThePresetsValues) {
  v1::CodecSpec wire;
  wire.set_preset("gear4");
  wire.set_bits(2);
  wire.set_group_size(32);
  wire.set_rank(2);
  wire.set_outlier_ratio(0.01f);
  wire.set_power_iterations(5);
  wire.set_seed(7);
  absl::StatusOr<CodecSpec> spec = ResolveSpec(wire, "none");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->method, Method::kGear);
  EXPECT_EQ(spec->bits, 2);
  EXPECT_EQ(spec->group_size, 32);
  EXPECT_EQ(spec->rank, 2);
  EXPECT_FLOAT_EQ(spec->outlier_ratio, 0.01f);
  EXPECT_EQ(spec->power_iterations, 5);
  EXPECT_EQ(spec->seed, 7u);
  EXPECT_EQ(wire::MatchingPreset(*spec), "");
}

TEST(ResolveSpecTest, ZeroOverridesAreOverridesNotUnset) {
  v1::CodecSpec wire;
  wire.set_preset("gear4");
  wire.set_rank(0);
  wire.set_outlier_ratio(0);
  absl::StatusOr<CodecSpec> spec = ResolveSpec(wire, "gear4");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->rank, 0);
  EXPECT_EQ(spec->outlier_ratio, 0.0f);
}

TEST(ResolveSpecTest, UnknownPresetListsTheKnownOnes) {
  v1::CodecSpec wire;
  wire.set_preset("gear5");
  absl::Status status = ResolveSpec(wire, "gear4").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("'gear5'"), std::string_view::npos) << status;
  for (std::string_view name : PresetNames()) {
    EXPECT_NE(status.message().find(ToAbsl(name)), absl::string_view::npos) << status;
  }
}

// ResolveSpec(wire, "gear4") is INVALID_ARGUMENT and its message names `what`.
void ExpectRefusedNaming(const v1::CodecSpec& wire, std::string_view what) {
  const absl::Status status = ResolveSpec(wire, "gear4").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(ToAbsl(what)), absl::string_view::npos) << status;
}

TEST(ResolveSpecTest, OutOfRangeOverridesAreRefusedNotTruncated) {
  v1::CodecSpec wire;
  wire.set_preset("gear4");
  wire.set_bits(260);  // would wrap to 4 in a uint8_t
  ExpectRefusedNaming(wire, "bits");

  wire.clear_bits();
  wire.set_group_size(70000);
  ExpectRefusedNaming(wire, "group");
}

TEST(ResolveSpecTest, InvalidValuesAreRefusedByValidateSpec) {
  v1::CodecSpec wire;
  wire.set_preset("gear4");
  wire.set_bits(5);
  ExpectRefusedNaming(wire, "gear4");

  wire.clear_bits();
  wire.set_outlier_ratio(std::numeric_limits<float>::quiet_NaN());
  ExpectRefusedNaming(wire, "outlier");
}

TEST(ResolveSpecTest, NoneTakesNoOverrides) {
  v1::CodecSpec wire;
  wire.set_preset("none");
  wire.set_bits(4);
  ExpectRefusedNaming(wire, "bits");
}

TEST(SpecToWireTest, EveryFieldSetAndResolvesBack) {
  for (std::string_view name : PresetNames()) {
    const CodecSpec spec = *PresetSpec(name);
    v1::CodecSpec wire = wire::SpecToWire(spec);
    EXPECT_EQ(wire.preset(), name);
    if (spec.method == Method::kNone) {  // `none` has no parameters and takes no overrides
      EXPECT_FALSE(wire.has_bits() || wire.has_rank()) << wire.ShortDebugString();
      EXPECT_EQ(ResolveSpec(wire, "gear4")->method, Method::kNone);
      continue;
    }
    EXPECT_TRUE(wire.has_bits() && wire.has_group_size() && wire.has_rank() &&
                wire.has_outlier_ratio() && wire.has_power_iterations() && wire.has_seed());
    absl::StatusOr<CodecSpec> back = ResolveSpec(wire, "gear4");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, spec) << name;
  }
}

}  // namespace
}  // namespace gearkv::server
