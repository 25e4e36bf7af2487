#include "worker_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace gearkv::server {
namespace {

TEST(WorkerPoolTest, RunsEveryTask) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool("test", 3, 100);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.TrySubmit([&] { ++ran; }).ok());
    pool.Shutdown();
  }
  EXPECT_EQ(ran.load(), 50);
}

TEST(WorkerPoolTest, SaturatedQueueIsResourceExhausted) {
  WorkerPool pool("codec", 1, 2);
  absl::Notification started, release;
  ASSERT_TRUE(pool.TrySubmit([&] {
                    started.Notify();
                    release.WaitForNotification();
                  })
                  .ok());
  started.WaitForNotification();  // the only worker is busy
  EXPECT_FALSE(pool.Saturated());
  EXPECT_TRUE(pool.TrySubmit([] {}).ok());
  EXPECT_TRUE(pool.TrySubmit([] {}).ok());
  EXPECT_TRUE(pool.Saturated());
  const absl::Status refused = pool.TrySubmit([] {});
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.message().find("codec pool saturated"), std::string_view::npos) << refused;
  release.Notify();
  pool.Shutdown();
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(WorkerPoolTest, ZeroDepthAcceptsOnlyWhenAThreadIsIdle) {
  WorkerPool pool("test", 2, 0);
  absl::Notification release;
  std::atomic<int> started{0};
  auto block = [&] {
    ++started;
    release.WaitForNotification();
  };
  ASSERT_TRUE(pool.TrySubmit(block).ok());
  ASSERT_TRUE(pool.TrySubmit(block).ok());
  EXPECT_EQ(pool.TrySubmit([] {}).code(), absl::StatusCode::kResourceExhausted);
  release.Notify();
  pool.Shutdown();
  EXPECT_EQ(started.load(), 2);
}

TEST(WorkerPoolTest, ShutdownRunsQueuedTasksThenRefuses) {
  std::atomic<int> ran{0};
  WorkerPool pool("test", 1, 10);
  absl::Notification release;
  ASSERT_TRUE(pool.TrySubmit([&] { release.WaitForNotification(); }).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.TrySubmit([&] { ++ran; }).ok());
  release.Notify();
  pool.Shutdown();
  EXPECT_EQ(ran.load(), 5);
  EXPECT_EQ(pool.TrySubmit([] {}).code(), absl::StatusCode::kUnavailable);
  pool.Shutdown();  // idempotent
}

}  // namespace
}  // namespace gearkv::server
