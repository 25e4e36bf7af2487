#include "gearkv/base/mutex.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace gearkv {
namespace {

// Four threads add to a counter under the lock; with a broken lock the sum comes up short (and
// TSan, in the tsan build, reports the race).
TEST(MutexTest, ExclusiveLockSerialisesWriters) {
  Mutex mu;
  int counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        MutexLock lock(&mu);
        ++counter;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter, 80000);
}

TEST(MutexTest, ReadersSeeWhatTheWriterPublished) {
  Mutex mu;
  int value = 0;
  std::thread writer([&] {
    MutexLock lock(&mu);
    value = 42;
  });
  writer.join();
  ReaderMutexLock lock(&mu);
  EXPECT_EQ(value, 42);
}

TEST(MutexTest, CondVarWakesTheWaiterOnceThePredicateHolds) {
  Mutex mu;
  CondVar cv;
  int stage = 0;  // guarded by mu
  std::thread consumer([&] {
    MutexLock lock(&mu);
    while (stage != 1) cv.Wait(&mu);
    stage = 2;
    cv.SignalAll();
  });
  {
    MutexLock lock(&mu);
    stage = 1;
    cv.Signal();
    while (stage != 2) cv.Wait(&mu);
  }
  consumer.join();
  MutexLock lock(&mu);
  EXPECT_EQ(stage, 2);
}

}  // namespace
}  // namespace gearkv
