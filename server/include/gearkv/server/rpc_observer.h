// The service's observation points, for metrics: one call when an RPC arrives, one when it
// finishes (exactly once each, whatever the outcome), and one per codec operation. The service owns
// no metrics itself; gearkv::metrics (or a test) implements this interface and is handed to the
// server. The default methods do nothing.
//
// Thread-safety: methods are called concurrently from gRPC and worker threads; implementations
// must be thread-safe and fast (no blocking, no I/O).
#ifndef GEARKV_SERVER_RPC_OBSERVER_H_
#define GEARKV_SERVER_RPC_OBSERVER_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gearkv/base/codec_op.h"
#include "gearkv/codec.h"

namespace gearkv::server {

// One finished RPC.
struct RpcRecord {
  // "Put", "Get", "Lookup", "Delete", "Stats", "GetMany", "PutMany"
  std::string_view method;
  absl::StatusCode code = absl::StatusCode::kOk;  // what the client was answered
  absl::Duration latency;                         // from the call's start to its final status
  uint64_t bytes_in = 0;                          // payload received: Put's tensor bytes (chunks)
  uint64_t bytes_out = 0;                         // payload sent: Get's chunk bytes
  // Put: the tensor's size; Get: the size of the tensor the payload stands for (the RAW bytes
  // it decompresses to, for a COMPRESSED get too). 0 when the call failed before knowing.
  uint64_t raw_bytes = 0;
  // Put: the stored block's size; Get: the sent block's size (0 for RAW).
  uint64_t block_bytes = 0;
  // Put: the preset the spec was resolved from (the request's, or the server default).
  std::string_view preset;
  // Put: ||X - X^||_F / ||X||_F when the client asked to measure it.
  std::optional<double> relative_error;
  // GetMany: the keys asked; PutMany: the blocks sent (headers). 0 for the other methods. The
  // byte figures above are the batch's totals; each block is also a BatchKeyRecord.
  uint32_t batch_blocks = 0;
};

// One block of a batched call (GetMany, PutMany), reported when its outcome is known (before the
// call's RpcRecord); its fields mean what RpcRecord's mean for a Get or Put of that one block.
struct BatchKeyRecord {
  std::string_view method;                        // "GetMany", "PutMany"
  absl::StatusCode code = absl::StatusCode::kOk;  // the block's own status
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t raw_bytes = 0;
  uint64_t block_bytes = 0;
  std::string_view preset;
  std::optional<double> relative_error;
};

// One compression or decompression on the worker pool.
struct CodecRecord {
  CodecOp op = CodecOp::kCompress;
  Backend backend = Backend::kCpu;
  bool ok = true;
  absl::Duration duration;
  uint64_t raw_bytes = 0;
  uint64_t block_bytes = 0;
  std::optional<double> relative_error;  // when measured
};

class RpcObserver {
 public:
  virtual ~RpcObserver() = default;
  virtual void OnRpcStarted(std::string_view method) {}
  virtual void OnRpcDone(const RpcRecord& record) {}
  virtual void OnBatchKeyDone(const BatchKeyRecord& record) {}
  virtual void OnCodecDone(const CodecRecord& record) {}
  // The worker pool named `pool` ("codec", "io") refused work: its workers were busy and its
  // queue full, and the call answers RESOURCE_EXHAUSTED.
  virtual void OnPoolRejected(std::string_view pool) {}
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_RPC_OBSERVER_H_
