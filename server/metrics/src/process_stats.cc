#include "process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gearkv/base/strings.h"

namespace gearkv::metrics::internal {
namespace {

// Debian's abseil is built with its own string_view type, distinct from std::string_view.

absl::StatusOr<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return absl::UnavailableError(absl::StrCat("cannot open ", path));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Entries of /proc/self/fd, not counting the directory handle used to list it.
double CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  int count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count > 0 ? count - 1 : 0;
}

}  // namespace

absl::StatusOr<ProcessStats> ParseProcStat(std::string_view stat, double ticks_per_second,
                                           double page_bytes, double boot_time_seconds) {
  // "pid (comm) state ppid ...": comm may hold spaces and ')', so split after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) {
    return absl::InvalidArgumentError("/proc/self/stat: no ')' after the command name");
  }
  const std::vector<absl::string_view> fields =
      absl::StrSplit(ToAbsl(stat.substr(close + 1)), ' ', absl::SkipWhitespace());
  // fields[0] is field 3 (state) of proc(5); field n is fields[n - 3].
  auto field = [&](int n, double* out) {
    return n - 3 < static_cast<int>(fields.size()) && absl::SimpleAtod(fields[n - 3], out);
  };
  double utime, stime, starttime, vsize, rss;
  if (!field(14, &utime) || !field(15, &stime) || !field(22, &starttime) || !field(23, &vsize) ||
      !field(24, &rss)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "/proc/self/stat: expected at least 24 numeric fields, got ", fields.size() + 2));
  }
  ProcessStats stats;
  stats.cpu_seconds = (utime + stime) / ticks_per_second;
  stats.start_time_seconds = boot_time_seconds + starttime / ticks_per_second;
  stats.virtual_memory_bytes = vsize;
  stats.resident_memory_bytes = rss * page_bytes;
  return stats;
}

absl::StatusOr<double> ParseBootTime(std::string_view proc_stat) {
  for (absl::string_view line : absl::StrSplit(ToAbsl(proc_stat), '\n')) {
    if (line.substr(0, 6) != "btime ") continue;
    double btime;
    if (absl::SimpleAtod(line.substr(6), &btime)) return btime;
  }
  return absl::InvalidArgumentError("/proc/stat: no btime line");
}

absl::StatusOr<ProcessStats> ReadSelfProcessStats() {
  static const double kTicks = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const double kPage = static_cast<double>(sysconf(_SC_PAGESIZE));
  static const absl::StatusOr<double> kBootTime = []() -> absl::StatusOr<double> {
    absl::StatusOr<std::string> text = ReadFile("/proc/stat");
    if (!text.ok()) return text.status();
    return ParseBootTime(*text);
  }();
  if (!kBootTime.ok()) return kBootTime.status();
  absl::StatusOr<std::string> stat = ReadFile("/proc/self/stat");
  if (!stat.ok()) return stat.status();
  absl::StatusOr<ProcessStats> stats = ParseProcStat(*stat, kTicks, kPage, *kBootTime);
  if (!stats.ok()) return stats;
  stats->open_fds = CountOpenFds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    stats->max_fds = limit.rlim_cur == RLIM_INFINITY ? 0 : static_cast<double>(limit.rlim_cur);
  }
  return stats;
}

}  // namespace gearkv::metrics::internal
