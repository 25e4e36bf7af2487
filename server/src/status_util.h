// absl::Status -> grpc::Status at the service boundary: the canonical codes map one to one, the
// message is kept. The only place the service converts a status.
#ifndef GEARKV_SERVER_SRC_STATUS_UTIL_H_
#define GEARKV_SERVER_SRC_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace gearkv::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_STATUS_UTIL_H_
