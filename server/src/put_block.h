// One block of a Put or of a PutMany, without gRPC's stream: its header checked (and the
// tensor's bytes taken from the in-flight budget), its chunks copied in order, then compressed
// and stored. PutReactor drives one; PutManyReactor one per block of its stream.
//
// Not thread-safe; the reactor that owns it hands it from the gRPC thread to the codec pool and
// back, never using it from two threads at once.
#ifndef GEARKV_SERVER_SRC_PUT_BLOCK_H_
#define GEARKV_SERVER_SRC_PUT_BLOCK_H_

#include <grpcpp/server_context.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gearkv/codec.h"
#include "gearkv/store/block_store.h"
#include "gearkv/v1/kv_cache.pb.h"
#include "service_core.h"

namespace gearkv::server {

class PutBlock {
 public:
  // `core` outlives the block.
  explicit PutBlock(ServiceCore& core) : core_(core) {}
  ~PutBlock() { ReleaseTensor(); }
  PutBlock(const PutBlock&) = delete;
  PutBlock& operator=(const PutBlock&) = delete;

  // Checks and adopts the header: key, dtype, shape, spec, --max_block_bytes (RESOURCE_EXHAUSTED),
  // a saturated codec pool (RESOURCE_EXHAUSTED, told to the observer), then the tensor's bytes
  // from the budget and a buffer for them. Call once.
  absl::Status AcceptHeader(const v1::PutHeader& header);
  // Copies the next chunk (at most 1 MiB, never past the declared size: INVALID_ARGUMENT).
  absl::Status AcceptChunk(std::string_view chunk);
  // Whether every byte the header declares has arrived.
  bool complete() const { return received_bytes_ == expected_bytes_; }
  // INVALID_ARGUMENT "fewer bytes than the header declares ..." unless complete().
  absl::Status CheckComplete() const;

  // On the codec pool, once complete(): unless `context`'s caller has left, compresses the
  // tensor, gives its bytes back to the budget, checks again and stores the block; fills
  // *response (stats, resolved spec, backend) when stored. `method` names the call in the
  // messages ("Put", "PutMany").
  absl::Status CompressAndStore(const grpc::CallbackServerContext& context, std::string_view method,
                                v1::PutResponse* response);

  // Frees the buffered tensor and gives its bytes back to the budget (idempotent).
  void ReleaseTensor();

  uint64_t received_bytes() const { return received_bytes_; }
  uint64_t expected_bytes() const { return expected_bytes_; }
  uint64_t block_bytes() const { return block_bytes_; }  // of the stored block
  const std::string& preset() const { return preset_; }
  std::optional<double> relative_error() const { return relative_error_; }

 private:
  ServiceCore& core_;
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
  uint64_t budget_held_ = 0;        // bytes taken from core_.tensor_budget
  uint64_t received_bytes_ = 0;     // of tensor_, filled in order
  uint64_t block_bytes_ = 0;
  std::optional<double> relative_error_;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_PUT_BLOCK_H_
