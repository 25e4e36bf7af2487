#include "gearkv/wire.h"

#include <string>
#include <string_view>

namespace gearkv::wire {

v1::DType DTypeToWire(DType dtype) {
  switch (dtype) {
    case DType::kFloat16:
      return v1::DTYPE_FLOAT16;
    case DType::kBFloat16:
      return v1::DTYPE_BFLOAT16;
    case DType::kFloat32:
      return v1::DTYPE_FLOAT32;
  }
  return v1::DTYPE_UNSPECIFIED;
}

v1::Layout LayoutToWire(Layout layout) {
  switch (layout) {
    case Layout::kCanonical:
      return v1::LAYOUT_CANONICAL;
    case Layout::kKv2LTD:
      return v1::LAYOUT_KV_2LTD;
    case Layout::kPageFirst:
      return v1::LAYOUT_PAGE_FIRST;
  }
  return static_cast<v1::Layout>(static_cast<int>(layout));  // passed on, refused by the reader
}

absl::StatusOr<Layout> LayoutFromWire(int wire) {
  switch (wire) {
    case v1::LAYOUT_CANONICAL:
      return Layout::kCanonical;
    case v1::LAYOUT_KV_2LTD:
      return Layout::kKv2LTD;
    case v1::LAYOUT_PAGE_FIRST:
      return Layout::kPageFirst;
    default:
      return absl::InvalidArgumentError(
          "layout " + std::to_string(wire) +
          " is not a known Layout (LAYOUT_CANONICAL, LAYOUT_KV_2LTD = LAYOUT_LAYER_FIRST, "
          "LAYOUT_PAGE_FIRST)");
  }
}

absl::StatusOr<DType> DTypeFromWire(int wire) {
  switch (wire) {
    case v1::DTYPE_FLOAT16:
      return DType::kFloat16;
    case v1::DTYPE_BFLOAT16:
      return DType::kBFloat16;
    case v1::DTYPE_FLOAT32:
      return DType::kFloat32;
    case v1::DTYPE_UNSPECIFIED:
      return absl::InvalidArgumentError(
          "dtype is unspecified (DTYPE_FLOAT16, DTYPE_BFLOAT16 or DTYPE_FLOAT32)");
    default:
      return absl::InvalidArgumentError(
          "dtype " + std::to_string(wire) +
          " is not a known DType (DTYPE_FLOAT16, DTYPE_BFLOAT16, DTYPE_FLOAT32)");
  }
}

v1::TensorShape ShapeToWire(const TensorShape& shape) {
  v1::TensorShape wire;
  wire.set_layers(shape.layers);
  wire.set_kv_heads(shape.kv_heads);
  wire.set_tokens(shape.tokens);
  wire.set_head_dim(shape.head_dim);
  return wire;
}

TensorShape ShapeFromWire(const v1::TensorShape& wire) {
  return TensorShape{wire.layers(), wire.kv_heads(), wire.tokens(), wire.head_dim()};
}

v1::CodecSpec SpecToWire(const CodecSpec& spec) {
  v1::CodecSpec wire;
  wire.set_preset(MatchingPreset(spec));
  if (spec.method == Method::kNone) return wire;  // stored as sent: no parameter applies
  wire.set_bits(spec.bits);
  wire.set_group_size(spec.group_size);
  wire.set_rank(spec.rank);
  wire.set_outlier_ratio(spec.outlier_ratio);
  wire.set_power_iterations(spec.power_iterations);
  wire.set_seed(spec.seed);
  return wire;
}

CodecSpec SpecFromWire(const v1::CodecSpec& wire) {
  CodecSpec spec;
  if (wire.preset() == "none") spec.method = Method::kNone;
  if (wire.has_bits()) spec.bits = static_cast<uint8_t>(wire.bits());
  if (wire.has_group_size()) spec.group_size = static_cast<uint16_t>(wire.group_size());
  if (wire.has_rank()) spec.rank = static_cast<uint16_t>(wire.rank());
  if (wire.has_outlier_ratio()) spec.outlier_ratio = wire.outlier_ratio();
  if (wire.has_power_iterations()) {
    spec.power_iterations = static_cast<uint8_t>(wire.power_iterations());
  }
  if (wire.has_seed()) spec.seed = wire.seed();
  return spec;
}

std::string MatchingPreset(const CodecSpec& spec) {
  for (std::string_view name : PresetNames()) {
    absl::StatusOr<CodecSpec> preset = PresetSpec(name);
    if (!preset.ok()) continue;
    // `none` has no parameters: any kNone spec is `none`.
    if (preset->method == Method::kNone && spec.method == Method::kNone) return std::string(name);
    if (*preset == spec) return std::string(name);
  }
  return "";
}

std::string KnownPresetList() {
  std::string out;
  for (std::string_view name : PresetNames()) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

BlockCost MakeBlockCost(uint64_t raw_bytes, uint64_t stored_bytes, uint64_t elements) {
  BlockCost cost;
  cost.raw_bytes = raw_bytes;
  cost.stored_bytes = stored_bytes;
  cost.bits_per_element =
      elements == 0 ? 0.0 : 8.0 * static_cast<double>(stored_bytes) / static_cast<double>(elements);
  cost.ratio =
      stored_bytes == 0 ? 0.0 : static_cast<double>(raw_bytes) / static_cast<double>(stored_bytes);
  return cost;
}

v1::BlockStats CostToWire(const BlockCost& cost) {
  v1::BlockStats wire;
  wire.set_raw_bytes(cost.raw_bytes);
  wire.set_stored_bytes(cost.stored_bytes);
  wire.set_bits_per_element(cost.bits_per_element);
  wire.set_ratio(cost.ratio);
  if (cost.relative_error) wire.set_relative_error(*cost.relative_error);
  return wire;
}

BlockCost CostFromWire(const v1::BlockStats& wire) {
  BlockCost cost;
  cost.raw_bytes = wire.raw_bytes();
  cost.stored_bytes = wire.stored_bytes();
  cost.bits_per_element = wire.bits_per_element();
  cost.ratio = wire.ratio();
  if (wire.has_relative_error()) cost.relative_error = wire.relative_error();
  return cost;
}

v1::BlockStats MakeBlockStats(uint64_t raw_bytes, uint64_t stored_bytes, uint64_t elements) {
  return CostToWire(MakeBlockCost(raw_bytes, stored_bytes, elements));
}

}  // namespace gearkv::wire
