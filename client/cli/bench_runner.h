// The load generator behind `gearkv bench` (and bench/service): N concurrent clients, each with
// its own connection, first storing blocks for `duration` (put phase), then reading them back
// for `duration` (get phase). Every client cycles over its own `keys_per_client` keys, so the
// server holds clients * keys_per_client blocks. Gets that produce the tensor (RAW, or
// COMPRESSED decompressed on the client) go with Client::GetInto into one buffer per client,
// allocated once before the get phase (what an engine does with its KV cache); COMPRESSED gets
// without decompression use Client::Get.
#ifndef GEARKV_CLIENT_CLI_BENCH_RUNNER_H_
#define GEARKV_CLIENT_CLI_BENCH_RUNNER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gearkv/client.h"
#include "nlohmann/json.hpp"
#include "timed_load.h"

namespace gearkv::cli {

struct BenchConfig {
  ClientOptions client;  // target, deadline, retries; own_connection is forced on
  int clients = 1;
  TensorShape shape{32, 8, 256, 128};  // 32 MiB of fp16
  DType dtype = DType::kFloat16;
  CodecRequest codec;                           // preset + overrides
  absl::Duration duration = absl::Seconds(10);  // of each phase
  bool run_put = true;
  bool run_get = true;
  GetEncoding get_encoding = GetEncoding::kCompressed;
  bool decompress = true;  // COMPRESSED gets are decompressed on the client (as a worker would)
  int keys_per_client = 2;
  std::string ns = "gearkv-bench";
  uint64_t seed = 1;
  bool cleanup = true;  // delete the keys at the end
  // Called about every `progress_interval` with a one-line status (empty function = silent).
  std::function<void(const std::string&)> progress;
  absl::Duration progress_interval = absl::Seconds(1);
};

struct BenchReport {
  BenchConfig config;
  std::string preset;   // as resolved by the server ("" when overridden)
  std::string backend;  // the server's codec backend
  uint64_t block_raw_bytes = 0;
  uint64_t block_stored_bytes = 0;  // one block's compressed size
  double ratio = 0;
  // Server memory-tier bytes per stored block after the put phase (store overhead included),
  // and the tokens a GiB of it holds; 0 when unknown.
  double server_bytes_per_block = 0;
  double tokens_per_gib = 0;
  OpReport put;
  OpReport get;
};

// Whether the get phase uses GetInto into a reused buffer per client (see above).
bool GetsIntoBuffer(const BenchConfig& config);

// Runs the benchmark. Errors only when it cannot start (bad config, no server); failed calls
// during the run are counted in OpReport::errors.
absl::StatusOr<BenchReport> RunBench(const BenchConfig& config);

nlohmann::json BenchReportToJson(const BenchReport& report);
// A small human-readable table.
std::string FormatBenchReport(const BenchReport& report);

}  // namespace gearkv::cli

#endif  // GEARKV_CLIENT_CLI_BENCH_RUNNER_H_
