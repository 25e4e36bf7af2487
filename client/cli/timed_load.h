// A timed concurrent load: N clients, each running one operation in a loop for a duration, with
// latencies, throughput, errors and progress lines. Behind `gearkv bench` and bench/service's
// Redis load, so both sides of a comparison are measured the same way.
#ifndef GEARKV_CLIENT_CLI_TIMED_LOAD_H_
#define GEARKV_CLIENT_CLI_TIMED_LOAD_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "latency.h"

namespace gearkv::cli {

struct OpReport {
  uint64_t ops = 0;
  uint64_t errors = 0;
  std::string first_error;  // empty when errors == 0
  double seconds = 0;
  uint64_t raw_bytes = 0;   // tensor bytes moved (the uncompressed size of each block)
  uint64_t wire_bytes = 0;  // payload bytes on the wire
  LatencySummary latency;

  double OpsPerSecond() const { return seconds > 0 ? ops / seconds : 0; }
  double RawGBps() const { return seconds > 0 ? raw_bytes / seconds / 1e9 : 0; }
  double WireGBps() const { return seconds > 0 ? wire_bytes / seconds / 1e9 : 0; }
};

// What one operation did.
struct OpOutcome {
  absl::Status status;
  uint64_t wire_bytes = 0;     // counted when status is OK
  bool client_broken = false;  // the client cannot go on (its loop ends)
};

struct TimedLoad {
  std::string name;  // in progress lines: "put", "get", "redis set", ...
  int clients = 1;
  absl::Duration duration = absl::Seconds(10);
  uint64_t raw_bytes_per_op = 0;
  // Called about every `progress_interval` with a one-line status (empty function = silent).
  std::function<void(const std::string&)> progress;
  absl::Duration progress_interval = absl::Seconds(1);
};

// Starts load.clients threads together; thread c calls op(c, 0), op(c, 1), ... until
// load.duration has passed. op is called concurrently for different clients, never twice at
// once for the same one. Failed operations count as errors and are not timed.
OpReport RunTimedLoad(const TimedLoad& load,
                      const std::function<OpOutcome(int client, uint64_t iteration)>& op);

}  // namespace gearkv::cli

#endif  // GEARKV_CLIENT_CLI_TIMED_LOAD_H_
