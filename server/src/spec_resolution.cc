#include "spec_resolution.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"
#include "gearkv/wire.h"

namespace gearkv::server {
namespace {

// Narrows a wire integer into a spec field, refusing values the field cannot hold (so that
// bits = 260 is an error, not 4).
template <typename Field>
absl::Status Narrow(std::string_view name, uint32_t value, Field* out) {
  if (value > std::numeric_limits<Field>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("codec.", ToAbsl(name), " = ", value, " is out of range (at most ",
                     uint64_t{std::numeric_limits<Field>::max()}, ")"));
  }
  *out = static_cast<Field>(value);
  return absl::OkStatus();
}

std::vector<std::string> SetOverrides(const v1::CodecSpec& wire) {
  std::vector<std::string> set;
  if (wire.has_bits()) set.push_back("bits");
  if (wire.has_group_size()) set.push_back("group_size");
  if (wire.has_rank()) set.push_back("rank");
  if (wire.has_outlier_ratio()) set.push_back("outlier_ratio");
  if (wire.has_power_iterations()) set.push_back("power_iterations");
  if (wire.has_seed()) set.push_back("seed");
  return set;
}

}  // namespace

absl::StatusOr<CodecSpec> ResolveSpec(const v1::CodecSpec& wire, std::string_view default_preset) {
  const std::string_view name = wire.preset().empty() ? default_preset : wire.preset();
  absl::StatusOr<CodecSpec> preset = PresetSpec(name);
  if (!preset.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown codec preset '", ToAbsl(name),
                                                   "'; known presets: ", wire::KnownPresetList()));
  }
  CodecSpec spec = *preset;
  if (spec.method == Method::kNone) {
    const std::vector<std::string> overrides = SetOverrides(wire);
    if (!overrides.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "preset '", ToAbsl(name), "' stores blocks as sent and takes no overrides (got ",
          absl::StrJoin(overrides, ", "), ")"));
    }
    return spec;
  }
  if (wire.has_bits()) GEARKV_RETURN_IF_ERROR(Narrow("bits", wire.bits(), &spec.bits));
  if (wire.has_group_size()) {
    GEARKV_RETURN_IF_ERROR(Narrow("group_size", wire.group_size(), &spec.group_size));
  }
  if (wire.has_rank()) GEARKV_RETURN_IF_ERROR(Narrow("rank", wire.rank(), &spec.rank));
  if (wire.has_outlier_ratio()) {
    if (!std::isfinite(wire.outlier_ratio())) {
      return absl::InvalidArgumentError(
          absl::StrCat("codec.outlier_ratio = ", wire.outlier_ratio(), " is not a number"));
    }
    spec.outlier_ratio = wire.outlier_ratio();
  }
  if (wire.has_power_iterations()) {
    GEARKV_RETURN_IF_ERROR(
        Narrow("power_iterations", wire.power_iterations(), &spec.power_iterations));
  }
  if (wire.has_seed()) spec.seed = wire.seed();
  absl::Status valid = ValidateSpec(spec);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("codec spec (preset '", ToAbsl(name), "' with overrides): ", valid.message()));
  }
  return spec;
}

}  // namespace gearkv::server
