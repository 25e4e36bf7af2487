// Eight threads mixing Put, Get, Delete and Contains on every store, under budgets small enough
// that evictions (and spills) happen all the time. CI runs these under TSan too.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gearkv/store/disk_store.h"
#include "gearkv/store/memory_store.h"
#include "gearkv/store/tiered_store.h"
#include "gtest/gtest.h"

namespace gearkv::store {
namespace {

constexpr int kThreads = 8;

// Every value starts with its key's name, so a Get can tell it got the right block.
BlockBytes ValueFor(const BlockKey& key, size_t size) {
  auto value = std::make_shared<std::string>(key.key);
  value->resize(std::max(size, key.key.size()), '.');
  return value;
}

uint32_t Seed() {
  const uint32_t seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  return seed;
}

// Runs `ops` random operations per thread over a shared key space and checks, while they run,
// that the store's bytes never exceed `capacity`.
void Hammer(BlockStore& store, uint64_t capacity, int ops, int keys, size_t max_size) {
  const uint32_t seed = Seed();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread monitor([&] {
    while (!done.load()) {
      for (const TierStats& tier : store.Stats()) {
        if (tier.bytes > tier.capacity_bytes) failures.fetch_add(1);
      }
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed + t);
      for (int i = 0; i < ops; ++i) {
        const BlockKey key{absl::StrCat("ns", rng() % 2), absl::StrCat("key", rng() % keys)};
        switch (rng() % 4) {
          case 0: {
            const absl::Status status =
                store.Put(key, ValueFor(key, rng() % max_size), absl::InfiniteFuture());
            if (!status.ok()) {
              ADD_FAILURE() << status;
              failures.fetch_add(1);
            }
            break;
          }
          case 1: {
            absl::StatusOr<BlockBytes> got = store.Get(key);
            if (got.ok() ? (*got)->compare(0, key.key.size(), key.key) != 0
                         : !absl::IsNotFound(got.status())) {
              ADD_FAILURE() << "Get " << key.key << ": "
                            << (got.ok() ? (*got)->substr(0, 16) : got.status().ToString());
              failures.fetch_add(1);
            }
            break;
          }
          case 2:
            if (!store.Delete(key).ok()) failures.fetch_add(1);
            break;
          case 3:
            store.Contains(key);
            break;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  done.store(true);
  monitor.join();
  EXPECT_EQ(failures.load(), 0);
  for (const TierStats& tier : store.Stats()) {
    EXPECT_LE(tier.bytes, capacity) << tier.tier;
  }
}

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::path(::testing::TempDir()) /
            absl::StrCat("gearkv_conc_", info->name(), "_", ::getpid());
    std::filesystem::remove_all(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(StoreConcurrencyTest, MemoryStore) {
  MemoryStore store({.capacity_bytes = 64 << 10, .num_shards = 8});
  Hammer(store, 64 << 10, 20'000, 200, 4096);
  EXPECT_GT(store.Stats()[0].evictions, 0u);
}

TEST(StoreConcurrencyTest, DiskStore) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<DiskStore>> store =
      DiskStore::Open({.path = dir.path(), .capacity_bytes = 64 << 10});
  ASSERT_TRUE(store.ok()) << store.status();
  Hammer(**store, 64 << 10, 1'500, 100, 4096);
}

// Group commit: writers waiting for one another's fsync.
TEST(StoreConcurrencyTest, DiskStoreSyncAlways) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<DiskStore>> store =
      DiskStore::Open({.path = dir.path(), .capacity_bytes = 64 << 10, .sync = DiskSync::kAlways});
  ASSERT_TRUE(store.ok()) << store.status();
  Hammer(**store, 64 << 10, 300, 100, 4096);
}

TEST(StoreConcurrencyTest, TieredStoreBothPolicies) {
  for (LowerTierPolicy policy : {LowerTierPolicy::kWriteThrough, LowerTierPolicy::kSpillOnEvict}) {
    SCOPED_TRACE(LowerTierPolicyName(policy));
    TempDir dir;
    absl::StatusOr<std::unique_ptr<DiskStore>> disk =
        DiskStore::Open({.path = dir.path(), .capacity_bytes = 256 << 10});
    ASSERT_TRUE(disk.ok()) << disk.status();
    TieredStore store(std::make_unique<MemoryStore>(
                          MemoryStoreOptions{.capacity_bytes = 32 << 10, .num_shards = 4}),
                      *std::move(disk), {.policy = policy});
    Hammer(store, 256 << 10, 1'500, 150, 4096);
  }
}

// Each thread owns its keys and deletes some of them while other threads' Puts evict and spill
// them: a deleted key must never come back from a spill, and a kept one must read back intact.
TEST(StoreConcurrencyTest, SpillNeverUndoesADelete) {
  const uint32_t seed = Seed();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  TempDir dir;
  absl::StatusOr<std::unique_ptr<DiskStore>> disk =
      DiskStore::Open({.path = dir.path(), .capacity_bytes = 64 << 20});
  ASSERT_TRUE(disk.ok()) << disk.status();
  TieredStore store(std::make_unique<MemoryStore>(
                        MemoryStoreOptions{.capacity_bytes = 16 << 10, .num_shards = 4}),
                    *std::move(disk), {.policy = LowerTierPolicy::kSpillOnEvict});
  constexpr int kKeysPerThread = 150;
  std::vector<std::vector<bool>> deleted(kThreads, std::vector<bool>(kKeysPerThread, false));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed + t);
      for (int i = 0; i < kKeysPerThread; ++i) {
        const BlockKey key{"ns", absl::StrCat("t", t, "k", i)};
        ASSERT_TRUE(
            store.Put(key, ValueFor(key, 1024 + rng() % 1024), absl::InfiniteFuture()).ok());
        if (rng() % 2 == 0) {
          // Delete an earlier key of ours, likely mid-eviction by now.
          const int victim = static_cast<int>(rng() % (i + 1));
          ASSERT_TRUE(store.Delete({"ns", absl::StrCat("t", t, "k", victim)}).ok());
          deleted[t][victim] = true;
          ASSERT_FALSE(store.Contains({"ns", absl::StrCat("t", t, "k", victim)}));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kKeysPerThread; ++i) {
      const BlockKey key{"ns", absl::StrCat("t", t, "k", i)};
      absl::StatusOr<BlockBytes> got = store.Get(key);
      if (deleted[t][i]) {
        EXPECT_TRUE(absl::IsNotFound(got.status())) << key.key << " came back after Delete";
      } else {
        ASSERT_TRUE(got.ok()) << key.key << ": " << got.status();
        EXPECT_EQ((*got)->compare(0, key.key.size(), key.key), 0);
      }
    }
  }
  EXPECT_EQ(store.spill_failures(), 0u);
}

}  // namespace
}  // namespace gearkv::store
