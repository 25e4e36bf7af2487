#include "byte_budget.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace gearkv::server {
namespace {

TEST(ByteBudgetTest, AcquiresUpToTheLimit) {
  ByteBudget budget(100);
  EXPECT_TRUE(budget.TryAcquire(60));
  EXPECT_TRUE(budget.TryAcquire(40));
  EXPECT_FALSE(budget.TryAcquire(1));
  budget.Release(40);
  EXPECT_EQ(budget.used(), 60u);
  EXPECT_FALSE(budget.TryAcquire(41));
  EXPECT_TRUE(budget.TryAcquire(40));
  EXPECT_FALSE(budget.TryAcquire(~uint64_t{0}));  // no overflow
}

TEST(ByteBudgetTest, ConcurrentAcquireNeverPassesTheLimit) {
  ByteBudget budget(1000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        if (budget.TryAcquire(7)) {
          EXPECT_LE(budget.used(), 1000u);
          budget.Release(7);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace gearkv::server
