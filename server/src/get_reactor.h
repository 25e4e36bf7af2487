// Get: a server-streaming call. The payload is prepared on a worker pool (get_payload.h), then
// sent as a GetHeader followed by chunks of at most 1 MiB, one write in flight at a time (the
// next starts in OnWriteDone), so a slow client holds at most one chunk in gRPC's buffers. The
// last chunk goes out together with the call's status.
//
// The method is registered raw (grpc::ByteBuffer in and out): chunk messages point into the
// stored block or the decompressed tensor instead of copying them into a protobuf message and
// serializing that again (gearkv/get_messages.h); the bytes on the wire are the same.
//
// Lifetime: created by the service for one call; deletes itself in OnDone.
#ifndef GEARKV_SERVER_SRC_GET_REACTOR_H_
#define GEARKV_SERVER_SRC_GET_REACTOR_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gearkv/v1/kv_cache.pb.h"
#include "get_payload.h"
#include "service_core.h"

namespace gearkv::server {

class GetReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  // `request` is a serialized v1::GetRequest.
  GetReactor(ServiceCore& core, grpc::CallbackServerContext* context,
             const grpc::ByteBuffer& request);

  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  // On a worker pool: prepares the payload, then starts streaming it.
  void Load();
  void WriteNext();
  void FinishWith(const absl::Status& status);

  ServiceCore& core_;
  grpc::CallbackServerContext* const context_;
  const absl::Time start_;
  absl::Status request_status_;  // whether `request` parsed (initialised before request_)
  const v1::GetRequest request_;

  GetPayload payload_;
  grpc::ByteBuffer message_;  // the message being written
  bool header_sent_ = false;
  uint64_t offset_ = 0;  // of payload_.bytes already written
  absl::StatusCode code_ = absl::StatusCode::kUnknown;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_GET_REACTOR_H_
