// What every RPC handler of the KVCache service shares: the codec, the store, the worker pools,
// the observer and the request limits. Owned by Server; outlives every call.
#ifndef GEARKV_SERVER_SRC_SERVICE_CORE_H_
#define GEARKV_SERVER_SRC_SERVICE_CORE_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "buffer_pool.h"
#include "byte_budget.h"
#include "gearkv/codec.h"
#include "gearkv/server/rpc_observer.h"
#include "gearkv/store/block_store.h"
#include "worker_pool.h"

namespace gearkv::server {

struct ServiceCore {
  const Codec* codec = nullptr;
  store::BlockStore* store = nullptr;
  WorkerPool* codec_pool = nullptr;  // compression, decompression (and the store access of those)
  WorkerPool* io_pool = nullptr;     // store-only work: COMPRESSED Get, Lookup, Delete, Stats
  RpcObserver* observer = nullptr;   // never null
  std::string default_preset = "gear4";
  uint64_t max_block_bytes = uint64_t{256} << 20;
  int codec_threads = 1;  // CompressOptions/DecompressOptions::threads
  // Raw tensors held at once (Puts being received/compressed, RAW Gets); never null.
  ByteBudget* tensor_budget = nullptr;
  // Where those tensors' buffers come from (and go back to); never null.
  BufferPool* tensor_buffers = nullptr;
  // When not empty, every KVCache call must carry "authorization: Bearer <auth_token>".
  std::string auth_token;
  std::atomic<bool> draining{false};

  // What every call checks first: UNAVAILABLE while draining, UNAUTHENTICATED when a token is
  // required and missing or wrong, else OK.
  absl::Status CheckCall(const grpc::CallbackServerContext& context) const;
  // Submits to `pool`, telling the observer when the pool refuses.
  absl::Status Submit(WorkerPool& pool, std::function<void()> task) const;
  // Takes `bytes` from tensor_budget, or RESOURCE_EXHAUSTED saying why.
  absl::Status AcquireTensorBytes(uint64_t bytes) const;
};

// OK while the client still waits for the call; CANCELLED ("<what>: call cancelled") once it
// cancelled or the call broke, DEADLINE_EXCEEDED ("<what>: the call's deadline passed") once the
// call's deadline has passed - checked against the clock, so also before gRPC's own deadline
// timer has run. Checked before storing a result and before starting work, so nothing finished
// after the client gave up is stored.
absl::Status CheckCallWanted(const grpc::CallbackServerContext& context, std::string_view what);

// Records `method` with the observer and finishes a unary call.
void FinishUnary(const ServiceCore& core, grpc::ServerUnaryReactor* reactor,
                 std::string_view method, absl::Time start, const absl::Status& status);

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_SERVICE_CORE_H_
