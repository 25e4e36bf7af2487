#include "status_util.h"

#include <string>

namespace gearkv::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const int code = static_cast<int>(status.code());
  // absl's canonical codes 1..16 are gRPC's codes; anything else (a code from a newer absl)
  // is UNKNOWN rather than an invalid gRPC code.
  const grpc::StatusCode grpc_code =
      (code >= grpc::StatusCode::CANCELLED && code <= grpc::StatusCode::UNAUTHENTICATED)
          ? static_cast<grpc::StatusCode>(code)
          : grpc::StatusCode::UNKNOWN;
  return grpc::Status(grpc_code, std::string(status.message()));
}

}  // namespace gearkv::server
