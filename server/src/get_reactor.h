// Get: a server-streaming call. The block is loaded (and, for RAW, decompressed; for a layer
// range, sliced) on a worker pool, then sent as a GetHeader followed by chunks of at most 1 MiB,
// one write in flight at a time (the next starts in OnWriteDone), so a slow client holds at most
// one chunk in gRPC's buffers. The last chunk goes out together with the call's status.
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
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gearkv/store/block_store.h"
#include "gearkv/v1/kv_cache.pb.h"
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
  absl::Status ValidateRequest() const;
  // On a worker pool: fetch, verify, slice, decompress; then starts streaming.
  void Load();
  absl::Status LoadPayload();
  void WriteNext();
  void FinishWith(const absl::Status& status);

  ServiceCore& core_;
  grpc::CallbackServerContext* const context_;
  const absl::Time start_;
  absl::Status request_status_;  // whether `request` parsed (initialised before request_)
  v1::GetRequest request_;
  store::BlockKey key_;

  // What is sent: the stored block (COMPRESSED, whole), a layer slice of it, or the decompressed
  // tensor (RAW), kept alive by payload_owner_ until gRPC has sent the last chunk referring to it.
  std::shared_ptr<const void> payload_owner_;
  std::string_view payload_;
  uint64_t raw_equivalent_bytes_ = 0;
  uint64_t budget_held_ = 0;  // bytes of the RAW tensor taken from core_.tensor_budget

  v1::GetHeader header_;
  grpc::ByteBuffer message_;  // the message being written
  bool header_sent_ = false;
  uint64_t offset_ = 0;  // of payload_ already written
  absl::StatusCode code_ = absl::StatusCode::kUnknown;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_GET_REACTOR_H_
