#include "wire.h"

namespace gearkv::client_internal {

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::StatusOr<DType> DTypeFromWire(int wire) {
  auto dtype = wire::DTypeFromWire(wire);
  if (!dtype.ok()) {
    return absl::InternalError("the server answered with a bad dtype: " +
                               std::string(dtype.status().message()));
  }
  return dtype;
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
