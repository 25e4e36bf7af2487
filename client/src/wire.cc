#include "wire.h"

namespace gearkv::client_internal {

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

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
    default:
      return absl::InternalError("server answered with an unknown dtype " + std::to_string(wire));
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

void CodecRequestToWire(const CodecRequest& request, v1::CodecSpec* wire) {
  wire->set_preset(request.preset);
  if (request.bits) wire->set_bits(*request.bits);
  if (request.group_size) wire->set_group_size(*request.group_size);
  if (request.rank) wire->set_rank(*request.rank);
  if (request.outlier_ratio) wire->set_outlier_ratio(*request.outlier_ratio);
  if (request.power_iterations) wire->set_power_iterations(*request.power_iterations);
  if (request.seed) wire->set_seed(*request.seed);
}

CodecSpec SpecFromWire(const v1::CodecSpec& wire) {
  CodecSpec spec;
  if (wire.preset() == "none") {
    spec.method = Method::kNone;
  }
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

BlockCost CostFromWire(const v1::BlockStats& wire) {
  BlockCost cost;
  cost.raw_bytes = wire.raw_bytes();
  cost.stored_bytes = wire.stored_bytes();
  cost.bits_per_element = wire.bits_per_element();
  cost.ratio = wire.ratio();
  if (wire.has_relative_error()) cost.relative_error = wire.relative_error();
  return cost;
}

}  // namespace gearkv::client_internal
