#include "gearkv/store/disk_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "disk_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "test_clock.h"

namespace gearkv::store {
namespace {

using ::testing::HasSubstr;

BlockBytes Bytes(size_t n, char fill = 'x') { return std::make_shared<const std::string>(n, fill); }
BlockKey Key(int i) { return BlockKey{"ns", absl::StrCat("k", i)}; }

class DiskStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("gearkv_disk_", info->name(), "_", ::getpid());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  DiskStoreOptions Options(uint64_t capacity = 1 << 20) {
    return DiskStoreOptions{
        .path = dir_.string(), .capacity_bytes = capacity, .clock = clock_.AsFunction()};
  }
  std::unique_ptr<DiskStore> OpenStore(uint64_t capacity = 1 << 20) {
    absl::StatusOr<std::unique_ptr<DiskStore>> store = DiskStore::Open(Options(capacity));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  // Rewrites the stored row of `key` through a raw RocksDB handle (the store must be closed).
  void RewriteBlockRow(const BlockKey& key, const std::function<void(std::string&)>& edit) {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const std::string row_key = internal::BlockRowKey(internal::EncodeKeyBody(key));
    std::string row;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), row_key, &row).ok());
    edit(row);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), row_key, row).ok());
  }
  static TierStats StatsOf(DiskStore& store) { return store.Stats().at(0); }

  std::filesystem::path dir_;
  testing::TestClock clock_;
};

TEST_F(DiskStoreTest, RoundTripContainsDelete) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Put(Key(1), Bytes(1000, 'a'), absl::InfiniteFuture()).ok());
  absl::StatusOr<BlockBytes> got = store->Get(Key(1));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(**got, std::string(1000, 'a'));
  EXPECT_TRUE(store->Contains(Key(1)));
  EXPECT_TRUE(absl::IsNotFound(store->Get(Key(2)).status()));
  EXPECT_FALSE(store->Contains(Key(2)));

  TierStats stats = StatsOf(*store);
  EXPECT_EQ(stats.tier, "disk");
  EXPECT_EQ(stats.blocks, 1u);
  EXPECT_EQ(stats.bytes, 4u + 1000u);
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);

  EXPECT_EQ(*store->Delete(Key(1)), true);
  EXPECT_EQ(*store->Delete(Key(1)), false);
  EXPECT_FALSE(store->Contains(Key(1)));
  EXPECT_EQ(StatsOf(*store).bytes, 0u);
}

TEST_F(DiskStoreTest, NamespacesAreLengthPrefixed) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Put({"ab", "c"}, Bytes(1, '1'), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(store->Put({"a", "bc"}, Bytes(1, '2'), absl::InfiniteFuture()).ok());
  EXPECT_EQ(**store->Get({"ab", "c"}), "1");
  EXPECT_EQ(**store->Get({"a", "bc"}), "2");
}

TEST_F(DiskStoreTest, ReplaceKeepsOneBlock) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Put(Key(1), Bytes(100, 'a'), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(store->Put(Key(1), Bytes(50, 'b'), absl::InfiniteFuture()).ok());
  EXPECT_EQ(**store->Get(Key(1)), std::string(50, 'b'));
  EXPECT_EQ(StatsOf(*store).blocks, 1u);
  EXPECT_EQ(StatsOf(*store).bytes, 54u);
}

