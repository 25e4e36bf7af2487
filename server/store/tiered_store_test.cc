#include "gearkv/store/tiered_store.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gearkv/store/disk_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_clock.h"

namespace gearkv::store {
namespace {

BlockBytes Bytes(size_t n, char fill = 'x') { return std::make_shared<const std::string>(n, fill); }
BlockKey Key(int i) { return BlockKey{"ns", absl::StrCat("k", i)}; }

// A memory tier with room for three blocks of Bytes(96) over a 1 MiB disk tier. `memory_` and
// `disk_` stay valid while `store_` lives.
class TieredStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("gearkv_tiered_", info->name(), "_", ::getpid());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Build(LowerTierPolicy policy) {
    auto memory = std::make_unique<MemoryStore>(
        MemoryStoreOptions{.capacity_bytes = 300, .num_shards = 4, .clock = clock_.AsFunction()});
    absl::StatusOr<std::unique_ptr<DiskStore>> disk = DiskStore::Open(
        {.path = dir_.string(), .capacity_bytes = 1 << 20, .clock = clock_.AsFunction()});
    ASSERT_TRUE(disk.ok()) << disk.status();
    memory_ = memory.get();
    disk_ = disk->get();
    store_ = std::make_unique<TieredStore>(std::move(memory), *std::move(disk),
                                           TieredStoreOptions{.policy = policy});
  }

  testing::TestClock clock_;
  std::filesystem::path dir_;
  MemoryStore* memory_ = nullptr;
  DiskStore* disk_ = nullptr;
  std::unique_ptr<TieredStore> store_;
};

TEST(LowerTierPolicyTest, ParsesNames) {
  EXPECT_EQ(*ParseLowerTierPolicy("write_through"), LowerTierPolicy::kWriteThrough);
  EXPECT_EQ(*ParseLowerTierPolicy("spill_on_evict"), LowerTierPolicy::kSpillOnEvict);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseLowerTierPolicy("fifo").status()));
  EXPECT_EQ(LowerTierPolicyName(LowerTierPolicy::kSpillOnEvict), "spill_on_evict");
}

TEST(TieredStoreMemoryOnlyTest, WorksWithoutALowerTier) {
  TieredStore store(std::make_unique<MemoryStore>(MemoryStoreOptions{.capacity_bytes = 300}),
                    nullptr, {});
  ASSERT_TRUE(store.Put(Key(1), Bytes(10), absl::InfiniteFuture()).ok());
  EXPECT_EQ((*store.Get(Key(1)))->size(), 10u);
  EXPECT_TRUE(absl::IsNotFound(store.Get(Key(2)).status()));
  EXPECT_TRUE(absl::IsResourceExhausted(store.Put(Key(3), Bytes(400), absl::InfiniteFuture())));
  EXPECT_EQ(*store.Delete(Key(1)), true);
  ASSERT_EQ(store.Stats().size(), 1u);
}

TEST_F(TieredStoreTest, WriteThroughWritesBothTiersAndPromotesDiskHits) {
  Build(LowerTierPolicy::kWriteThrough);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(store_->Put(Key(i), Bytes(96, 'a' + i), absl::InfiniteFuture()).ok());
    EXPECT_TRUE(disk_->Contains(Key(i)));
  }
  EXPECT_FALSE(memory_->Contains(Key(0)));  // evicted from memory, still on disk
  EXPECT_TRUE(store_->Contains(Key(0)));

  absl::StatusOr<BlockBytes> got = store_->Get(Key(0));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(**got, std::string(96, 'a'));
  EXPECT_TRUE(memory_->Contains(Key(0)));   // promoted
  EXPECT_FALSE(memory_->Contains(Key(1)));  // and k1 made room for it

  const std::vector<TierStats> stats = store_->Stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].tier, "memory");
  EXPECT_EQ(stats[1].tier, "disk");
  EXPECT_EQ(stats[1].blocks, 4u);
  EXPECT_EQ(stats[1].hits, 1u);
  EXPECT_EQ(stats[0].misses, 1u);
}

TEST_F(TieredStoreTest, SpillOnEvictSpillsEvictedBlocksAndPromotesThemBack) {
  Build(LowerTierPolicy::kSpillOnEvict);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_->Put(Key(i), Bytes(96, 'a' + i), absl::InfiniteFuture()).ok());
  }
  EXPECT_EQ(disk_->Stats()[0].blocks, 0u);  // memory only so far
  ASSERT_TRUE(store_->Put(Key(3), Bytes(96, 'd'), absl::InfiniteFuture()).ok());
  EXPECT_FALSE(memory_->Contains(Key(0)));
  EXPECT_TRUE(disk_->Contains(Key(0)));  // spilled
  EXPECT_EQ(disk_->Stats()[0].blocks, 1u);

  absl::StatusOr<BlockBytes> got = store_->Get(Key(0));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(**got, std::string(96, 'a'));
  EXPECT_TRUE(memory_->Contains(Key(0)));
  EXPECT_TRUE(disk_->Contains(Key(1)));  // evicted by the promotion, spilled in turn
  EXPECT_EQ(store_->spill_failures(), 0u);
}

