// Put: a client-streaming call. The first message is a PutHeader, then raw tensor chunks of at
// most 1 MiB that add up to exactly the size the header declares. The reactor checks each
// message as it arrives (and answers at the first bad one), buffers the tensor, then compresses
// and stores it on the codec worker pool (the block's steps are PutBlock's, put_block.h). Nothing
// is stored unless the whole tensor arrived and compressed; a cancelled call stores nothing.
//
// Lifetime: created by the service for one call; deletes itself in OnDone.
#ifndef GEARKV_SERVER_SRC_PUT_REACTOR_H_
#define GEARKV_SERVER_SRC_PUT_REACTOR_H_

#include <grpcpp/support/server_callback.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gearkv/v1/kv_cache.pb.h"
#include "put_block.h"
#include "service_core.h"

namespace gearkv::server {

class PutReactor final : public grpc::ServerReadReactor<v1::PutRequest> {
 public:
  PutReactor(ServiceCore& core, grpc::CallbackServerContext* context, v1::PutResponse* response);

  void OnReadDone(bool ok) override;
  void OnDone() override;

 private:
  absl::Status AcceptChunk(const std::string& chunk);
  // After the client's last message: checks the size and hands the tensor to the worker pool.
  void OnEndOfStream();
  // On the worker pool: compress, store, answer.
  void CompressAndStore();
  // Answers `status` (records its code for the observer).
  void FinishWith(const absl::Status& status);

  ServiceCore& core_;
  grpc::CallbackServerContext* const context_;
  v1::PutResponse* const response_;
  const absl::Time start_;

  v1::PutRequest request_;
  bool have_header_ = false;
  PutBlock block_;
  absl::StatusCode code_ = absl::StatusCode::kUnknown;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_PUT_REACTOR_H_
