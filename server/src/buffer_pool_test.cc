#include "buffer_pool.h"

#include <cstring>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace gearkv::server {
namespace {

TEST(BufferPoolTest, ReusesAReturnedBufferForASimilarSize) {
  auto pool = BufferPool::Create(1 << 20);
  char* first = nullptr;
  {
    std::shared_ptr<char[]> a = pool->Take(1000);
    first = a.get();
    std::memset(a.get(), 1, 1000);  // usable over the whole size (ASan checks)
    EXPECT_EQ(pool->cached_buffers(), 0u);
  }
  EXPECT_EQ(pool->cached_buffers(), 1u);
  EXPECT_EQ(pool->cached_bytes(), 1000u);
  std::shared_ptr<char[]> b = pool->Take(600);  // 1000 <= 2 * 600: reused
  EXPECT_EQ(b.get(), first);
  EXPECT_EQ(pool->cached_bytes(), 0u);
  b.reset();
  std::shared_ptr<char[]> c = pool->Take(400);  // 1000 > 2 * 400: a new one
  EXPECT_NE(c.get(), first);
  std::memset(c.get(), 2, 400);
  std::shared_ptr<char[]> d = pool->Take(1001);  // larger than any idle one: a new one
  EXPECT_NE(d.get(), first);
  std::memset(d.get(), 3, 1001);
  EXPECT_EQ(pool->cached_buffers(), 1u);  // the 1000-byte one is still idle
}

TEST(BufferPoolTest, KeepsAtMostTheCapAndDropsTheSmallestFirst) {
  auto pool = BufferPool::Create(3000);
  {
    std::vector<std::shared_ptr<char[]>> out;
    for (uint64_t size : {500, 1000, 1200}) out.push_back(pool->Take(size));
  }  // all back: 2700 bytes idle
  EXPECT_EQ(pool->cached_bytes(), 2700u);
  // 2500 back: 500, 1000 and then 1200 (smallest first) make room.
  { std::shared_ptr<char[]> big = pool->Take(2500); }
  EXPECT_EQ(pool->cached_bytes(), 2500u);
  EXPECT_EQ(pool->cached_buffers(), 1u);
  { std::shared_ptr<char[]> huge = pool->Take(4000); }  // over the cap: freed, not kept
  EXPECT_EQ(pool->cached_bytes(), 2500u);
}

TEST(BufferPoolTest, ABufferMayOutliveEveryOtherReferenceToThePool) {
  auto pool = BufferPool::Create(1 << 20);
  std::shared_ptr<char[]> kept = pool->Take(100);
  pool.reset();  // the buffer holds the pool
  std::memset(kept.get(), 4, 100);
  kept.reset();  // returns to the pool, then both go (ASan / LeakSanitizer check)
}

TEST(BufferPoolTest, ConcurrentTakesAndReturnsNeverShareABuffer) {
  auto pool = BufferPool::Create(64 << 10);
  std::vector<std::thread> threads;
  std::vector<int> errors(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const uint64_t size = 1000 + (i * 37 + t * 101) % 9000;
        std::shared_ptr<char[]> b = pool->Take(size);
        std::memset(b.get(), t, size);
        for (uint64_t j = 0; j < size; j += 97) errors[t] += b[j] != static_cast<char>(t);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int e : errors) EXPECT_EQ(e, 0);
  EXPECT_LE(pool->cached_bytes(), uint64_t{64} << 10);
}

}  // namespace
}  // namespace gearkv::server