TEST_F(TieredStoreTest, SpillOnEvictPutRemovesStaleDiskCopy) {
  Build(LowerTierPolicy::kSpillOnEvict);
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(store_->Put(Key(i), Bytes(96, 'a'), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(disk_->Contains(Key(0)));
  ASSERT_TRUE(store_->Put(Key(0), Bytes(96, 'z'), absl::InfiniteFuture()).ok());
  EXPECT_FALSE(disk_->Contains(Key(0)));
  EXPECT_EQ(**store_->Get(Key(0)), std::string(96, 'z'));
}

TEST_F(TieredStoreTest, DeleteRemovesFromEveryTier) {
  for (LowerTierPolicy policy : {LowerTierPolicy::kWriteThrough, LowerTierPolicy::kSpillOnEvict}) {
    SCOPED_TRACE(LowerTierPolicyName(policy));
    store_.reset();
    std::filesystem::remove_all(dir_);
    Build(policy);
    for (int i = 0; i < 4; ++i)
      ASSERT_TRUE(store_->Put(Key(i), Bytes(96), absl::InfiniteFuture()).ok());
    ASSERT_TRUE(store_->Get(Key(0)).ok());  // k0 now in memory and on disk under both policies
    EXPECT_EQ(*store_->Delete(Key(0)), true);
    EXPECT_FALSE(store_->Contains(Key(0)));
    EXPECT_FALSE(memory_->Contains(Key(0)));
    EXPECT_FALSE(disk_->Contains(Key(0)));
    EXPECT_TRUE(absl::IsNotFound(store_->Get(Key(0)).status()));
    EXPECT_EQ(*store_->Delete(Key(0)), false);
  }
}

TEST_F(TieredStoreTest, BlockTooLargeForMemoryGoesToDiskAlone) {
  for (LowerTierPolicy policy : {LowerTierPolicy::kWriteThrough, LowerTierPolicy::kSpillOnEvict}) {
    SCOPED_TRACE(LowerTierPolicyName(policy));
    store_.reset();
    std::filesystem::remove_all(dir_);
    Build(policy);
    ASSERT_TRUE(store_->Put(Key(1), Bytes(10, 'a'), absl::InfiniteFuture()).ok());
    ASSERT_TRUE(store_->Put(Key(1), Bytes(5000, 'b'), absl::InfiniteFuture()).ok());
    EXPECT_FALSE(memory_->Contains(Key(1)));  // the old small version is gone from memory
    EXPECT_EQ(**store_->Get(Key(1)), std::string(5000, 'b'));
    EXPECT_TRUE(
        absl::IsResourceExhausted(store_->Put(Key(2), Bytes(2 << 20), absl::InfiniteFuture())));
  }
}

TEST_F(TieredStoreTest, PromotionKeepsTheExpiry) {
  Build(LowerTierPolicy::kWriteThrough);
  const absl::Time expiry = clock_.Now() + absl::Seconds(30);
  ASSERT_TRUE(store_->Put(Key(0), Bytes(96), expiry).ok());
  for (int i = 1; i < 4; ++i)
    ASSERT_TRUE(store_->Put(Key(i), Bytes(96), absl::InfiniteFuture()).ok());
  ASSERT_FALSE(memory_->Contains(Key(0)));
  absl::StatusOr<StoredBlock> block = store_->GetWithExpiry(Key(0));
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ(block->expires_at, expiry);
  EXPECT_EQ(memory_->GetWithExpiry(Key(0))->expires_at, expiry);
  clock_.Advance(absl::Seconds(30));
  EXPECT_FALSE(store_->Contains(Key(0)));
  EXPECT_TRUE(absl::IsNotFound(store_->Get(Key(0)).status()));
}

TEST_F(TieredStoreTest, RestartServesSpilledAndWrittenThroughBlocks) {
  Build(LowerTierPolicy::kWriteThrough);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(store_->Put(Key(i), Bytes(96, 'a' + i), absl::InfiniteFuture()).ok());
  store_.reset();
  Build(LowerTierPolicy::kWriteThrough);
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<BlockBytes> got = store_->Get(Key(i));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(**got, std::string(96, 'a' + i));
  }
}

}  // namespace
}  // namespace gearkv::store
