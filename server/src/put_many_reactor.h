// PutMany: a client-streaming call of many blocks, each a PutHeader followed by its chunks (the
// contract is in kv_cache.proto). Each block goes through PutBlock (put_block.h), as a Put's
// does; it is compressed and stored on the codec pool as soon as its last chunk has arrived,
// while the next block is received. At most two blocks are held: the one being stored and the
// one being received (when that one is complete before the other is stored, reading pauses), so
// a batch holds at most two blocks of the in-flight byte budget whatever its length.
//
// A block's refused header is that block's result (its chunks are skipped); a protocol error,
// cancellation or the deadline end the call: blocks stored before stay stored, the block being
// received is dropped, and the block being stored is stored only if its last CheckCallWanted
// passed before the call broke.
//
// Lifetime: created by the service for one call; deletes itself in OnDone. Finish is called
// only when no block is on the codec pool, so OnDone never races a pool task.
#ifndef GEARKV_SERVER_SRC_PUT_MANY_REACTOR_H_
#define GEARKV_SERVER_SRC_PUT_MANY_REACTOR_H_

#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gearkv/base/mutex.h"
#include "gearkv/v1/kv_cache.pb.h"
#include "put_block.h"
#include "service_core.h"

namespace gearkv::server {

class PutManyReactor final : public grpc::ServerReadReactor<v1::PutManyRequest> {
 public:
  PutManyReactor(ServiceCore& core, grpc::CallbackServerContext* context,
                 v1::PutManyResponse* response);

  void OnReadDone(bool ok) override;
  void OnDone() override;

 private:
  // What to do with the call once mu_ is released (gRPC may run a reaction inline from StartRead
  // or Finish, which takes mu_ again): at most one of them.
  struct Actions {
    bool read = false;
    std::optional<grpc::Status> finish;
  };
  void Perform(const Actions& actions);

  // A complete block and its index, for the codec pool.
  struct Ready {
    std::unique_ptr<PutBlock> block;
    int index = 0;
  };

  // One message of the stream: whether to read the next one now; an error ends the call.
  absl::StatusOr<bool> Accept(v1::PutManyRequest& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AcceptHeader(const v1::PutHeader& header) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands a complete block to the codec pool, or parks it while another is being stored.
  // Whether reading may go on.
  bool HandOff(Ready ready) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Submit(Ready ready) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // On the codec pool.
  void Store(Ready ready);
  // Store's bookkeeping once the block is stored or refused: its result, the parked block.
  void StoreDone(Ready ready, const absl::Status& status, v1::PutResponse& stored, Actions& actions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the call with `status` once no block is on the codec pool (now, or when it is back).
  void EndWith(const absl::Status& status, Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeFinish(Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Block `index`'s result (`stored` when OK), told to the observer with `block`'s figures.
  void SetResult(int index, const absl::Status& status, v1::PutResponse* stored,
                 const PutBlock& block) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ServiceCore& core_;
  grpc::CallbackServerContext* const context_;
  v1::PutManyResponse* const response_;
  const absl::Time start_;

  Mutex mu_;
  v1::PutManyRequest request_;           // the read in flight writes it; only read after OnReadDone
  int blocks_ ABSL_GUARDED_BY(mu_) = 0;  // headers seen
  std::unique_ptr<PutBlock> receiving_ ABSL_GUARDED_BY(mu_);  // null: none, or skipping
  bool skipping_ ABSL_GUARDED_BY(mu_) = false;            // the current block's header was refused
  bool storing_ ABSL_GUARDED_BY(mu_) = false;             // a block is on the codec pool
  std::optional<Ready> parked_ ABSL_GUARDED_BY(mu_);      // complete, waiting for the pool
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);  // the call's status, once known
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t bytes_in_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t raw_stored_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t block_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::StatusCode code_ ABSL_GUARDED_BY(mu_) = absl::StatusCode::kUnknown;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_PUT_MANY_REACTOR_H_
