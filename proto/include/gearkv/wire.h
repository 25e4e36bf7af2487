// Conversions between gearkv.v1 wire messages and the codec's types, both ways, for the server
// and the clients, so that both read and write the wire the same way. Limits and key checks are
// in gearkv/wire_limits.h, status conversion in gearkv/wire_status.h. Stateless; thread-safe.
#ifndef GEARKV_WIRE_H_
#define GEARKV_WIRE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "gearkv/block_cost.h"
#include "gearkv/codec.h"
#include "gearkv/tensor.h"
#include "gearkv/v1/kv_cache.pb.h"

namespace gearkv::wire {

v1::DType DTypeToWire(DType dtype);
// INVALID_ARGUMENT for DTYPE_UNSPECIFIED or a value outside the enum, naming the valid ones.
// (A client that reads a server's bad dtype reports it as INTERNAL at its call site.)
absl::StatusOr<DType> DTypeFromWire(int wire);

v1::Layout LayoutToWire(Layout layout);
// LAYOUT_CANONICAL (0, also an unset field), LAYOUT_KV_2LTD = LAYOUT_LAYER_FIRST (1),
// LAYOUT_PAGE_FIRST (2); INVALID_ARGUMENT naming the valid ones for any other value.
absl::StatusOr<Layout> LayoutFromWire(int wire);

v1::TensorShape ShapeToWire(const TensorShape& shape);
// Field by field; ValidateShape says whether the shape is usable.
TensorShape ShapeFromWire(const v1::TensorShape& wire);

// A resolved spec on the wire, every field set (for Method::kNone only `preset`, "none": no
// parameter applies); `preset` is MatchingPreset(spec).
v1::CodecSpec SpecToWire(const CodecSpec& spec);
// A resolved wire spec (as SpecToWire writes it) as a CodecSpec; preset
// "none" means Method::kNone. Fields that are unset keep CodecSpec's defaults; values are not
// range-checked (turning a request's preset + overrides into a checked spec is the server's
// ResolveSpec).
CodecSpec SpecFromWire(const v1::CodecSpec& wire);

// The codec preset (PresetNames()) whose spec equals `spec` exactly, or "" when none does. Any
// Method::kNone spec is "none".
std::string MatchingPreset(const CodecSpec& spec);
// The codec's preset names for messages and help texts: "none, kivi4, ...".
std::string KnownPresetList();

// The cost of a block of `stored_bytes` holding a tensor of `raw_bytes` and `elements`
// elements (ratio and bits per element 0 when their divisor is 0; no relative error).
BlockCost MakeBlockCost(uint64_t raw_bytes, uint64_t stored_bytes, uint64_t elements);
v1::BlockStats CostToWire(const BlockCost& cost);
BlockCost CostFromWire(const v1::BlockStats& wire);
// CostToWire(MakeBlockCost(raw_bytes, stored_bytes, elements)).
v1::BlockStats MakeBlockStats(uint64_t raw_bytes, uint64_t stored_bytes, uint64_t elements);

}  // namespace gearkv::wire

#endif  // GEARKV_WIRE_H_