TEST_F(DiskStoreTest, BudgetEvictsOldestWrittenFirst) {
  auto store = OpenStore(/*capacity=*/300);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store->Put(Key(i), Bytes(96), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(store->Get(Key(0)).ok());  // reads do not matter: first in, first out
  ASSERT_TRUE(store->Put(Key(3), Bytes(96), absl::InfiniteFuture()).ok());
  EXPECT_FALSE(store->Contains(Key(0)));
  EXPECT_TRUE(store->Contains(Key(1)));
  // Rewriting k1 makes it the newest: k2 goes next.
  ASSERT_TRUE(store->Put(Key(1), Bytes(96), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(store->Put(Key(4), Bytes(96), absl::InfiniteFuture()).ok());
  EXPECT_FALSE(store->Contains(Key(2)));
  EXPECT_TRUE(store->Contains(Key(1)));
  const TierStats stats = StatsOf(*store);
  EXPECT_EQ(stats.bytes, 300u);
  EXPECT_EQ(stats.evictions, 2u);

  const absl::Status too_large = store->Put(Key(9), Bytes(297), absl::InfiniteFuture());
  EXPECT_TRUE(absl::IsResourceExhausted(too_large)) << too_large;
  EXPECT_THAT(too_large.message(), HasSubstr("301 bytes"));
  EXPECT_EQ(StatsOf(*store).blocks, 3u);  // nothing evicted for it
}

TEST_F(DiskStoreTest, ReopenServesEverythingAcknowledged) {
  const absl::Time expiry = clock_.Now() + absl::Hours(1);
  {
    auto store = OpenStore();
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(
          store->Put(Key(i), Bytes(100 + i, 'a' + i), i % 2 ? expiry : absl::InfiniteFuture())
              .ok());
    }
    ASSERT_TRUE(store->Delete(Key(3)).ok());
  }
  auto store = OpenStore();
  EXPECT_EQ(StatsOf(*store).blocks, 19u);
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<StoredBlock> block = store->GetWithExpiry(Key(i));
    if (i == 3) {
      EXPECT_TRUE(absl::IsNotFound(block.status()));
      continue;
    }
    ASSERT_TRUE(block.ok()) << i << ": " << block.status();
    EXPECT_EQ(*block->bytes, std::string(100 + i, 'a' + i));
    EXPECT_EQ(block->expires_at, i % 2 ? expiry : absl::InfiniteFuture());
  }
  // Insertion order survives too: the oldest block (k0) is evicted first.
  ASSERT_TRUE(store
                  ->Put(Key(99), Bytes(StatsOf(*store).capacity_bytes - StatsOf(*store).bytes),
                        absl::InfiniteFuture())
                  .ok());
  EXPECT_FALSE(store->Contains(Key(0)));
  EXPECT_TRUE(store->Contains(Key(1)));
}

TEST_F(DiskStoreTest, AcknowledgedPutsSurviveAProcessKill) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child opens the store, writes, and dies without closing anything.
    absl::StatusOr<std::unique_ptr<DiskStore>> store = DiskStore::Open(Options());
    if (!store.ok()) std::_Exit(2);
    for (int i = 0; i < 10; ++i) {
      if (!(*store)->Put(Key(i), Bytes(1000, 'a' + i), absl::InfiniteFuture()).ok()) std::_Exit(3);
    }
    std::_Exit(0);  // no destructors, no flush: like SIGKILL after the last Put returned
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus));
  ASSERT_EQ(WEXITSTATUS(wstatus), 0);

  auto store = OpenStore();
  EXPECT_EQ(StatsOf(*store).blocks, 10u);
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<BlockBytes> got = store->Get(Key(i));
    ASSERT_TRUE(got.ok()) << i << ": " << got.status();
    EXPECT_EQ(**got, std::string(1000, 'a' + i));
  }
}

TEST_F(DiskStoreTest, SyncAlwaysAcknowledgesDurableWritesFromManyThreads) {
  {
    DiskStoreOptions options = Options();
    options.sync = DiskSync::kAlways;
    absl::StatusOr<std::unique_ptr<DiskStore>> store = DiskStore::Open(std::move(options));
    ASSERT_TRUE(store.ok()) << store.status();
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) {
      writers.emplace_back([&store, t] {
        for (int i = t * 25; i < (t + 1) * 25; ++i) {
          EXPECT_TRUE((*store)->Put(Key(i), Bytes(500, 'a' + i % 26), absl::InfiniteFuture()).ok());
        }
      });
    }
    for (std::thread& writer : writers) writer.join();
    EXPECT_EQ(*(*store)->Delete(Key(7)), true);
  }
  auto store = OpenStore();
  EXPECT_EQ(StatsOf(*store).blocks, 99u);
  EXPECT_TRUE(absl::IsNotFound(store->Get(Key(7)).status()));
  EXPECT_EQ(**store->Get(Key(42)), std::string(500, 'a' + 42 % 26));
}

