// Tensor descriptions shared by the codec, the service and the clients.
//
// A KV block is one tensor of layers x 2 (K,V) x kv_heads x tokens x head_dim elements, in fp16,
// bf16 or fp32. Its shape is always given as TensorShape; its memory order is a Layout (the
// canonical [layers][2 (K,V)][kv_heads][tokens][head_dim], row-major, unless a view says
// otherwise). A block's bytes do not depend on the layout it was put in. TensorView /
// MutableTensorView are non-owning: the caller keeps the memory alive for as long as the view is
// used. All types here are plain values; thread-safe to share when not mutated.
#ifndef GEARKV_TENSOR_H_
#define GEARKV_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gearkv/layout.h"

namespace gearkv {

enum class DType : uint8_t { kFloat16 = 1, kBFloat16 = 2, kFloat32 = 3 };

// Bytes per element: 2, 2 or 4.
size_t DTypeSize(DType dtype);
// "float16", "bfloat16", "float32".
std::string_view DTypeName(DType dtype);
// Accepts the names above and the short forms "fp16"/"f16", "bf16", "fp32"/"f32".
absl::StatusOr<DType> ParseDType(std::string_view name);
// True for the values of the enum (wire values may be anything).
bool IsValidDType(uint8_t value);

// Shape of a canonical KV block; the K|V axis (size 2) is implicit.
struct TensorShape {
  uint32_t layers = 0;
  uint32_t kv_heads = 0;
  uint32_t tokens = 0;
  uint32_t head_dim = 0;

  // layers * 2 * kv_heads * tokens * head_dim.
  uint64_t NumElements() const { return uint64_t{layers} * 2 * kv_heads * tokens * head_dim; }
  // Elements of one (layer, K|V) matrix: kv_heads * tokens * head_dim.
  uint64_t MatrixElements() const { return uint64_t{kv_heads} * tokens * head_dim; }
  bool operator==(const TensorShape&) const = default;
  // "[layers=32, kv=2, heads=8, tokens=256, head_dim=128]".
  std::string DebugString() const;
};

// Limits every shape must respect (checked by ValidateShape): each dimension >= 1, tokens
// <= 65535 and head_dim <= 8192 (outlier offsets are 16-bit), head_dim a multiple of 8 (packed
// rows stay byte-aligned for every bit width), and at most 2^34 elements (32 GiB of fp16).
inline constexpr uint32_t kMaxTokens = 65535;
inline constexpr uint32_t kMaxHeadDim = 8192;
inline constexpr uint32_t kHeadDimMultiple = 8;
inline constexpr uint64_t kMaxElements = uint64_t{1} << 34;

// INVALID_ARGUMENT naming the offending dimension when `shape` breaks a limit above.
absl::Status ValidateShape(const TensorShape& shape);

// "canonical", "kv_2ltd" (also for kLayerFirst), "page_first".
std::string_view LayoutName(Layout layout);
// Accepts the names above (any case) and "layer_first".
absl::StatusOr<Layout> ParseLayout(std::string_view name);
// True for the values of the enum (wire values may be anything).
bool IsValidLayout(uint8_t value);
// INVALID_ARGUMENT naming the valid layouts when `layout` is not a value of the enum (a view
// built from an unchecked integer); what Compress and Decompress check first.
absl::Status ValidateLayout(Layout layout);

struct TensorView {
  TensorShape shape;
  DType dtype = DType::kFloat16;
  const void* data = nullptr;
  Layout layout = Layout::kCanonical;

  uint64_t SizeBytes() const { return shape.NumElements() * DTypeSize(dtype); }
};

struct MutableTensorView {
  TensorShape shape;
  DType dtype = DType::kFloat16;
  void* data = nullptr;
  Layout layout = Layout::kCanonical;

  uint64_t SizeBytes() const { return shape.NumElements() * DTypeSize(dtype); }
  operator TensorView() const { return {shape, dtype, data, layout}; }
};

}  // namespace gearkv

#endif  // GEARKV_TENSOR_H_
