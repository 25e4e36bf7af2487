// ParallelFor: every index exactly once, for concurrent and nested callers sharing the pool.
#include "cpu/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace gearkv::internal {
namespace {

// Runs ParallelFor(n, threads) and checks that fn saw each index exactly once.
void ExpectEachIndexOnce(uint64_t n, int threads) {
  std::vector<std::atomic<int>> seen(n);
  ParallelFor(n, threads, [&](uint64_t i) { seen[i].fetch_add(1); });
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(seen[i].load(), 1) << "index " << i;
}

TEST(ParallelFor, RunsEachIndexOnceForAnyThreadCount) {
  for (int threads : {0, 1, 2, 3, 64}) {
    for (uint64_t n : {0, 1, 2, 7, 1000}) {
      SCOPED_TRACE(testing::Message() << "threads " << threads << ", n " << n);
      ExpectEachIndexOnce(n, threads);
    }
  }
}

TEST(ParallelFor, WritesOfEveryIndexAreVisibleToTheCaller) {
  std::vector<uint64_t> out(4096, 0);  // plain writes: ParallelFor's return must publish them
  for (int round = 0; round < 50; ++round) {
    ParallelFor(out.size(), 0, [&](uint64_t i) { out[i] = i * round + 1; });
    for (uint64_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], i * round + 1);
  }
}

TEST(ParallelFor, ConcurrentCallersShareThePool) {
  std::vector<std::thread> callers;
  std::atomic<int> bad{0};
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 100; ++round) {
        std::vector<int> hits(37, 0);
        ParallelFor(hits.size(), 0, [&](uint64_t i) { hits[i] += 1; });
        for (int h : hits) bad += h != 1;
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ParallelFor, NestedLoopsComplete) {
  std::atomic<uint64_t> total{0};
  ParallelFor(16, 0,
              [&](uint64_t) { ParallelFor(16, 0, [&](uint64_t j) { total.fetch_add(j + 1); }); });
  EXPECT_EQ(total.load(), 16u * (16 * 17 / 2));
}

}  // namespace
}  // namespace gearkv::internal
