#include "gearkv/store/memory_store.h"

#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_clock.h"

namespace gearkv::store {
namespace {

using ::testing::HasSubstr;

BlockBytes Bytes(size_t n, char fill = 'x') { return std::make_shared<const std::string>(n, fill); }

// Key "k<i>" in namespace "ns": a charge of 2 + key.size() + value bytes.
BlockKey Key(int i) { return BlockKey{"ns", absl::StrCat("k", i)}; }

TierStats StatsOf(MemoryStore& store) { return store.Stats().at(0); }

class MemoryStoreShardsTest : public ::testing::TestWithParam<int> {};

TEST_P(MemoryStoreShardsTest, EvictsLeastRecentlyUsedFirst) {
  // Room for exactly three blocks of 4 (key) + 96 (value) bytes.
  MemoryStore store({.capacity_bytes = 300, .num_shards = GetParam()});
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store.Put(Key(i), Bytes(96), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(store.Get(Key(0)).ok());  // k0 is now the most recently used; k1 the least

  ASSERT_TRUE(store.Put(Key(3), Bytes(96), absl::InfiniteFuture()).ok());
  EXPECT_TRUE(store.Contains(Key(0)));
  EXPECT_FALSE(store.Contains(Key(1)));
  EXPECT_TRUE(store.Contains(Key(2)));
  EXPECT_TRUE(store.Contains(Key(3)));

  ASSERT_TRUE(store.Put(Key(4), Bytes(96), absl::InfiniteFuture()).ok());
  EXPECT_FALSE(store.Contains(Key(2)));
  EXPECT_TRUE(store.Contains(Key(0)));

  const TierStats stats = StatsOf(store);
  EXPECT_EQ(stats.evictions, 2u);
  EXPECT_EQ(stats.blocks, 3u);
  EXPECT_EQ(stats.bytes, 300u);
  EXPECT_EQ(stats.capacity_bytes, 300u);
}

TEST_P(MemoryStoreShardsTest, ContainsDoesNotTouchLruOrder) {
  MemoryStore store({.capacity_bytes = 200, .num_shards = GetParam()});
  ASSERT_TRUE(store.Put(Key(0), Bytes(96), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(store.Put(Key(1), Bytes(96), absl::InfiniteFuture()).ok());
  EXPECT_TRUE(store.Contains(Key(0)));
  ASSERT_TRUE(store.Put(Key(2), Bytes(96), absl::InfiniteFuture()).ok());
  EXPECT_FALSE(store.Contains(Key(0)));
  EXPECT_EQ(StatsOf(store).hits, 0u);
}

INSTANTIATE_TEST_SUITE_P(Shards, MemoryStoreShardsTest, ::testing::Values(1, 4, 16));

TEST(MemoryStoreTest, RoundTripAndCounters) {
  MemoryStore store({.capacity_bytes = 1 << 20});
  const BlockBytes value = std::make_shared<const std::string>("payload");
  ASSERT_TRUE(store.Put(Key(1), value, absl::InfiniteFuture()).ok());
  absl::StatusOr<BlockBytes> got = store.Get(Key(1));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(**got, "payload");
  EXPECT_TRUE(absl::IsNotFound(store.Get(Key(2)).status()));
  const TierStats stats = StatsOf(store);
  EXPECT_EQ(stats.tier, "memory");
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.blocks, 1u);
  EXPECT_EQ(stats.bytes, 2u + 2u + 7u);
}

TEST(MemoryStoreTest, NamespacesScopeKeys) {
  MemoryStore store({.capacity_bytes = 1 << 20});
  ASSERT_TRUE(store.Put({"m1", "k"}, Bytes(3, 'a'), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(store.Put({"m2", "k"}, Bytes(3, 'b'), absl::InfiniteFuture()).ok());
  EXPECT_EQ(**store.Get({"m1", "k"}), "aaa");
  EXPECT_EQ(**store.Get({"m2", "k"}), "bbb");
}

TEST(MemoryStoreTest, PutReplacesWithoutEvictingOthers) {
  MemoryStore store({.capacity_bytes = 200, .num_shards = 1});
  ASSERT_TRUE(store.Put(Key(0), Bytes(90), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(store.Put(Key(1), Bytes(90), absl::InfiniteFuture()).ok());
  // Replacing k1 with a bigger block fits once the old k1 is gone: k0 must stay.
  ASSERT_TRUE(store.Put(Key(1), Bytes(96, 'y'), absl::InfiniteFuture()).ok());
  EXPECT_TRUE(store.Contains(Key(0)));
  EXPECT_EQ(**store.Get(Key(1)), std::string(96, 'y'));
  const TierStats stats = StatsOf(store);
  EXPECT_EQ(stats.blocks, 2u);
  EXPECT_EQ(stats.bytes, 94u + 100u);
  EXPECT_EQ(stats.evictions, 0u);
}

TEST(MemoryStoreTest, BlockLargerThanCapacityIsResourceExhausted) {
  MemoryStore store({.capacity_bytes = 100});
  ASSERT_TRUE(store.Put(Key(0), Bytes(50), absl::InfiniteFuture()).ok());
  const absl::Status status = store.Put(Key(1), Bytes(97), absl::InfiniteFuture());
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("101 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("capacity of 100 bytes"));
  EXPECT_TRUE(store.Contains(Key(0)));  // nothing was evicted for it
  // Exactly the capacity fits.
  EXPECT_TRUE(store.Put(Key(1), Bytes(96), absl::InfiniteFuture()).ok());
  EXPECT_EQ(StatsOf(store).bytes, 100u);
}

TEST(MemoryStoreTest, NullBlockIsInvalidArgument) {
  MemoryStore store({.capacity_bytes = 100});
  EXPECT_TRUE(absl::IsInvalidArgument(store.Put(Key(0), nullptr, absl::InfiniteFuture())));
}

TEST(MemoryStoreTest, DeleteReportsWhetherABlockWasThere) {
  MemoryStore store({.capacity_bytes = 1000});
  ASSERT_TRUE(store.Put(Key(0), Bytes(10), absl::InfiniteFuture()).ok());
  EXPECT_EQ(*store.Delete(Key(0)), true);
  EXPECT_EQ(*store.Delete(Key(0)), false);
  EXPECT_FALSE(store.Contains(Key(0)));
  EXPECT_EQ(StatsOf(store).bytes, 0u);
}

TEST(MemoryStoreTest, ExpiredBlocksAreInvisibleAndDropped) {
  testing::TestClock clock;
  MemoryStore store({.capacity_bytes = 1000, .clock = clock.AsFunction()});
  ASSERT_TRUE(store.Put(Key(0), Bytes(10), clock.Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(store.Put(Key(1), Bytes(10), absl::InfiniteFuture()).ok());
  clock.Advance(absl::Seconds(9));
  EXPECT_TRUE(store.Contains(Key(0)));
  absl::StatusOr<StoredBlock> block = store.GetWithExpiry(Key(0));
  ASSERT_TRUE(block.ok());
  EXPECT_EQ(block->expires_at, clock.Now() + absl::Seconds(1));

  clock.Advance(absl::Seconds(1));  // expiry is inclusive
  EXPECT_FALSE(store.Contains(Key(0)));
  EXPECT_TRUE(absl::IsNotFound(store.Get(Key(0)).status()));
  EXPECT_TRUE(store.Contains(Key(1)));
  const TierStats stats = StatsOf(store);
  EXPECT_EQ(stats.expirations, 1u);
  EXPECT_EQ(stats.blocks, 1u);
  EXPECT_EQ(stats.bytes, 14u);
}

TEST(MemoryStoreTest, PeriodicSweepDropsExpiredBlocksNobodyReads) {
  testing::TestClock clock;
  MemoryStore store({.capacity_bytes = 100000,
                     .num_shards = 1,
                     .clock = clock.AsFunction(),
                     .sweep_interval = absl::Seconds(5)});
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(store.Put(Key(i), Bytes(10), clock.Now() + absl::Seconds(1)).ok());
  }
  clock.Advance(absl::Seconds(6));
  ASSERT_TRUE(store.Put(Key(100), Bytes(10), absl::InfiniteFuture()).ok());
  const TierStats stats = StatsOf(store);
  EXPECT_EQ(stats.blocks, 1u);
  EXPECT_EQ(stats.expirations, 20u);
}

TEST(MemoryStoreTest, AlreadyExpiredPutStoresNothing) {
  testing::TestClock clock;
  MemoryStore store({.capacity_bytes = 1000, .clock = clock.AsFunction()});
  ASSERT_TRUE(store.Put(Key(0), Bytes(10), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(store.Put(Key(0), Bytes(10), clock.Now()).ok());
  EXPECT_FALSE(store.Contains(Key(0)));
  EXPECT_EQ(StatsOf(store).bytes, 0u);
}

TEST(MemoryStoreTest, EvictionCallbackSeesEvictedBlocksOnly) {
  testing::TestClock clock;
  std::vector<std::pair<BlockKey, absl::Time>> evicted;
  MemoryStore store(
      {.capacity_bytes = 200,
       .num_shards = 1,
       .clock = clock.AsFunction(),
       .on_evict = [&](const BlockKey& key, const BlockBytes& bytes, absl::Time expires_at) {
         EXPECT_EQ(bytes->size(), 96u);
         evicted.emplace_back(key, expires_at);
       }});
  const absl::Time expiry = clock.Now() + absl::Hours(1);
  ASSERT_TRUE(store.Put(Key(0), Bytes(96), expiry).ok());
  ASSERT_TRUE(store.Put(Key(1), Bytes(96), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(store.Put(Key(1), Bytes(96), absl::InfiniteFuture()).ok());  // replace: no callback
  ASSERT_TRUE(store.Put(Key(2), Bytes(96), absl::InfiniteFuture()).ok());  // evicts k0
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted[0].first, Key(0));
  EXPECT_EQ(evicted[0].second, expiry);

  ASSERT_TRUE(store.Delete(Key(1)).ok());  // delete: no callback
  ASSERT_TRUE(store.Put(Key(3), Bytes(96), clock.Now() + absl::Seconds(1)).ok());
  clock.Advance(absl::Seconds(2));
  // k2 is the LRU block and is evicted; expired k3 is swept without the callback.
  ASSERT_TRUE(store.Put(Key(4), Bytes(96), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(store.Put(Key(5), Bytes(96), absl::InfiniteFuture()).ok());
  ASSERT_EQ(evicted.size(), 1u + 1u);
  EXPECT_EQ(evicted[1].first, Key(2));
  EXPECT_EQ(StatsOf(store).expirations, 1u);
}

// Random puts, gets, deletes and expiries against a model of which blocks exist: the budget
// is never exceeded and the stored bytes always match the blocks present.
TEST(MemoryStoreTest, BudgetNeverExceededUnderRandomOps) {
  const uint32_t seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::mt19937 rng(seed);
  testing::TestClock clock;
  constexpr uint64_t kCapacity = 10'000;
  MemoryStore store({.capacity_bytes = kCapacity,
                     .num_shards = 8,
                     .clock = clock.AsFunction(),
                     .sweep_interval = absl::Seconds(3)});
  std::map<int, size_t> value_size;  // last value size put per key
  for (int op = 0; op < 20'000; ++op) {
    const int k = std::uniform_int_distribution<int>(0, 99)(rng);
    switch (std::uniform_int_distribution<int>(0, 9)(rng)) {
      case 0:
      case 1:
      case 2:
      case 3: {
        const size_t size = std::uniform_int_distribution<size_t>(0, 2'500)(rng);
        const absl::Time expiry = std::bernoulli_distribution(0.2)(rng)
                                      ? clock.Now() + absl::Seconds(rng() % 10)
                                      : absl::InfiniteFuture();
        const absl::Status status = store.Put(Key(k), Bytes(size), expiry);
        ASSERT_TRUE(status.ok()) << status;
        value_size[k] = size;
        break;
      }
      case 4:
      case 5:
      case 6: {
        absl::StatusOr<BlockBytes> got = store.Get(Key(k));
        if (got.ok()) {
          EXPECT_EQ((*got)->size(), value_size[k]);
        } else {
          EXPECT_TRUE(absl::IsNotFound(got.status())) << got.status();
        }
        break;
      }
      case 7:
        ASSERT_TRUE(store.Delete(Key(k)).ok());
        break;
      case 8:
        store.Contains(Key(k));
        break;
      case 9:
        clock.Advance(absl::Seconds(1));
        break;
    }
    const TierStats stats = StatsOf(store);
    ASSERT_LE(stats.bytes, kCapacity) << "after op " << op;
  }
  uint64_t expected_bytes = 0;
  uint64_t expected_blocks = 0;
  clock.Advance(absl::Seconds(0));
  for (int k = 0; k < 100; ++k) {
    if (store.Contains(Key(k))) {
      expected_bytes += 2 + Key(k).key.size() + value_size[k];
      ++expected_blocks;
    }
  }
  const TierStats stats = StatsOf(store);
  EXPECT_EQ(stats.bytes, expected_bytes);
  EXPECT_EQ(stats.blocks, expected_blocks);
  EXPECT_GT(stats.evictions, 0u);
}

}  // namespace
}  // namespace gearkv::store
