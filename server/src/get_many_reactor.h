// GetMany: a server-streaming call answering many keys of one namespace (the contract is in
// kv_cache.proto). The keys are answered one after the other, each exactly as a Get of it is:
// LoadGetPayload (get_payload.h) on the codec pool for RAW or the io pool for COMPRESSED, then
// its header and chunks tagged with its index (gearkv/get_many_messages.h, the chunks pointing
// into the payload), one write in flight. A key's error (NOT_FOUND, DATA_LOSS, ...) becomes its
// status message and the next key follows. Only one key's payload is held at a time (a RAW
// tensor's bytes are in the in-flight budget until its last chunk is written), and before each
// key the reactor checks that the client still wants the call (cancellation, deadline).
//
// Registered raw, like Get (get_reactor.h).
//
// Lifetime: created by the service for one call; deletes itself in OnDone.
#ifndef GEARKV_SERVER_SRC_GET_MANY_REACTOR_H_
#define GEARKV_SERVER_SRC_GET_MANY_REACTOR_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gearkv/v1/kv_cache.pb.h"
#include "get_payload.h"
#include "service_core.h"

namespace gearkv::server {

// INVALID_ARGUMENT naming the problem unless the namespace, every key (keys[i]: ...), the
// encoding and the layer range are valid and there are at most LIMIT_MAX_BATCH_KEYS keys.
absl::Status ValidateGetManyRequest(const v1::GetManyRequest& request);

// The Get of keys[index] that GetMany answers for it.
v1::GetRequest GetRequestForKey(const v1::GetManyRequest& request, int index);

class GetManyReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  // `request` is a serialized v1::GetManyRequest.
  GetManyReactor(ServiceCore& core, grpc::CallbackServerContext* context,
                 const grpc::ByteBuffer& request);

  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  // Hands key index_ to its pool, or finishes after the last.
  void StartKey();
  // On a worker pool: key index_'s payload or status, then its first message.
  void Load();
  void WriteNext();
  // Key index_ is answered: reports it, frees its payload.
  void EndKey();
  void FinishWith(const absl::Status& status);

  ServiceCore& core_;
  grpc::CallbackServerContext* const context_;
  const absl::Time start_;
  v1::GetManyRequest request_;
  absl::StatusCode code_ = absl::StatusCode::kUnknown;

  // The key being answered: its payload, or its status.
  int index_ = 0;
  GetPayload payload_;
  std::optional<absl::Status> key_status_;
  bool header_sent_ = false;
  uint64_t offset_ = 0;       // of payload_.bytes already written
  bool key_done_ = false;     // its last message is being written
  grpc::ByteBuffer message_;  // the message being written

  // The call's totals.
  uint64_t bytes_out_ = 0;
  uint64_t raw_bytes_ = 0;
  uint64_t block_bytes_ = 0;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_GET_MANY_REACTOR_H_
