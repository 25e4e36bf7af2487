// A grpc.health.v1.Health/Check call without generated code: Debian ships no health.proto, and
// the two messages are a single field each, so they are encoded here by hand through
// grpc::GenericStub. Internal to gearkv_client.
#ifndef GEARKV_CLIENT_SRC_HEALTH_CHECK_H_
#define GEARKV_CLIENT_SRC_HEALTH_CHECK_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gearkv/client.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace gearkv::client_internal {

// HealthCheckRequest{service} in protobuf wire format.
std::string EncodeHealthCheckRequest(std::string_view service);
// The `status` field of a HealthCheckResponse; INTERNAL for malformed bytes.
absl::StatusOr<HealthState> DecodeHealthCheckResponse(std::string_view bytes);

// One blocking Check call on `channel` with `context` (deadline and metadata already set).
absl::StatusOr<HealthState> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                        grpc::ClientContext* context, std::string_view service);

}  // namespace gearkv::client_internal

#endif  // GEARKV_CLIENT_SRC_HEALTH_CHECK_H_
