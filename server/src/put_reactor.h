// Put: a client-streaming call. The first message is a PutHeader, then raw tensor chunks of at
// most 1 MiB that add up to exactly the size the header declares. The reactor checks each
// message as it arrives (and answers at the first bad one), buffers the tensor, then compresses
// and stores it on the codec worker pool. Nothing is stored unless the whole tensor arrived and
// compressed; a cancelled call stores nothing.
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
#include "gearkv/codec.h"
#include "gearkv/store/block_store.h"
#include "gearkv/v1/kv_cache.pb.h"
#include "service_core.h"

namespace gearkv::server {

class PutReactor final : public grpc::ServerReadReactor<v1::PutRequest> {
 public:
  PutReactor(ServiceCore& core, grpc::CallbackServerContext* context, v1::PutResponse* response);

  void OnReadDone(bool ok) override;
  void OnDone() override;

 private:
  // Validates and adopts the header.
  absl::Status AcceptHeader(const v1::PutHeader& header);
  absl::Status AcceptChunk(std::string* chunk);
  // After the client's last message: checks the size and hands the tensor to the worker pool.
  void OnEndOfStream();
  // On the worker pool: compress, store, answer.
  void CompressAndStore();
  // Frees the buffered tensor and gives its bytes back to the budget.
  void ReleaseTensor();
  // Answers `status` (records its code for the observer).
  void FinishWith(const absl::Status& status);

  ServiceCore& core_;
  grpc::CallbackServerContext* const context_;
  v1::PutResponse* const response_;
  const absl::Time start_;

  v1::PutRequest request_;
  bool have_header_ = false;
  store::BlockKey key_;
  TensorShape shape_;
  DType dtype_ = DType::kFloat16;
  Layout layout_ = Layout::kCanonical;  // of the tensor's bytes as sent
  CodecSpec spec_;
  std::string preset_;  // the preset spec_ was resolved from
  uint32_t ttl_seconds_ = 0;
  bool measure_error_ = false;
  uint64_t expected_bytes_ = 0;
  std::shared_ptr<char[]> tensor_;  // expected_bytes_ long (from core_.tensor_buffers)

  absl::StatusCode code_ = absl::StatusCode::kUnknown;
  uint64_t budget_held_ = 0;     // bytes taken from core_.tensor_budget
  uint64_t received_bytes_ = 0;  // of tensor_, filled in order
  uint64_t block_bytes_ = 0;
  std::optional<double> relative_error_;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_PUT_REACTOR_H_