TEST_F(DiskStoreTest, CorruptBlockIsDataLossAndDropped) {
  {
    auto store = OpenStore();
    ASSERT_TRUE(store->Put(Key(1), Bytes(500, 'a'), absl::InfiniteFuture()).ok());
    ASSERT_TRUE(store->Put(Key(2), Bytes(500, 'b'), absl::InfiniteFuture()).ok());
  }
  RewriteBlockRow(Key(1), [](std::string& row) { row[internal::kRecordHeaderSize + 7] ^= 0x20; });
  RewriteBlockRow(Key(2), [](std::string& row) { row.resize(row.size() - 1); });
  {
    auto store = OpenStore();
    ASSERT_TRUE(store->Contains(Key(1)));  // not read yet
    absl::StatusOr<BlockBytes> got = store->Get(Key(1));
    EXPECT_TRUE(absl::IsDataLoss(got.status())) << got.status();
    EXPECT_THAT(got.status().message(), HasSubstr("checksum"));
    EXPECT_THAT(got.status().message(), HasSubstr("dropped"));
    EXPECT_FALSE(store->Contains(Key(1)));
    EXPECT_TRUE(absl::IsNotFound(store->Get(Key(1)).status()));

    got = store->Get(Key(2));
    EXPECT_TRUE(absl::IsDataLoss(got.status())) << got.status();
    EXPECT_THAT(got.status().message(), HasSubstr("header says 500"));
    EXPECT_EQ(StatsOf(*store).blocks, 0u);
    EXPECT_EQ(StatsOf(*store).bytes, 0u);
  }
  auto store = OpenStore();  // the drops were persisted
  EXPECT_EQ(StatsOf(*store).blocks, 0u);
}

TEST_F(DiskStoreTest, ExpiredBlocksAreInvisibleAndDroppedAtOpen) {
  {
    auto store = OpenStore();
    ASSERT_TRUE(store->Put(Key(1), Bytes(10), clock_.Now() + absl::Seconds(10)).ok());
    ASSERT_TRUE(store->Put(Key(2), Bytes(10), clock_.Now() + absl::Seconds(100)).ok());
    ASSERT_TRUE(store->Put(Key(3), Bytes(10), clock_.Now()).ok());  // already expired
    EXPECT_FALSE(store->Contains(Key(3)));
    clock_.Advance(absl::Seconds(10));
    EXPECT_FALSE(store->Contains(Key(1)));
    EXPECT_TRUE(absl::IsNotFound(store->Get(Key(1)).status()));
    EXPECT_EQ(StatsOf(*store).expirations, 1u);
    EXPECT_EQ(StatsOf(*store).blocks, 1u);
  }
  clock_.Advance(absl::Seconds(100));
  auto store = OpenStore();
  EXPECT_EQ(StatsOf(*store).blocks, 0u);
}

TEST_F(DiskStoreTest, ReopenWithASmallerBudgetDropsTheOldest) {
  {
    auto store = OpenStore(1000);
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(store->Put(Key(i), Bytes(196), absl::InfiniteFuture()).ok());
  }
  auto store = OpenStore(450);
  EXPECT_EQ(StatsOf(*store).bytes, 400u);
  EXPECT_FALSE(store->Contains(Key(2)));
  EXPECT_TRUE(store->Contains(Key(3)));
  EXPECT_TRUE(store->Contains(Key(4)));
}

TEST_F(DiskStoreTest, SecondOpenOfTheSameDirectoryFails) {
  auto store = OpenStore();
  absl::StatusOr<std::unique_ptr<DiskStore>> second = DiskStore::Open(Options());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr(dir_.string()));
}

TEST_F(DiskStoreTest, LargeBlocksGoToBlobFilesAndRoundTrip) {
  auto store = OpenStore(64 << 20);
  std::string payload(8 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 2654435761u >> 13);
  ASSERT_TRUE(
      store->Put(Key(1), std::make_shared<const std::string>(payload), absl::InfiniteFuture())
          .ok());
  store.reset();
  store = OpenStore(64 << 20);
  absl::StatusOr<BlockBytes> got = store->Get(Key(1));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(**got == payload);
}

}  // namespace
}  // namespace gearkv::store
