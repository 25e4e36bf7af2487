#include <array>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "gearkv/codec.h"

namespace gearkv {
namespace {

constexpr std::array<std::string_view, 7> kPresetNames = {"none",  "kivi4",  "kivi2", "gear4",
                                                          "gear2", "gearl4", "gearl2"};

CodecSpec Gear(uint8_t bits, uint16_t rank, float outlier_ratio) {
  CodecSpec spec;
  spec.method = Method::kGear;
  spec.bits = bits;
  spec.group_size = 64;
  spec.rank = rank;
  spec.outlier_ratio = outlier_ratio;
  spec.power_iterations = 3;
  return spec;
}

}  // namespace

std::span<const std::string_view> PresetNames() { return kPresetNames; }

absl::StatusOr<CodecSpec> PresetSpec(std::string_view name) {
  if (name == "none") {
    CodecSpec spec;
    spec.method = Method::kNone;
    return spec;
  }
  if (name == "kivi4") return Gear(4, 0, 0.0f);  // quantization alone (KIVI)
  if (name == "kivi2") return Gear(2, 0, 0.0f);
  if (name == "gear4") return Gear(4, 4, 0.02f);  // quantization + low-rank + sparse (GEAR)
  if (name == "gear2") return Gear(2, 4, 0.02f);
  if (name == "gearl4") return Gear(4, 4, 0.0f);  // quantization + low-rank (GEAR-L)
  if (name == "gearl2") return Gear(2, 4, 0.0f);
  // Debian's abseil has its own string_view: spell std::string_view out as std::string.
  std::string known;
  for (std::string_view p : kPresetNames)
    absl::StrAppend(&known, known.empty() ? "" : ", ", std::string(p));
  return absl::InvalidArgumentError(
      absl::StrCat("unknown preset '", std::string(name), "' (known: ", known, ")"));
}

absl::Status ValidateSpec(const CodecSpec& spec) {
  if (spec.method == Method::kNone) return absl::OkStatus();
  if (spec.method != Method::kGear) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown method ", static_cast<int>(spec.method)));
  }
  if (spec.bits != 2 && spec.bits != 3 && spec.bits != 4 && spec.bits != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("bits must be 2, 3, 4 or 8, got ", static_cast<int>(spec.bits)));
  }
  if (spec.group_size == 0) return absl::InvalidArgumentError("group_size must be at least 1");
  if (spec.rank > 64) {
    return absl::InvalidArgumentError(absl::StrCat("rank must be 0..64, got ", spec.rank));
  }
  if (!std::isfinite(spec.outlier_ratio) || spec.outlier_ratio < 0.0f ||
      spec.outlier_ratio > 0.5f) {
    return absl::InvalidArgumentError(
        absl::StrCat("outlier_ratio must be in [0, 0.5], got ", spec.outlier_ratio));
  }
  if (spec.rank > 0 && (spec.power_iterations < 1 || spec.power_iterations > 16)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "power_iterations must be 1..16 with a low-rank part, got ", spec.power_iterations));
  }
  return absl::OkStatus();
}

std::string CodecSpec::DebugString() const {
  if (method == Method::kNone) return "none";
  return absl::StrCat("gear(bits=", bits, ", G=", group_size, ", r=", rank, ", s=", outlier_ratio,
                      ", iters=", power_iterations, ", seed=", seed, ")");
}

}  // namespace gearkv
