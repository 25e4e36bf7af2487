// Get: a server-streaming call. The block is loaded (and, for RAW, decompressed; for a layer
// range, sliced) on a worker pool, then sent as a GetHeader followed by chunks of at most 1 MiB,
// one write in flight at a time (the next starts in OnWriteDone), so a slow client holds at most
// one chunk in gRPC's buffers.
//
// Lifetime: created by the service for one call; deletes itself in OnDone.
#ifndef GEARKV_SERVER_SRC_GET_REACTOR_H_
#define GEARKV_SERVER_SRC_GET_REACTOR_H_

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

class GetReactor final : public grpc::ServerWriteReactor<v1::GetResponse> {
 public:
  GetReactor(ServiceCore& core, grpc::CallbackServerContext* context,
             const v1::GetRequest& request);

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
  const v1::GetRequest request_;  // a copy: the payload outlives nothing of gRPC's
  const store::BlockKey key_;

  // What is sent: a view into one of the holders below.
  store::BlockBytes stored_;     // the stored block (COMPRESSED, whole)
  std::string sliced_;           // a layer slice of it
  std::unique_ptr<char[]> raw_;  // a decompressed tensor (RAW)
  std::string_view payload_;
  uint64_t raw_equivalent_bytes_ = 0;
  uint64_t budget_held_ = 0;  // bytes of raw_ taken from core_.tensor_budget

  v1::GetResponse response_;
  bool header_sent_ = false;
  uint64_t offset_ = 0;  // of payload_ already written
  absl::StatusCode code_ = absl::StatusCode::kUnknown;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_GET_REACTOR_H_
