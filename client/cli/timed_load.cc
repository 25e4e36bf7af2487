#include "timed_load.h"

#include <algorithm>
#include <atomic>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace gearkv::cli {

OpReport RunTimedLoad(const TimedLoad& load,
                      const std::function<OpOutcome(int client, uint64_t iteration)>& op) {
  const int n = load.clients;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0}, wire{0}, errors{0};
  std::vector<std::vector<double>> latencies(n);
  std::mutex error_mu;
  std::string first_error;
  std::latch start(n + 1);
  std::vector<std::thread> threads;
  for (int c = 0; c < n; ++c) {
    threads.emplace_back([&, c] {
      start.arrive_and_wait();
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const absl::Time t0 = absl::Now();
        const OpOutcome outcome = op(c, i);
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
        if (!outcome.status.ok()) {
          errors.fetch_add(1, std::memory_order_relaxed);
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.empty()) first_error = outcome.status.ToString();
          if (outcome.client_broken) return;
          continue;
        }
        latencies[c].push_back(ms);
        ops.fetch_add(1, std::memory_order_relaxed);
        wire.fetch_add(outcome.wire_bytes, std::memory_order_relaxed);
      }
    });
  }
  start.arrive_and_wait();
  const absl::Time t_start = absl::Now();
  const absl::Time t_stop = t_start + load.duration;
  for (absl::Time now = absl::Now(); now < t_stop; now = absl::Now()) {
    absl::SleepFor(std::min(load.progress_interval, t_stop - now));
    if (load.progress) {
      const double s = absl::ToDoubleSeconds(absl::Now() - t_start);
      const uint64_t done = ops.load();
      load.progress(absl::StrFormat(
          "[%s] %5.1f/%.0f s  %6d ops  %8.1f ops/s  %6.2f GB/s raw  %6.2f GB/s wire  errors %d",
          load.name, s, absl::ToDoubleSeconds(load.duration), done, done / s,
          done * load.raw_bytes_per_op / s / 1e9, wire.load() / s / 1e9, errors.load()));
    }
  }
  stop = true;
  for (auto& t : threads) t.join();
  OpReport report;
  report.seconds = absl::ToDoubleSeconds(absl::Now() - t_start);
  report.ops = ops.load();
  report.errors = errors.load();
  report.first_error = first_error;
  report.raw_bytes = report.ops * load.raw_bytes_per_op;
  report.wire_bytes = wire.load();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  report.latency = Summarize(all);
  return report;
}

}  // namespace gearkv::cli
