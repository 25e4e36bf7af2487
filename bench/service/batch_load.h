// The batched rows of the service benchmark: N threads, each moving `blocks` KV blocks per
// operation. gearkv: one PutMany, then one GetManyInto (COMPRESSED, decoded on the client into
// buffers allocated once, as an engine's KV cache is); Redis: the same raw blocks with pipelined
// SETs, then pipelined GETs (hiredis: every command appended, then every reply read). Measured
// by cli::RunTimedLoad like the single-block rows; an operation is one whole batch.
#ifndef GEARKV_BENCH_SERVICE_BATCH_LOAD_H_
#define GEARKV_BENCH_SERVICE_BATCH_LOAD_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gearkv/client.h"
#include "timed_load.h"

namespace gearkv::bench {

struct BatchLoadConfig {
  int clients = 1;
  int blocks = 32;                    // per batch; each client has its own `blocks` keys
  TensorShape shape{1, 8, 256, 128};  // 1 MiB of fp16 per block
  DType dtype = DType::kFloat16;
  absl::Duration duration = absl::Seconds(10);  // of each phase
  uint64_t seed = 1;
  std::function<void(const std::string&)> progress;
};

struct BatchLoadReport {
  uint64_t block_bytes = 0;   // raw, per block
  uint64_t stored_bytes = 0;  // per block as gearkv stored it (0 for Redis)
  cli::OpReport put;          // one op = one batch
  cli::OpReport get;
};

// gearkv: `target`, compressing with `codec`.
absl::StatusOr<BatchLoadReport> RunGearkvBatchLoad(const BatchLoadConfig& config,
                                                   const std::string& target,
                                                   const CodecRequest& codec);

// Redis at host:port.
absl::StatusOr<BatchLoadReport> RunRedisBatchLoad(const BatchLoadConfig& config,
                                                  const std::string& host, int port);

}  // namespace gearkv::bench

#endif  // GEARKV_BENCH_SERVICE_BATCH_LOAD_H_
