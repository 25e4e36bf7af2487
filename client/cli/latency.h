// Latency samples and their summary, for benchmarks.
#ifndef GEARKV_CLIENT_CLI_LATENCY_H_
#define GEARKV_CLIENT_CLI_LATENCY_H_

#include <vector>

namespace gearkv::cli {

struct LatencySummary {
  double mean_ms = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// Nearest-rank percentiles of `samples_ms` (sorted in place); all zero when empty.
LatencySummary Summarize(std::vector<double>& samples_ms);

}  // namespace gearkv::cli

#endif  // GEARKV_CLIENT_CLI_LATENCY_H_
