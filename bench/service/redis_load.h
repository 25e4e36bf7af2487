// The Redis side of the service benchmark: N threads, one hiredis connection each, storing the
// same raw KV blocks with SET and reading them back with GET, measured exactly like
// gearkv::cli::RunBench measures gearkv (same phases, same OpReport).
#ifndef GEARKV_BENCH_SERVICE_REDIS_LOAD_H_
#define GEARKV_BENCH_SERVICE_REDIS_LOAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench_runner.h"

namespace gearkv::bench {

struct RedisLoadConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  int clients = 1;
  TensorShape shape{32, 8, 256, 128};
  DType dtype = DType::kFloat16;
  absl::Duration duration = absl::Seconds(10);  // of each phase
  int keys_per_client = 2;
  uint64_t seed = 1;
  std::function<void(const std::string&)> progress;
};

struct RedisLoadReport {
  uint64_t block_bytes = 0;
  // Redis used_memory growth per stored block (allocator and dict overhead included) and the
  // tokens a GiB of it holds.
  double server_bytes_per_block = 0;
  double tokens_per_gib = 0;
  cli::OpReport set;
  cli::OpReport get;
};

absl::StatusOr<RedisLoadReport> RunRedisLoad(const RedisLoadConfig& config);

}  // namespace gearkv::bench

#endif  // GEARKV_BENCH_SERVICE_REDIS_LOAD_H_
