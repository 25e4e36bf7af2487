// Conversions between gearkv.v1 wire messages and the client's types. Internal to gearkv_client.
#ifndef GEARKV_CLIENT_SRC_WIRE_H_
#define GEARKV_CLIENT_SRC_WIRE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gearkv/client.h"
#include "gearkv/v1/kv_cache.pb.h"
#include "gearkv/wire.h"
#include "grpcpp/support/status.h"

namespace gearkv::client_internal {

absl::Status FromGrpc(const grpc::Status& status);

using wire::DTypeToWire;
using wire::ShapeFromWire;
using wire::ShapeToWire;
// As wire::DTypeFromWire, but INTERNAL: a bad dtype here is the server's fault.
absl::StatusOr<DType> DTypeFromWire(int wire);

void CodecRequestToWire(const CodecRequest& request, v1::CodecSpec* wire);
// A resolved wire spec (every field set) as a CodecSpec; preset "none" means Method::kNone.
CodecSpec SpecFromWire(const v1::CodecSpec& wire);
BlockCost CostFromWire(const v1::BlockStats& wire);

}  // namespace gearkv::client_internal

#endif  // GEARKV_CLIENT_SRC_WIRE_H_
