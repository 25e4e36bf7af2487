// Statistics of the running process read from /proc, for the standard process_* metrics
// (the names and meanings of the Prometheus client libraries' process collector).
//
// Thread-safety: free functions without shared state.
#ifndef GEARKV_METRICS_SRC_PROCESS_STATS_H_
#define GEARKV_METRICS_SRC_PROCESS_STATS_H_

#include <string_view>

#include "absl/status/statusor.h"

namespace gearkv::metrics::internal {

struct ProcessStats {
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // Unix time
  double open_fds = 0;
  double max_fds = 0;  // soft RLIMIT_NOFILE
};

// Parses the text of /proc/<pid>/stat. `ticks_per_second` is sysconf(_SC_CLK_TCK),
// `page_bytes` the page size and `boot_time_seconds` the `btime` line of /proc/stat.
// INVALID_ARGUMENT when the text does not have the expected fields.
absl::StatusOr<ProcessStats> ParseProcStat(std::string_view stat, double ticks_per_second,
                                           double page_bytes, double boot_time_seconds);

// The `btime` value of the text of /proc/stat; INVALID_ARGUMENT when absent.
absl::StatusOr<double> ParseBootTime(std::string_view proc_stat);

// Everything for the calling process. UNAVAILABLE when /proc cannot be read.
absl::StatusOr<ProcessStats> ReadSelfProcessStats();

}  // namespace gearkv::metrics::internal

#endif  // GEARKV_METRICS_SRC_PROCESS_STATS_H_
