#include "process_stats.h"

#include <ctime>

#include "gtest/gtest.h"

namespace gearkv::metrics::internal {
namespace {

TEST(ProcessStatsTest, ParsesProcStatWithAwkwardCommandName) {
  // Fields 14 utime=250, 15 stime=50, 22 starttime=1000, 23 vsize=123456, 24 rss=10 pages.
  const std::string stat =
      "4242 (gear kv) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 "
      "123456 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
  absl::StatusOr<ProcessStats> stats = ParseProcStat(stat, 100, 4096, 1'700'000'000);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_DOUBLE_EQ(stats->cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(stats->start_time_seconds, 1'700'000'010.0);
  EXPECT_DOUBLE_EQ(stats->virtual_memory_bytes, 123456);
  EXPECT_DOUBLE_EQ(stats->resident_memory_bytes, 40960);
}

TEST(ProcessStatsTest, RejectsTruncatedStat) {
  EXPECT_EQ(ParseProcStat("1 (x) S 1 2 3", 100, 4096, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseProcStat("no parenthesis", 100, 4096, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProcessStatsTest, ParsesBootTime) {
  absl::StatusOr<double> btime = ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1712345678\nctxt 9\n");
  ASSERT_TRUE(btime.ok());
  EXPECT_EQ(*btime, 1712345678);
  EXPECT_FALSE(ParseBootTime("cpu 1 2 3\n").ok());
}

TEST(ProcessStatsTest, ReadsThisProcess) {
  absl::StatusOr<ProcessStats> stats = ReadSelfProcessStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GT(stats->resident_memory_bytes, 0);
  EXPECT_GE(stats->open_fds, 3);  // stdin, stdout, stderr
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(stats->start_time_seconds, now + 1);
  EXPECT_GT(stats->start_time_seconds, now - 24 * 3600);
}

}  // namespace
}  // namespace gearkv::metrics::internal
