// absl::Status <-> grpc::Status at the RPC boundary, for the server (ToGrpcStatus) and the
// clients (FromGrpcStatus): the canonical codes map one to one, the message is kept.
// Stateless; thread-safe.
#ifndef GEARKV_WIRE_STATUS_H_
#define GEARKV_WIRE_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace gearkv::wire {

// A code outside gRPC's range (one from a newer absl) becomes UNKNOWN.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace gearkv::wire

#endif  // GEARKV_WIRE_STATUS_H_
