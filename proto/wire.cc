#include "gearkv/wire.h"

#include <string>

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

}  // namespace gearkv::wire
